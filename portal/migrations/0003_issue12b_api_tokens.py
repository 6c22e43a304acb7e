"""Issue 12b: personal API tokens, several per person, named, hashed at rest; DRF's plain tokens moved over."""

import datetime
import hashlib

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models
from django.utils import timezone


def move_plain_tokens(apps, schema_editor):
    """Each DRF authtoken key becomes a hashed token of the same person (the key keeps working); the plain key is
    then deleted from the database."""
    try:
        Token = apps.get_model("authtoken", "Token")
    except LookupError:
        return
    ApiToken = apps.get_model("portal", "ApiToken")
    now = timezone.now()
    for token in Token.objects.all():
        ApiToken.objects.create(
            user_id=token.user_id,
            name="API token (from before named tokens)",
            prefix=token.key[:8],
            digest=hashlib.sha256(token.key.encode()).hexdigest(),
            expires_at=now + datetime.timedelta(days=90),  # no token lives for ever; the page shows when
        )
    Token.objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [
        ("portal", "0002_issue12b_audit_append_only"),
        ("authtoken", "0004_alter_tokenproxy_options"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="ApiToken",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("name", models.CharField(max_length=100)),
                ("prefix", models.CharField(max_length=16)),
                ("digest", models.CharField(max_length=64, unique=True)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("expires_at", models.DateTimeField(blank=True, null=True)),
                ("last_used_at", models.DateTimeField(blank=True, null=True)),
                ("revoked_at", models.DateTimeField(blank=True, null=True)),
                (
                    "user",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="api_tokens",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={"ordering": ["-created_at"]},
        ),
        migrations.RunPython(move_plain_tokens, migrations.RunPython.noop),
    ]
