"""Web hardening found in review (issue 12, point 8): each test here failed before its fix."""

import re
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from catalog.models import Entry
from portal.models import ApiToken, AuditEvent, AuditTrailIsReadOnly
from portal.redirects import is_own_path

pytestmark = pytest.mark.django_db
EVIL_NAME = "');alert(1);//"


# (a) No user text inside event-handler attributes


class _Attributes(HTMLParser):
    def __init__(self):
        super().__init__()
        self.found = []

    def handle_starttag(self, tag, attrs):
        self.found.extend((tag, name, value) for name, value in attrs)


def _attributes(html: str):
    parser = _Attributes()
    parser.feed(html)
    return parser.found


def test_no_template_has_an_event_handler_attribute():
    handlers = re.compile(r"<[^>]*\son[a-z]+\s*=", re.I | re.S)
    offenders = [
        str(path.relative_to(settings.BASE_DIR))
        for path in Path(settings.BASE_DIR, "templates").rglob("*.html")
        if handlers.search(path.read_text())
    ]
    assert not offenders, f"event-handler attributes (use data- attributes and static/js/portal.js): {offenders}"


def test_a_catalog_entry_named_like_javascript_stays_text(client, keeper):
    Entry.objects.create(slug="evil", name=EVIL_NAME)
    client.force_login(keeper)
    html = client.get("/catalog/evil/").content.decode()
    attributes = _attributes(html)
    assert not [a for a in attributes if a[1].startswith("on")]
    confirms = [value for tag, name, value in attributes if name == "data-confirm"]
    assert f"Remove {EVIL_NAME} from the catalog?" in confirms  # a plain string handed to window.confirm
    script = (Path(settings.BASE_DIR) / "static" / "js" / "portal.js").read_text()
    assert 'getAttribute("data-confirm")' in script and "eval(" not in script


# (b) `next` goes only to the portal's own paths

HOSTILE_NEXT = [
    "//evil.example",
    "https://evil.example/",
    "http://localhost/x",
    "\\\\evil.example",
    "/\\evil.example",
    "\\/evil.example",
    "javascript:alert(1)",
    "/\t/evil.example",
    "///evil.example",
    " //evil.example",
]


@pytest.mark.parametrize("target", HOSTILE_NEXT)
def test_hostile_next_values_are_refused(target):
    assert not is_own_path(target)


@pytest.mark.parametrize("target", ["/", "/resources/?state=ready", "/guides/first-steps/#step-2"])
def test_own_paths_are_allowed(target):
    assert is_own_path(target)


@pytest.mark.parametrize("target", HOSTILE_NEXT)
def test_team_switch_never_redirects_off_the_portal(client, alice, target):
    client.force_login(alice)
    response = client.post("/teams/switch/", {"team": "team-a", "next": target})
    assert response.status_code == 302 and response["Location"] == "/"


def test_guide_reviewed_never_redirects_off_the_portal(client, keeper):
    from guides.models import Guide

    Guide.objects.create(slug="howto", title="How to", body="x")
    client.force_login(keeper)
    response = client.post("/guides/howto/reviewed/", {"next": "//evil.example"})
    assert response["Location"] == "/guides/howto/"
    assert client.post("/guides/howto/reviewed/", {"next": "/keepers/"})["Location"] == "/keepers/"


@pytest.mark.parametrize("target", ["//evil.example", "http://localhost/x", "/\\evil.example"])
def test_sign_in_never_redirects_off_the_portal(client, alice, password, target):
    response = client.post(f"/accounts/login/?next={target}", {"login": "alice", "password": password})
    assert response.status_code == 302 and response["Location"] == "/", response.get("Location")
    own = client.post("/accounts/login/?next=/resources/", {"login": "alice", "password": password})
    assert own.status_code in (200, 302)  # already signed in now; what matters is that evil targets are refused


# (c) The token throttle counts the real client, not what X-Forwarded-For claims


def _throttle_reset(ident: str):
    from django.core.cache import cache

    cache.delete(f"throttle_token_{ident}")


def test_a_new_x_forwarded_for_each_time_does_not_dodge_the_token_throttle(client, alice):
    remote = "198.51.100.23"
    _throttle_reset(remote)
    statuses = [
        client.post(
            "/api/v1/auth/token/",
            {"username": "alice", "password": "wrong"},
            REMOTE_ADDR=remote,
            HTTP_X_FORWARDED_FOR=f"203.0.113.{n}",
        ).status_code
        for n in range(22)
    ]
    assert statuses[:20] == [401] * 20
    assert statuses[-1] == 429
    _throttle_reset(remote)


