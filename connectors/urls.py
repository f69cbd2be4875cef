from django.urls import path

from connectors.views import webhook

urlpatterns = [
    path("hooks/<slug:kind>/<str:key>/", webhook, name="connector-webhook"),
]
