"""Pages of the evidence app: intake, source manifests and the Domo objects inside."""
app_name = "evidence"
urlpatterns: list = []