def test_x_forwarded_for_counts_when_it_comes_from_a_trusted_proxy(client, alice, settings):
    from portal.clientip import client_ip

    settings.TRUSTED_PROXIES = ["198.51.100.0/30"]
    proxy = "198.51.100.1"
    for n in range(22):
        _throttle_reset(f"203.0.113.{n}")
    statuses = [
        client.post(
            "/api/v1/auth/token/",
            {"username": "alice", "password": "wrong"},
            REMOTE_ADDR=proxy,
            HTTP_X_FORWARDED_FOR=f"203.0.113.{n}, 198.51.100.2",
        ).status_code
        for n in range(22)
    ]
    assert 429 not in statuses  # each client behind the proxy has its own count

    class Request:
        META = {"REMOTE_ADDR": proxy, "HTTP_X_FORWARDED_FOR": "10.9.9.9, 203.0.113.7, 198.51.100.2"}

    assert client_ip(Request) == "203.0.113.7"  # the nearest address that is not a trusted proxy
    Request.META = {"REMOTE_ADDR": "192.0.2.50", "HTTP_X_FORWARDED_FOR": "203.0.113.7"}
    assert client_ip(Request) == "192.0.2.50"  # not through a trusted proxy: the header is ignored


# (d) Personal API tokens


def _stored_text() -> str:
    return repr(list(ApiToken.objects.values_list()))


def test_several_named_tokens_are_hashed_at_rest_and_shown_once(client, alice):
    client.force_login(alice)
    first = client.post("/me/tokens/", {"name": "laptop", "expires_in_days": "30"})
    assert first.status_code == 200 and first["Cache-Control"] == "no-store"
    key_1 = re.search(r'<code id="new-token">([^<]+)</code>', first.content.decode())[1]
    second = client.post("/me/tokens/", {"name": "CI pipeline", "expires_in_days": "365"})
    key_2 = re.search(r'<code id="new-token">([^<]+)</code>', second.content.decode())[1]
    assert key_1 != key_2 and ApiToken.objects.filter(user=alice).count() == 2
    assert key_1 not in _stored_text() and key_2 not in _stored_text()  # only digests are kept
    listing = client.get("/me/tokens/").content.decode()
    assert "laptop" in listing and "CI pipeline" in listing
    assert key_1 not in listing and key_1[:10] in listing  # the prefix tells them apart
    laptop = ApiToken.objects.get(name="laptop")
    assert timedelta(days=29) < laptop.expires_at - timezone.now() <= timedelta(days=30)
    for key in (key_1, key_2):
        assert client.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Token {key}").json()["username"] == "alice"
    assert AuditEvent.objects.filter(action="token.issue", actor=alice).count() == 2

    assert client.post(f"/me/tokens/{laptop.pk}/revoke/").status_code == 302
    from rest_framework.test import APIClient

    assert APIClient().get("/api/v1/me/", HTTP_AUTHORIZATION=f"Token {key_1}").status_code == 401
    assert APIClient().get("/api/v1/me/", HTTP_AUTHORIZATION=f"Bearer {key_2}").status_code == 200
    assert AuditEvent.objects.filter(action="token.revoke", target_id=str(laptop.pk)).exists()


def test_a_token_needs_a_name_and_a_sensible_expiry(client, alice):
    client.force_login(alice)
    response = client.post("/me/tokens/", {"name": "  ", "expires_in_days": "30"})
    assert response.status_code == 400 and "Give the token a name" in response.content.decode()
    response = client.post("/me/tokens/", {"name": "x", "expires_in_days": "10000"})
    assert response.status_code == 400 and "from 1 to 365" in response.content.decode()
    assert not ApiToken.objects.exists()


