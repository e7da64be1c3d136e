"""Pages of the promotion app (mounted at /promotions/)."""

from django.urls import path

from promotion import views

app_name = "promotion"
urlpatterns = [
    path("", views.request_list, name="request-list"),
    path("new/", views.request_new, name="request-new"),
    path("<int:pk>/", views.request_detail, name="request-detail"),
    path("<int:pk>/progress/", views.request_progress, name="request-progress"),
    path("<int:pk>/live/", views.request_live, name="request-live"),
    path("<int:pk>/recheck/", views.request_recheck, name="request-recheck"),
    path("<int:pk>/approve/", views.request_approve, name="request-approve"),
    path("<int:pk>/reject/", views.request_reject, name="request-reject"),
    path("<int:pk>/cancel/", views.request_cancel, name="request-cancel"),
    path("<int:pk>/flaws/disposition/", views.flaw_disposition, name="flaw-disposition"),
    path("<int:pk>/flaws/withdraw/", views.flaw_withdraw, name="flaw-withdraw"),
    path("<int:pk>/drift/", views.drift_acknowledge, name="drift-acknowledge"),
    path("curated/", views.registry, name="registry"),
    # Keys are Domo dataset ids or "golden:<card id>": no "/" in either, so str (which stops at "/") fits.
    path("curated/<str:key>/", views.registry_versions, name="registry-versions"),
    path("curated/<str:key>/rollback/", views.registry_rollback, name="registry-rollback"),
]
