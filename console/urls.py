"""URL configuration of the console."""
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from console import views
from console.api_docs import ApiDocsView
from console.logins import LoginForm

handler403 = "console.errors.permission_denied"
handler404 = views.not_found
handler500 = "console.errors.server_error"

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("favicon.ico", views.favicon),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True, authentication_form=LoginForm), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("audit/", views.audit_trail, name="audit-trail"),
    path("audit/export.csv", views.audit_export, name="audit-export"),
    path("audit/", include("console.audit_urls")),
    path("operations/", views.operations, name="operations"),
    path("logins/locked/", views.login_lockouts, name="login-lockouts"),
    path("logins/locked/unlock/", views.login_unlock_view, name="login-unlock"),
    path("people/", views.people_list, name="people"),
    path("people/<int:pk>/", views.person_detail, name="person"),
    path("people/<int:pk>/roles/", views.person_change, name="person-change"),
    path("people/<int:pk>/password-reset/", views.person_password_reset, name="person-password-reset"),
    path("people/grants/", views.grant_propose, name="grant-propose"),
    path("people/grants/<int:pk>/confirm/", views.grant_decide, {"decision": "confirm"}, name="grant-confirm"),
    path("people/grants/<int:pk>/cancel/", views.grant_decide, {"decision": "cancel"}, name="grant-cancel"),
    path("sources/", include("evidence.urls")),
    path("evidence/packets/", include("evidence.packets.urls")),
    path("evidence/candidates/", include("evidence.candidates.urls")),
    path("evidence/", include("evidence.flags.urls")),
    path("promotions/", include("promotion.urls")),
    path("runs/", include("deliverables.urls")),
    path("reconciliation/", include("deliverables.reconciliation.urls")),
    path("deliverables/", include("deliverables.workbooks.urls")),
    path("scope/", include("deliverables.scope.urls")),
    path("consumers/", include("deliverables.consumers.urls")),
    path("provenance/", include("deliverables.provenance.search_urls")),
    path("publications/", include("deliverables.publication.urls")),
    path("admin/", admin.site.urls),
    path("api/", include("console.api.urls")),
    path("api/", include("evidence.api.urls")),
    path("api/", include("promotion.api.urls")),
    path("api/", include("deliverables.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", ApiDocsView.as_view(url_name="api-schema"), name="api-docs"),
]
