
import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

# The audit trail is append-only in the database too. Only a superuser can get past these
# triggers (session_replication_role = replica, or dropping them); verify_audit_chain and the
# heads it records in the lake detect what such a session changes.
APPEND_ONLY_SQL = """
CREATE FUNCTION console_auditevent_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'console_auditevent is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'Audit events are never changed or removed; record a new event instead.';
END;
$$;
CREATE TRIGGER console_auditevent_no_update_delete
    BEFORE UPDATE OR DELETE ON console_auditevent
    FOR EACH ROW EXECUTE FUNCTION console_auditevent_append_only();
CREATE TRIGGER console_auditevent_no_truncate
    BEFORE TRUNCATE ON console_auditevent
    FOR EACH STATEMENT EXECUTE FUNCTION console_auditevent_append_only();
"""

DROP_APPEND_ONLY_SQL = """
DROP TRIGGER IF EXISTS console_auditevent_no_truncate ON console_auditevent;
DROP TRIGGER IF EXISTS console_auditevent_no_update_delete ON console_auditevent;
DROP FUNCTION IF EXISTS console_auditevent_append_only();
"""


def install_append_only_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(APPEND_ONLY_SQL, params=None)


def remove_append_only_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_APPEND_ONLY_SQL, params=None)


class Migration(migrations.Migration):

    dependencies = [
        ('console', '0001_initial'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='AuditEvent',
            fields=[
                ('seq', models.BigIntegerField(primary_key=True, serialize=False)),
                ('occurred_at', models.DateTimeField()),
                ('actor_label', models.CharField(max_length=200)),
                ('action', models.CharField(max_length=100)),
                ('object_type', models.CharField(max_length=100)),
                ('object_id', models.CharField(max_length=255)),
                ('before', models.JSONField(blank=True, null=True)),
                ('after', models.JSONField(blank=True, null=True)),
                ('correlation_id', models.CharField(max_length=128)),
                ('prev_hash', models.CharField(max_length=64)),
                ('hash', models.CharField(max_length=64)),
                ('actor', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'get_latest_by': 'seq',
                'default_permissions': (),
                'indexes': [models.Index(fields=['actor_label', 'seq'], name='console_audit_actor_seq'), models.Index(fields=['action', 'seq'], name='console_audit_action_seq'), models.Index(fields=['object_type', 'object_id', 'seq'], name='console_audit_object_seq'), models.Index(fields=['correlation_id', 'seq'], name='console_audit_corr_seq'), models.Index(fields=['occurred_at'], name='console_audit_occurred')],
                'constraints': [models.UniqueConstraint(fields=('prev_hash',), name='console_auditevent_prev_hash_unique'), models.CheckConstraint(condition=models.Q(('seq__gte', 1)), name='console_auditevent_seq_positive')],
            },
        ),
        migrations.RunPython(install_append_only_triggers, remove_append_only_triggers, elidable=False),
    ]
