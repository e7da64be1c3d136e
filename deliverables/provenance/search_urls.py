"""The provenance search, mounted at /provenance/."""
from django.urls import path

from deliverables.provenance import views

app_name = "provenance"
urlpatterns = [
    path("", views.number_search, name="search"),
]
