from django.urls import path

from reports import views

app_name = "reports"

urlpatterns = [
    path("", views.dashboard_view, name="dashboard"),
    path("attribution/", views.attribution_view, name="attribution"),
    path("campaigns/", views.campaign_list_view, name="campaigns"),
    path("campaigns/<int:pk>/", views.campaign_view, name="campaign"),
    path("export/<slug:table>.csv", views.export_csv, name="export"),
    path("paths/", views.paths_view, name="paths"),
    path("paths/export.csv", views.paths_csv, name="paths-csv"),
    path("payback/", views.payback_view, name="payback"),
    path("payback/export.csv", views.payback_csv, name="payback-csv"),
    path("saved/", views.saved_list, name="saved"),
    path("saved/generate/", views.saved_generate, name="saved-generate"),
    path("saved/<int:pk>/", views.saved_detail, name="saved-detail"),
    path("saved/<int:pk>/roi.csv", views.saved_csv, name="saved-csv"),
    path("saved/<int:pk>/delete/", views.saved_delete, name="saved-delete"),
    path("saved/<int:pk>/status/", views.saved_status, name="saved-status"),
    path("subscriptions/", views.subscriptions_view, name="subscriptions"),
]
