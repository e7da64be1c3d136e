"""Database routing: every Django model lives in `default`.

The `curated` alias (CURATED_DATABASE_URL, by default the same database) holds promoted
datasets as versioned tables that the curated-load service creates itself; Django's
migrations never run there.
"""


class CuratedRouter:
    def allow_migrate(self, db, app_label, model_name=None, **hints):
        if db == "curated":
            return False
        return None
