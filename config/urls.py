from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from reports.views import home

admin.site.site_header = "Social ROI"
admin.site.site_title = "Social ROI"
admin.site.index_title = "Sales and marketing"

urlpatterns = [
    path("", home, name="home"),
    path("admin/", admin.site.urls),
    path("reports/", include("reports.urls")),
    path("login/", auth_views.LoginView.as_view(template_name="reports/login.html"), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("api/v1/", include("config.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
]

handler404 = "config.api.not_found"
handler500 = "config.api.server_error"
