from django.apps import AppConfig


class PromotionConfig(AppConfig):
    name = "promotion"
    default_auto_field = "django.db.models.BigAutoField"
