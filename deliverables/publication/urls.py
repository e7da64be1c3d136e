"""Publication pages, mounted at /publications/."""
from django.urls import path

from deliverables.publication import views

app_name = "publications"
urlpatterns = [
    path("", views.publication_list, name="publication-list"),
    path("request/", views.publication_new, name="publication-new"),
    path("<int:pk>/", views.publication_detail, name="publication-detail"),
    path("<int:pk>/approve/", views.publication_approve, name="publication-approve"),
    path("<int:pk>/reject/", views.publication_reject, name="publication-reject"),
    path("<int:pk>/withdraw/", views.publication_withdraw, name="publication-withdraw"),
    path("<int:pk>/retract/", views.publication_retract, name="publication-retract"),
    path("<int:pk>/download/", views.publication_download, name="publication-download"),
]
