from csp.constants import NONCE
from csp.decorators import csp_update
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from config import health
from reports.views import home

admin.site.site_header = "Social ROI"
admin.site.site_title = "Social ROI"
admin.site.index_title = "Sales and marketing"

# Swagger UI under the site's Content-Security-Policy: the split view serves its start-up script
# from a second request instead of inline; the page's one <style> block carries the request's
# nonce (templates/api/swagger_ui.html) and Swagger UI's stylesheet draws its icons from data: URIs.
# A person who opens the page logged out is sent to the login page and back (?next=), not shown a
# bare 401; the schema itself (/api/schema/) still answers 401 to anonymous API clients.
api_docs = login_required(
    csp_update({"style-src": [NONCE], "img-src": ["data:"]})(
        SpectacularSwaggerSplitView.as_view(
            url_name="api-schema", template_name="api/swagger_ui.html"
        )
    )
)

urlpatterns = [
    path("", home, name="home"),
    path("health/live/", health.live, name="health-live"),
    path("health/ready/", health.ready, name="health-ready"),
    path("admin/", admin.site.urls),
    path("reports/", include("reports.urls")),
    path("login/", auth_views.LoginView.as_view(template_name="reports/login.html"), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("api/v1/", include("config.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", api_docs, name="api-docs"),
]

handler404 = "config.api.not_found"
handler500 = "config.api.server_error"
