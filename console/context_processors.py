"""Template context shared by every page of the console."""
from django.conf import settings


def console(request):
    return {
        "console_env": settings.DJANGO_ENV,
        "request_id": getattr(request, "request_id", ""),
    }
