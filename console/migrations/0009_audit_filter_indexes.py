"""Indexes for the audit trail's filters: the actor prefix and, on PostgreSQL, the text in the details."""

from django.db import migrations, models

# The expression of console.filtersets.DETAILS_TEXT_SQL, upper-cased as DetailsContain compares it.
DETAILS_TRGM_INDEX = """
CREATE INDEX IF NOT EXISTS console_audit_details_trgm ON console_auditevent USING gin (
    (UPPER(COALESCE(CAST("before" AS TEXT), '') || ' ' || COALESCE(CAST("after" AS TEXT), ''))) gin_trgm_ops
)
"""


def create_details_index(apps, schema_editor):
    # pg_trgm is a trusted extension (PostgreSQL 13+): a role with CREATE on the database may create it.
    # Other backends search the details by scanning newest first until the page is full (no index).
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    schema_editor.execute(DETAILS_TRGM_INDEX)


def drop_details_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS console_audit_details_trgm")


class Migration(migrations.Migration):
    dependencies = [
        ("console", "0008_consumer_token_capability"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="auditevent",
            index=models.Index(
                fields=["actor_label", "seq"],
                name="console_audit_actor_prefix",
                opclasses=["varchar_pattern_ops", "int8_ops"],
            ),
        ),
        migrations.RunPython(create_details_index, drop_details_index, elidable=False),
    ]
