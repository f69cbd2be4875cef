from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import path

admin.site.site_header = "Social ROI"
admin.site.site_title = "Social ROI"
admin.site.index_title = "Sales and marketing"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("login/", auth_views.LoginView.as_view(template_name="reports/login.html"), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
]
