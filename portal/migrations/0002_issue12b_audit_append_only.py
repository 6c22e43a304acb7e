"""Issue 12b: audit rows are append-only, in the database too (a trigger refuses UPDATE and DELETE)."""

from django.db import migrations, models

APPEND_ONLY = """
CREATE OR REPLACE FUNCTION portal_audit_append_only() RETURNS trigger AS $$
BEGIN
    -- The one change allowed: forgetting the link to a deleted account or team (ON DELETE SET NULL); the row
    -- keeps actor_name and everything else.
    IF TG_OP = 'UPDATE'
       AND (NEW.actor_id IS NULL OR NEW.actor_id = OLD.actor_id)
       AND (NEW.team_id IS NULL OR NEW.team_id = OLD.team_id)
       AND (NEW.id, NEW.at, NEW.actor_name, NEW.action, NEW.target_type, NEW.target_id, NEW.target_repr, NEW.data,
            NEW.ip)
           IS NOT DISTINCT FROM
           (OLD.id, OLD.at, OLD.actor_name, OLD.action, OLD.target_type, OLD.target_id, OLD.target_repr, OLD.data,
            OLD.ip)
    THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'audit rows cannot be changed or deleted (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS portal_audit_append_only ON portal_auditevent;
CREATE TRIGGER portal_audit_append_only BEFORE UPDATE OR DELETE ON portal_auditevent
    FOR EACH ROW EXECUTE FUNCTION portal_audit_append_only();
"""

DROP = """
DROP TRIGGER IF EXISTS portal_audit_append_only ON portal_auditevent;
DROP FUNCTION IF EXISTS portal_audit_append_only();
"""


class Migration(migrations.Migration):
    dependencies = [("portal", "0001_initial")]

    operations = [
        migrations.AddField(
            model_name="auditevent",
            name="actor_name",
            field=models.CharField(blank=True, max_length=150),
        ),
        migrations.RunSQL(APPEND_ONLY, DROP),
    ]
