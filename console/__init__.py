"""The takeover console: Django project, shell, audit trail and lake storage."""
from console.celery import app as celery_app

__all__ = ("celery_app",)