def test_tokens_in_the_api_list_make_and_revoke(api, alice, bob):
    from rest_framework.test import APIClient

    made = api(alice).post("/api/v1/auth/tokens/", {"name": "notebook", "expires_in_days": 7}, format="json")
    assert made.status_code == 201
    key, token_id = made.json()["token"], made.json()["id"]
    listed = api(alice).get("/api/v1/auth/tokens/").json()
    assert "notebook" in [t["name"] for t in listed] and all("token" not in t for t in listed)
    assert key not in repr(listed)
    assert api(bob).delete(f"/api/v1/auth/tokens/{token_id}/").status_code == 404  # not bob's
    assert APIClient().get("/api/v1/me/", HTTP_AUTHORIZATION=f"Token {key}").status_code == 200
    # Not with itself: that would lock the program out (the outside fuzz run did it to itself)
    itself = APIClient().delete(f"/api/v1/auth/tokens/{token_id}/", HTTP_AUTHORIZATION=f"Token {key}")
    assert itself.status_code == 409 and "signed in with" in itself.json()["message"]
    assert api(alice).delete(f"/api/v1/auth/tokens/{token_id}/").status_code == 204
    refused = APIClient().get("/api/v1/me/", HTTP_AUTHORIZATION=f"Token {key}")
    assert refused.status_code == 401 and "revoked" in refused.json()["message"]
    # Deleted, for the API (found by the outside fuzz run: GET still answered it): the page keeps its history.
    assert api(alice).get(f"/api/v1/auth/tokens/{token_id}/").status_code == 404
    assert api(alice).delete(f"/api/v1/auth/tokens/{token_id}/").status_code == 404
    assert "notebook" not in [t["name"] for t in api(alice).get("/api/v1/auth/tokens/").json()]
    assert ApiToken.objects.get(pk=token_id).revoked_at is not None


def test_an_expired_token_stops_working(client, alice):
    from portal.tokens import token_issue

    token, key = token_issue(user=alice, name="short")
    assert client.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Token {key}").status_code == 200
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert client.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Token {key}").status_code == 401


def test_the_password_endpoint_issues_a_named_token(client, alice, password):
    response = client.post(
        "/api/v1/auth/token/", {"username": "alice", "password": password, "name": "ci", "expires_in_days": 7}
    )
    body = response.json()
    assert response.status_code == 200 and body["name"] == "ci" and body["token"].startswith("rpt_")
    assert ApiToken.objects.get(user=alice, name="ci").digest not in (body["token"], "")
    assert AuditEvent.objects.filter(action="token.issue", actor=alice, data__via="api").exists()


def test_plain_drf_tokens_are_moved_to_hashed_tokens(client, alice):
    """The data migration, run on the real database: the old key keeps working and is no longer stored."""
    import importlib

    from django.apps import apps
    from rest_framework.authtoken.models import Token

    old = Token.objects.create(user=alice)
    migration = importlib.import_module("portal.migrations.0003_issue12b_api_tokens")
    migration.move_plain_tokens(apps, None)
    assert not Token.objects.exists()
    moved = ApiToken.objects.get(user=alice)
    assert old.key not in _stored_text() and moved.prefix == old.key[:8] and moved.expires_at is not None
    assert client.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Token {old.key}").json()["username"] == "alice"


# (e) The audit log is append-only, and what changes teams, templates and the catalog is in it


def test_audit_rows_cannot_be_changed_or_deleted_through_the_orm(alice):
    event = AuditEvent.objects.create(actor=alice, action="resource.reveal", target_repr="x")
    event.action = "nothing.happened"
    with pytest.raises(AuditTrailIsReadOnly):
        event.save()
    with pytest.raises(AuditTrailIsReadOnly):
        event.delete()
    with pytest.raises(AuditTrailIsReadOnly):
        AuditEvent.objects.filter(pk=event.pk).update(action="nothing.happened")
    with pytest.raises(AuditTrailIsReadOnly):
        AuditEvent.objects.filter(pk=event.pk).delete()
    assert AuditEvent.objects.get(pk=event.pk).action == "resource.reveal"


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE portal_auditevent SET action = 'nothing.happened' WHERE id = %s",
        "UPDATE portal_auditevent SET actor_id = NULL, action = 'x' WHERE id = %s",
        "DELETE FROM portal_auditevent WHERE id = %s",
    ],
)
def test_the_database_refuses_raw_sql_changes_to_audit_rows(alice, sql):
    event = AuditEvent.objects.create(actor=alice, action="resource.reveal", target_repr="x")
    refused = pytest.raises(DatabaseError, match="audit rows cannot be changed or deleted")
    with refused, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, [event.pk])
    assert AuditEvent.objects.get(pk=event.pk).action == "resource.reveal"


