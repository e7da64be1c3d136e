"""Pages of candidate evidence from Domo, mounted at /evidence/candidates/."""

from django.urls import path

from evidence.candidates import views

app_name = "candidates"
urlpatterns = [
    path("", views.candidate_list, name="candidate-list"),
    path("register/", views.candidate_register_page, name="candidate-register"),
    path("<int:pk>/", views.candidate_detail, name="candidate-detail"),
]
