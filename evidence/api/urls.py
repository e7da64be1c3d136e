"""Evidence API, mounted under /api/."""
urlpatterns: list = []
