"""Issue 19: btree indexes for the catalog list's sort keys and the home page's lists (100,000 entries)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0004_issue17_service_health"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="entry",
            index=models.Index(fields=["name", "id"], name="catalog_entry_name_id_i19"),
        ),
        migrations.AddIndex(
            model_name="entry",
            index=models.Index(fields=["kind", "name", "id"], name="catalog_entry_kind_name_i19"),
        ),
        migrations.AddIndex(
            model_name="entry",
            index=models.Index(fields=["lifecycle", "name", "id"], name="catalog_entry_life_name_i19"),
        ),
        migrations.AddIndex(
            model_name="entry",
            index=models.Index(fields=["-updated_at"], name="catalog_entry_updated_i19"),
        ),
        migrations.AddIndex(
            model_name="entry",
            index=models.Index(condition=models.Q(featured=True), fields=["name"], name="catalog_entry_featured_i19"),
        ),
    ]
