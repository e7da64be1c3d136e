"""Pages of evidence packets, mounted at /evidence/packets/."""

from django.urls import path

from evidence.packets import receipt_views, refusal_views, views

app_name = "packets"
urlpatterns = [
    path("", views.packet_list, name="packet-list"),
    path("receive/", receipt_views.packet_receive_page, name="packet-receive"),
    path("receipts/<int:pk>/", receipt_views.receipt_detail, name="receipt-detail"),
    path("refusals/", refusal_views.refusal_list, name="refusal-list"),
    path("refusals/<int:pk>/", refusal_views.refusal_detail, name="refusal-detail"),
    path("<int:pk>/", views.packet_detail, name="packet-detail"),
    path("<int:pk>/revisions/<int:number>/", views.packet_detail, name="revision-detail"),
    path("<int:pk>/revisions/<int:number>/verify/", views.revision_verify, name="revision-verify"),
    path("<int:pk>/revisions/<int:number>/withdraw/", views.revision_withdraw, name="revision-withdraw"),
    path("<int:pk>/revisions/<int:number>/documents/<int:index>/", views.document_download,
         name="document-download"),
]