def test_deleting_an_account_keeps_its_audit_rows(alice, team_a):
    from portal.audit import audit_record

    event = audit_record(actor=alice, action="resource.reveal", team=team_a)
    alice.delete()
    event = AuditEvent.objects.get(pk=event.pk)
    assert event.actor is None and event.actor_name == "alice" and event.action == "resource.reveal"


def test_the_admin_cannot_change_or_delete_audit_rows(admin_client, alice):
    event = AuditEvent.objects.create(actor=alice, action="resource.reveal", target_repr="x")
    assert admin_client.post(f"/admin/portal/auditevent/{event.pk}/delete/", {"post": "yes"}).status_code == 403
    response = admin_client.post(
        "/admin/portal/auditevent/", {"action": "delete_selected", "_selected_action": [event.pk], "post": "yes"}
    )
    assert response.status_code in (200, 302)
    assert AuditEvent.objects.filter(pk=event.pk).exists()
    page = admin_client.get(f"/admin/portal/auditevent/{event.pk}/change/").content.decode()
    assert 'name="_save"' not in page


def test_team_quota_and_membership_changes_in_the_admin_are_audited(admin_client, admin_user, team_a, alice, bob):
    data = {
        "slug": "team-a",
        "name": "Team A",
        "description": "",
        "max_notebooks": "9",
        "max_gpus": "4",
        "max_storage_gb": "100",
        "max_databases": "5",
        "memberships-TOTAL_FORMS": "2",
        "memberships-INITIAL_FORMS": "1",
        "memberships-MIN_NUM_FORMS": "0",
        "memberships-MAX_NUM_FORMS": "1000",
        "memberships-0-id": str(alice.memberships.get().pk),
        "memberships-0-team": str(team_a.pk),
        "memberships-0-user": str(alice.pk),
        "memberships-0-role": "admin",
        "memberships-1-team": str(team_a.pk),
        "memberships-1-user": str(bob.pk),
        "memberships-1-role": "member",
    }
    response = admin_client.post(f"/admin/portal/team/{team_a.pk}/change/", data)
    assert response.status_code == 302, response.content.decode()[:2000]
    change = AuditEvent.objects.get(action="team.change", actor=admin_user)
    assert change.data == {"max_notebooks": "9", "max_gpus": "4"} and change.team == team_a
    assert AuditEvent.objects.filter(action="membership.change", data__role="admin").exists()
    assert AuditEvent.objects.filter(action="membership.create", target_repr__startswith="bob").exists()


def test_template_changes_in_the_admin_and_catalog_imports_are_audited(admin_client, admin_user, templates):
    from catalog.services import catalog_import

    template = templates["bucket"]
    page = admin_client.get(f"/admin/catalog/template/{template.pk}/change/")
    form = page.context["adminform"].form
    data = {name: form[name].value() for name in form.fields}
    data = {k: ("" if v is None else v) for k, v in data.items()}
    for name in ("parameters_schema", "defaults", "config"):
        if name in data and not isinstance(data[name], str):
            import json

            data[name] = json.dumps(data[name])
    data["name"] = "Bucket (renamed)"
    data = {k: v for k, v in data.items() if not isinstance(v, bool) or v}
    response = admin_client.post(f"/admin/catalog/template/{template.pk}/change/", data)
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    event = AuditEvent.objects.get(action="template.change", actor=admin_user)
    assert event.data["name"] == "Bucket (renamed)" and event.target_id == str(template.pk)

    document = (
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata: {name: imported-thing}\nspec: {type: service}\n"
    )
    catalog_import(text=document, user=admin_user)
    imported = AuditEvent.objects.get(action="catalog.import")
    assert imported.actor == admin_user and imported.data["created"] == ["imported-thing"]


def test_keepers_revoke_a_leaked_token_in_the_admin_but_never_read_a_key(admin_client, admin_user, alice):
    from portal.tokens import token_issue

    token, key = token_issue(user=alice, name="leaked")
    page = admin_client.get(f"/admin/portal/apitoken/{token.pk}/change/").content.decode()
    assert "leaked" in page and key not in page and token.digest not in page
    assert admin_client.get("/admin/authtoken/tokenproxy/").status_code == 404  # DRF's plain-key admin is gone
    response = admin_client.post("/admin/portal/apitoken/", {"action": "revoke", "_selected_action": [token.pk]})
    assert response.status_code == 302
    assert ApiToken.objects.get(pk=token.pk).revoked_at is not None
    assert AuditEvent.objects.filter(action="token.revoke", actor=admin_user, data__by="admin").exists()
