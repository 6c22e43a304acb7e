"""Issue 19: btree indexes for the guide list's order (10,000 guides)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("guides", "0001_initial"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="guide",
            index=models.Index(fields=["journey_order", "title"], name="guides_guide_order_i19"),
        ),
        migrations.AddIndex(
            model_name="guide",
            index=models.Index(fields=["kind", "journey_order", "title"], name="guides_guide_kind_order_i19"),
        ),
    ]
