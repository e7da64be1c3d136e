"""occurred_at never decreases along the chain: the clock's own reading when it lagged, an index that
turns a time into a seq, and (PostgreSQL) a trigger that refuses an insert stamped before its predecessor.
"""

from django.db import migrations, models

# SQL Server equivalent (not exercised here): an INSTEAD OF INSERT trigger comparing inserted.occurred_at
# with the row at inserted.seq - 1 and THROWing, like the append-only triggers noted in 0002.
TIME_FOLLOWS_SEQ_SQL = """
CREATE FUNCTION console_auditevent_time_follows_seq() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (
        SELECT 1 FROM console_auditevent WHERE seq = NEW.seq - 1 AND occurred_at > NEW.occurred_at
    ) THEN
        RAISE EXCEPTION 'console_auditevent: event % is stamped before event %', NEW.seq, NEW.seq - 1
            USING ERRCODE = 'check_violation',
                  HINT = 'Append through audit_record, which never stamps an event before the previous one.';
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER console_auditevent_time_follows_seq
    BEFORE INSERT ON console_auditevent
    FOR EACH ROW EXECUTE FUNCTION console_auditevent_time_follows_seq();
"""

DROP_TIME_FOLLOWS_SEQ_SQL = """
DROP TRIGGER IF EXISTS console_auditevent_time_follows_seq ON console_auditevent;
DROP FUNCTION IF EXISTS console_auditevent_time_follows_seq();
"""


def install_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(TIME_FOLLOWS_SEQ_SQL, params=None)


def remove_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_TIME_FOLLOWS_SEQ_SQL, params=None)


class Migration(migrations.Migration):

    dependencies = [
        ("console", "0002_auditevent"),
    ]

    operations = [
        migrations.AddField(
            model_name="auditevent",
            name="clock_reading",
            field=models.DateTimeField(
                blank=True,
                null=True,
                help_text="The clock's own reading when it was behind the previous event (occurred_at then holds that event's time); null otherwise.",
            ),
        ),
        migrations.RemoveIndex(model_name="auditevent", name="console_audit_occurred"),
        migrations.AddIndex(
            model_name="auditevent",
            index=models.Index(fields=["occurred_at", "seq"], name="console_audit_occurred_seq"),
        ),
        migrations.RunPython(install_trigger, remove_trigger, elidable=False),
    ]
