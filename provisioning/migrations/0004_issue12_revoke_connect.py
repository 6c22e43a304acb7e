"""Issue 12: scientists' database logins cannot connect to the portal's own database (CONNECT revoked from PUBLIC).

Does nothing where the portal's role may not change its database's privileges (it then says so in a notice)."""

from django.db import migrations

REVOKE = """
DO $$
BEGIN
    EXECUTE format('REVOKE CONNECT, TEMPORARY ON DATABASE %I FROM PUBLIC', current_database());
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'the portal''s role may not revoke CONNECT on its database; do it as its owner';
END
$$;
"""


class Migration(migrations.Migration):
    dependencies = [("provisioning", "0003_issue13_cancelled_queued_at")]

    operations = [migrations.RunSQL(REVOKE, reverse_sql=migrations.RunSQL.noop)]
