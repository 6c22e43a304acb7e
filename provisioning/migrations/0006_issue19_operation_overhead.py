"""Issue 19: the engine's own overhead per operation, before and after the driver's call."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("provisioning", "0005_issue17_credential_rotation"),
    ]

    operations = [
        migrations.AddField(
            model_name="operation",
            name="overhead_before_ms",
            field=models.FloatField(blank=True, editable=False, null=True),
        ),
        migrations.AddField(
            model_name="operation",
            name="overhead_after_ms",
            field=models.FloatField(blank=True, editable=False, null=True),
        ),
    ]
