from django.apps import AppConfig


class PromotionConfig(AppConfig):
    name = "promotion"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from console.lake import audited
        from promotion.gates import register_curated_schema_source
        from promotion.services import curated_schema_from_registry

        # The schema gate compares each dataset with its current curated version (the registry).
        register_curated_schema_source(curated_schema_from_registry)
        # A lake file failing its hash check is audited whoever read it (snapshots the promotion loads among
        # them). The console app would be the natural home of this registration; the lake cannot do it
        # itself (the audit trail imports the lake).
        audited.register()
