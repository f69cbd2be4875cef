from django.contrib import admin
from django.urls import path

admin.site.site_header = "Social ROI"
admin.site.site_title = "Social ROI"
admin.site.index_title = "Sales and marketing"

urlpatterns = [
    path("admin/", admin.site.urls),
]
