import pytest
import yaml
from django.core.management import call_command

from catalog.models import Entry
from catalog.services import catalog_export, catalog_import

pytestmark = pytest.mark.django_db

MULTI = """
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: feature-store
  title: Feature store
  description: Shared features for models.
  tags: [data, ml]
  links:
    - {url: "https://example.org/docs", title: Docs, type: docs}
  annotations:
    github.com/project-slug: org/feature-store
spec: {type: service, lifecycle: experimental, owner: "group:default/team-a", system: ml-platform}
---
apiVersion: backstage.io/v1alpha1
kind: API
metadata: {name: inference-api, description: Model inference over HTTP.}
spec: {type: openapi, lifecycle: production, owner: team-b}
---
apiVersion: backstage.io/v1alpha1
kind: Resource
metadata: {name: imagenet-mirror, description: A local copy of ImageNet.}
spec: {type: dataset, lifecycle: production, owner: keepers}
---
apiVersion: backstage.io/v1alpha1
kind: System
metadata: {name: ml-platform, description: Everything for training.}
spec: {owner: keepers}
"""


def test_import_creates_entries(team_a):
    report = catalog_import(text=MULTI)
    assert sorted(report.created) == ["feature-store", "imagenet-mirror", "inference-api", "ml-platform"]
    store = Entry.objects.get(slug="feature-store")
    assert (store.name, store.kind, store.lifecycle, store.owner_team) == (
        "Feature store",
        "service",
        "experimental",
        team_a,
    )
    assert store.tags == ["data", "ml"] and store.system == "ml-platform"
    assert store.links == [{"title": "Docs", "url": "https://example.org/docs", "type": "docs"}]
    assert Entry.objects.get(slug="inference-api").kind == "api"
    assert Entry.objects.get(slug="inference-api").owner_label == "team-b"
    assert Entry.objects.get(slug="imagenet-mirror").kind == "dataset"


def test_second_import_changes_nothing(team_a):
    catalog_import(text=MULTI)
    stamps = dict(Entry.objects.values_list("slug", "updated_at"))
    report = catalog_import(text=MULTI)
    assert report.created == [] and report.updated == [] and len(report.unchanged) == 4
    assert dict(Entry.objects.values_list("slug", "updated_at")) == stamps


def test_a_changed_document_updates_its_entry(team_a):
    catalog_import(text=MULTI)
    report = catalog_import(text=MULTI.replace("Shared features for models.", "Features, shared."))
    assert report.updated == ["feature-store"]
    assert Entry.objects.get(slug="feature-store").summary == "Features, shared."


def test_export_imports_again_to_the_same_entries(team_a, django_db_blocker):
    catalog_import(text=MULTI)
    fields = ["slug", "name", "kind", "summary", "tags", "lifecycle", "links", "owner_label", "system", "body"]
    before = list(Entry.objects.order_by("slug").values(*fields, "owner_team__slug"))
    exported = catalog_export(Entry.objects.order_by("slug"))
    docs = list(yaml.safe_load_all(exported))
    assert {d["kind"] for d in docs} == {"Component", "API", "Resource", "System"}
    Entry.objects.all().delete()
    report = catalog_import(text=exported)
    assert len(report.created) == 4 and report.problems == []
    assert list(Entry.objects.order_by("slug").values(*fields, "owner_team__slug")) == before
    assert catalog_import(text=exported).unchanged and not catalog_import(text=exported).updated


def test_bad_documents_are_reported_with_position_and_the_rest_imports():
    text = """kind: Component
metadata: {name: good-one}
spec: {type: service}
---
kind: Group
metadata: {name: people}
---
kind: Component
metadata: {name: "bad name!"}
---
kind: Component
metadata: {name: broken
---
kind: API
metadata: {name: also-good}
"""
    report = catalog_import(text=text)
    assert sorted(report.created) == ["also-good", "good-one"]
    assert report.problems[0].startswith("document 2 (line 5): kind 'Group' is not imported")
    assert report.problems[1].startswith("document 3 (line 8): metadata.name 'bad name!'")
    assert report.problems[2].startswith("document 4 (line 11): not valid YAML")


def test_commands(tmp_path, capsys):
    source = tmp_path / "catalog-info.yaml"
    source.write_text(MULTI)
    call_command("catalog_import", str(source))
    call_command("catalog_import", str(source))
    assert "0 created, 0 updated, 4 unchanged" in capsys.readouterr().out
    out = tmp_path / "export.yaml"
    call_command("catalog_export", "--output", str(out))
    assert len(list(yaml.safe_load_all(out.read_text()))) == 4


def test_the_platform_catalog_has_at_least_15_entries_over_the_platform_areas():
    call_command("provisioning_load", verbosity=0)
    call_command("catalog_load", verbosity=0)
    assert Entry.objects.count() >= 15
    tags = {t for tags in Entry.objects.values_list("tags", flat=True) for t in tags}
    assert {"notebooks", "training", "monitoring", "databases", "developer-tools", "storage", "networking"} <= tags
    assert Entry.objects.get(slug="postgres-databases").related_templates.filter(slug="postgres-database").exists()
