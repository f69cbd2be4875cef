from django.urls import path

from connectors.views import capture, webhook

urlpatterns = [
    path("hooks/<slug:kind>/<str:key>/", webhook, name="connector-webhook"),
    path("capture/", capture, name="connector-capture"),
]
