"""Promotion API, mounted under /api/."""

from django.urls import path

from promotion.api import views

urlpatterns = [
    path("promotions/", views.PromotionList.as_view(), name="api-promotion-list"),
    path("promotions/<int:pk>/", views.PromotionDetail.as_view(), name="api-promotion-detail"),
    path("promotions/<int:pk>/approve/", views.PromotionApprove.as_view(), name="api-promotion-approve"),
    path("promotions/<int:pk>/reject/", views.PromotionReject.as_view(), name="api-promotion-reject"),
    path("promotions/<int:pk>/cancel/", views.PromotionCancel.as_view(), name="api-promotion-cancel"),
    path("promotions/<int:pk>/recheck/", views.PromotionRecheck.as_view(), name="api-promotion-recheck"),
    path("promotions/<int:pk>/flaws/", views.PromotionFlaws.as_view(), name="api-promotion-flaws"),
    path(
        "manifests/<int:pk>/flaws-to-disposition/",
        views.ManifestFlaws.as_view(),
        name="api-promotion-manifest-flaws",
    ),
    path(
        "manifests/<int:pk>/dispositions/",
        views.DispositionSet.as_view(),
        name="api-promotion-disposition-set",
    ),
    path(
        "manifests/<int:pk>/dispositions/<str:fingerprint>/",
        views.DispositionClear.as_view(),
        name="api-promotion-disposition-clear",
    ),
    path(
        "datasets/<int:pk>/schema-drift-acknowledgements/",
        views.SchemaDriftAcknowledge.as_view(),
        name="api-promotion-schema-drift-acknowledge",
    ),
    path("curated/", views.CuratedList.as_view(), name="api-promotion-curated-list"),
    # Keys are Domo ids or golden:<card id>; <str:> takes anything but "/", ":" included.
    path(
        "curated/<str:key>/versions/", views.CuratedVersions.as_view(), name="api-promotion-curated-versions"
    ),
    path(
        "curated/<str:key>/rollback/", views.CuratedRollback.as_view(), name="api-promotion-curated-rollback"
    ),
]
