"""Who may read and who may change, for every page and endpoint, as five kinds of people.

Every URL of the portal (but Django's admin and allauth's pages) must have a row here: a new URL without one fails
`test_every_url_has_a_row`. Columns: anonymous, scientist of team A (owns the resource), team admin of team A,
scientist of team B, Keeper. Outcomes:
  L  must sign in first (302 to the sign-in page, or 401)       O  allowed (2xx, or a redirect elsewhere)
  H  hidden: 404, nothing says it exists                        D  refused (400, 403 or 404)
  S  allowed to ask, but not in this state (409)
  C / U  for form posts answered with a redirect either way: the database changed / did not change
  P  public status page: 200 or 503, whoever asks
"""

import uuid

import pytest
from django.urls import get_resolver
from django.urls.resolvers import URLResolver

from catalog.models import Entry
from catalog.radar_models import ProposalComment, Score, Vote
from guides.models import Guide, Progress
from portal.keeper_requests.models import Feedback, KeeperRequest
from portal.models import ApiToken, Membership, Team
from portal.notifications.models import Notification, TeamWebhook
from portal.teams.models import Invitation, JoinRequest, QuotaRequest
from portal.tokens import token_issue
from provisioning.models import CredentialPolicy, CredentialRotation, Resource, State
from tests.factories import MembershipFactory, UserFactory, make_keeper, make_resource
from tests.portal.issue14_world import issue14_url_values, issue14_world

pytestmark = pytest.mark.django_db
ROLES = ["anonymous", "scientist_a", "admin_a", "scientist_b", "keeper"]
GUIDE_STEPS = [{"id": "first", "title": "First"}, {"id": "second", "title": "Second"}]


def _resource_state(objs):
    return Resource.objects.get(pk=objs["resource"].pk).state


# route: [(method, expected per role, body or None, effect check or None), ...]
MATRIX = {
    "": [("get", "LOOOO", None, None)],
    "teams/switch/": [("post", "LOOOO", {"team": "team-a"}, None)],
    "resources/": [("get", "LOOOO", None, None)],
    "resources/new/": [("get", "LOOOO", None, None)],
    "resources/new/<slug:slug>/": [("get", "LOOOO", None, None)],
    "resources/new/<slug:slug>/preview/": [("post", "LOOOO", {"name": "peek", "storage_gb": "1"}, None)],
    "resources/preview/<uuid:task_id>/": [("get", "LOOOO", None, None)],
    "resources/<uuid:resource_id>/": [("get", "LOOHO", None, None)],
    "resources/<uuid:resource_id>/live/": [("get", "LOOHO", None, None)],
    "resources/<uuid:resource_id>/reveal/": [("post", "LOOHO", {}, None)],
    "resources/<uuid:resource_id>/open/": [("post", "LOOHO", {}, None)],
    "resources/<uuid:resource_id>/<str:action>/": [
        ("post", "LCCHC", {}, lambda objs: _resource_state(objs) == State.DELETING)
    ],
    "catalog/": [("get", "LOOOO", None, None)],
    "catalog/new/": [("get", "LHHHO", None, None)],
    "catalog/<slug:slug>/": [("get", "LOOOO", None, None)],
    "catalog/<slug:slug>/edit/": [("get", "LHHHO", None, None)],
    "catalog/<slug:slug>/delete/": [("post", "LUUUC", {}, lambda objs: not Entry.objects.filter(slug="tool").exists())],
    "guides/": [("get", "LOOOO", None, None)],
    "guides/new/": [("get", "LHHHO", None, None)],
    "guides/<slug:slug>/": [("get", "LOOOO", None, None)],
    "guides/<slug:slug>/edit/": [("get", "LHHHO", None, None)],
    "guides/<slug:slug>/reviewed/": [
        ("post", "LUUUC", {}, lambda objs: Guide.objects.get(slug="howto").reviewed_at != objs["guide_reviewed"])
    ],
    "guides/<slug:slug>/steps/<slug:step_id>/": [
        ("post", "LCCCC", {"done": "1"}, lambda objs: Progress.objects.filter(steps_done__contains=["first"]).exists())
    ],
    "articles/": [("get", "LOOOO", None, None)],
    "search/": [("get", "LOOOO", None, None)],
    "keepers/": [("get", "LDDDO", None, None)],
    "keepers/modules/": [("get", "LDDDO", None, None)],
    "healthz": [("get", "OOOOO", None, None)],
    "readyz": [("get", "PPPPP", None, None)],
    "api/v1/auth/token/": [("post", "OOOOO", {"username": "alice", "password": "a-Long-test-passw0rd"}, None)],
    "api/v1/me/": [("get", "LOOOO", None, None)],
    "api/v1/teams/": [("get", "LOOOO", None, None)],
    "api/v1/search/": [("get", "LOOOO", None, None)],
    "api/v1/catalog/": [("get", "LOOOO", None, None), ("post", "LDDDO", {"name": "New thing"}, None)],
    "api/v1/catalog/<slug:slug>/": [
        ("get", "LOOOO", None, None),
        ("patch", "LDDDO", {"summary": "x"}, None),
        ("delete", "LDDDO", None, None),
    ],
    "api/v1/guides/": [("get", "LOOOO", None, None)],
    "api/v1/guides/<slug:slug>/": [("get", "LOOOO", None, None)],
    "api/v1/guides/<slug:slug>/progress/": [("post", "LOOOO", {"step": "first"}, None)],
    "api/v1/templates/": [("get", "LOOOO", None, None)],
    "api/v1/templates/<slug:slug>/": [("get", "LOOOO", None, None)],
    "api/v1/resources/": [
        ("get", "LOOOO", None, None),
        ("post", "LOODO", {"template": "bucket", "name": "new-one", "team": "team-a"}, None),
    ],
    "api/v1/resources/<uuid:resource_id>/": [("get", "LOOHO", None, None), ("delete", "LOOHO", None, None)],
    "api/v1/resources/<uuid:resource_id>/stop/": [("post", "LSSHS", {}, None)],
    "api/v1/resources/<uuid:resource_id>/start/": [("post", "LSSHS", {}, None)],
    "api/v1/resources/<uuid:resource_id>/retry/": [("post", "LSSHS", {}, None)],
    "api/v1/resources/<uuid:resource_id>/cancel/": [("post", "LSSHS", {}, None)],
    "api/v1/resources/<uuid:resource_id>/reapply/": [("post", "LSSHS", {}, None)],
    "api/v1/resources/<uuid:resource_id>/forget/": [("post", "LDDHS", {}, None)],
    "api/v1/resources/<uuid:resource_id>/approve/": [("post", "LDDHS", {}, None)],
    "api/v1/resources/<uuid:resource_id>/reject/": [("post", "LDDHS", {"reason": "no"}, None)],
    "api/v1/resources/<uuid:resource_id>/credentials/": [("post", "LOOHO", {}, None)],
    "api/v1/resources/<uuid:resource_id>/logs/": [("get", "LOOHO", None, None)],
    "api/v1/resources/<uuid:resource_id>/open/": [("post", "LSSHS", {}, None)],
    "resources/<uuid:resource_id>/output/": [("get", "LOOHO", None, None)],
    "resources/<uuid:resource_id>/output/download/": [("get", "LHHHH", None, None)],  # a bucket prints nothing
    "files/": [("get", "LOOOO", None, None)],
    "files/curves/compare/": [("get", "LOOOO", None, None)],
    "files/curves/<uuid:resource_id>/": [("get", "LOOHO", None, None)],
    "files/<str:key>/": [("get", "LOOHO", None, None)],
    "files/<str:key>/download/": [("get", "LOOHO", None, None)],
    "files/<str:key>/upload/": [("post", "LOOHO", {}, None)],
    "files/<str:key>/mkdir/": [("post", "LOOHO", {"name": ".."}, None)],
    "files/<str:key>/rename/": [("post", "LOOHO", {"path": "missing.txt", "new_name": "x"}, None)],
    "files/<str:key>/delete/": [("post", "LOOHO", {"path": "missing.txt"}, None)],
    "files/<str:key>/edit/": [("post", "LOOHO", {"path": "notes.txt", "text": "hi"}, None)],
    "api/v1/files/": [("get", "LOOOO", None, None)],
    "api/v1/files/<str:key>/": [("get", "LOOHO", None, None), ("delete", "LDDHD", None, None)],
    "api/v1/files/<str:key>/download/": [("get", "LOOHO", None, None)],
    "api/v1/files/<str:key>/upload/": [("post", "LDDHD", None, None)],
    "api/v1/files/<str:key>/folders/": [("post", "LDDHD", {"name": ".."}, None)],
    "api/v1/files/<str:key>/rename/": [("post", "LDDHD", {"path": "missing.txt", "new_name": "x"}, None)],
    "api/v1/files/<str:key>/text/": [("put", "LOOHO", {"path": "notes.txt", "text": "hello"}, None)],
    "api/schema/": [("get", "OOOOO", None, None)],
    # Issue 12b: personal API tokens (alice, scientist_a, owns the token of the world)
    "me/tokens/": [("get", "LOOOO", None, None), ("post", "LOOOO", {"name": "ci", "expires_in_days": "30"}, None)],
    "me/tokens/<int:token_id>/revoke/": [
        ("post", "LCUUU", {}, lambda objs: ApiToken.objects.get(pk=objs["token"].pk).revoked_at is not None)
    ],
    "api/v1/auth/tokens/": [("get", "LOOOO", None, None), ("post", "LOOOO", {"name": "ci"}, None)],
    "api/v1/auth/tokens/<int:token_id>/": [("get", "LOHHH", None, None), ("delete", "LOHHH", None, None)],
    "api/docs/": [("get", "OOOOO", None, None)],
    # Issue 18: metrics (loopback here; a token elsewhere, tests/ops/test_metrics.py) and usage pages.
    "metrics": [("get", "OOOOO", None, None)],
    "usage/": [("get", "LOOOO", None, None)],
    "usage/export.csv": [("get", "LOOOO", None, None)],
    "usage/estimate/<slug:slug>/": [("get", "LOOOO", None, None)],
    "usage/keepers/": [("get", "LDDDO", None, None)],
    "usage/keepers/export.csv": [("get", "LDDDO", None, None)],
    # Teams, notifications, requests to the Keepers, the radar (issue 14)
    "teams/": [("get", "LOOOO", None, None)],
    "teams/join/": [("post", "LUUCC", {"team": "team-a"}, lambda objs: JoinRequest.objects.count() > 1)],
    "teams/join-requests/<int:pk>/": [
        (
            "post",
            "LHCHC",
            {"decision": "accept"},
            lambda objs: Membership.objects.filter(user__username="newbie").exists(),
        )
    ],
    "teams/quota-requests/<int:pk>/": [
        ("post", "LHHHC", {"decision": "approve"}, lambda objs: Team.objects.get(slug="team-a").max_gpus == 4)
    ],
    "teams/<slug:slug>/": [("get", "LOOHO", None, None)],
    "teams/<slug:slug>/edit/": [
        ("post", "LHHHC", {"max_gpus": "9"}, lambda objs: Team.objects.get(slug="team-a").max_gpus == 9)
    ],
    "teams/<slug:slug>/invite/": [
        (
            "post",
            "LUCHC",
            {"recipient": "carol@example.org"},
            lambda objs: Invitation.objects.filter(email="carol@example.org").exists(),
        )
    ],
    "teams/<slug:slug>/members/<int:user_id>/": [
        (
            "post",
            "LUCHC",
            {"role": "admin"},
            lambda objs: Membership.objects.filter(user__username="alice", role="admin").exists(),
        )
    ],
    "teams/<slug:slug>/quota/": [
        (
            "post",
            "LUCHC",
            {"field": "max_databases", "requested": "9", "reason": "More data"},
            lambda objs: QuotaRequest.objects.filter(field="max_databases").exists(),
        )
    ],
    "teams/<slug:slug>/webhook/": [
        ("post", "LUCHC", {"url": "https://hooks.example.org/x"}, lambda objs: TeamWebhook.objects.exists())
    ],
    "invitations/<str:token>/": [("get", "LDDOD", None, None)],
    "notifications/": [("get", "LOOOO", None, None)],
    "notifications/<int:pk>/": [("post", "LOHHH", {}, None)],
    "notifications/keep-running/<uuid:resource_id>/": [("post", "LHHHH", {}, None)],
    "notifications/preferences/": [("get", "LOOOO", None, None)],
    "notifications/read/": [
        ("post", "LCUUU", {}, lambda objs: Notification.objects.get(pk=objs["issue14"]["note"].pk).read_at is not None)
    ],
    "ask/": [("get", "LOOOO", None, None)],
    "ask/<int:pk>/": [("get", "LOOHO", None, None)],
    "ask/<int:pk>/assign/": [
        ("post", "LHHHC", {}, lambda objs: KeeperRequest.objects.filter(assignee__isnull=False).exists())
    ],
    "ask/<int:pk>/status/": [
        (
            "post",
            "LCUHC",
            {"status": "done", "reason": "Solved"},
            lambda objs: KeeperRequest.objects.filter(status="done").exists(),
        )
    ],
    "ask/feedback/": [
        (
            "post",
            "LCCCC",
            {"target_type": "guide", "target_key": "howto", "helpful": "yes"},
            lambda objs: Feedback.objects.exists(),
        )
    ],
    "keepers/inbox/": [("get", "LHHHO", None, None)],
    "radar/": [("get", "LOOOO", None, None)],
    "radar/propose/": [("get", "LOOOO", None, None)],
    "radar/<slug:slug>/": [("get", "LOOOO", None, None)],
    "radar/<slug:slug>/score/": [
        ("post", "LHHHC", {"relevance:value": "4", "relevance:why": "Used widely"}, lambda objs: Score.objects.exists())
    ],
    "radar/<slug:slug>/vote/": [("post", "LHHHC", {"ring": "trial"}, lambda objs: Vote.objects.exists())],
    "radar/<slug:slug>/comment/": [
        ("post", "LCCCC", {"body": "We tried it"}, lambda objs: ProposalComment.objects.exists())
    ],
    "api/v1/teams/directory/": [("get", "LOOOO", None, None)],
    "api/v1/teams/<slug:slug>/": [("get", "LOOHO", None, None), ("patch", "LDDHO", {"max_gpus": 7}, None)],
    "api/v1/teams/<slug:slug>/members/": [("get", "LOOHO", None, None)],
    "api/v1/teams/<slug:slug>/members/<int:user_id>/": [
        ("patch", "LDOHO", {"role": "admin"}, None),
        ("delete", "LOOHO", None, None),
    ],
    "api/v1/teams/<slug:slug>/invitations/": [
        ("get", "LDOHO", None, None),
        ("post", "LDOHO", {"recipient": "carol@example.org"}, None),
    ],
    "api/v1/teams/<slug:slug>/webhook/": [("put", "LDOHO", {"url": "https://hooks.example.org/x"}, None)],
    "api/v1/invitations/<str:token>/accept/": [("post", "LDDOD", {}, None)],
    "api/v1/join-requests/": [("get", "LOOOO", None, None), ("post", "LOOSO", {"team": "team-b"}, None)],
    "api/v1/join-requests/<int:pk>/decide/": [("post", "LHOHO", {"accept": True}, None)],
    "api/v1/quota-requests/": [
        ("get", "LOOOO", None, None),
        ("post", "LDOHO", {"team": "team-a", "field": "max_databases", "requested": 9, "reason": "x"}, None),
    ],
    "api/v1/quota-requests/<int:pk>/decide/": [("post", "LDDHO", {"accept": True}, None)],
    "api/v1/requests/": [
        ("get", "LOOOO", None, None),
        ("post", "LOODO", {"title": "Help", "body": "It fails", "team": "team-a"}, None),
    ],
    "api/v1/requests/<int:pk>/": [("get", "LOOHO", None, None)],
    "api/v1/requests/<int:pk>/replies/": [("post", "LOOHO", {"body": "More details"}, None)],
    "api/v1/requests/<int:pk>/status/": [("post", "LODHO", {"status": "done", "reason": "Solved"}, None)],
    "api/v1/requests/<int:pk>/assign/": [("post", "LDDHO", {}, None)],
    "api/v1/feedback/": [
        ("get", "LDDDO", None, None),
        ("post", "LOOOO", {"target_type": "guide", "target_key": "howto", "helpful": True}, None),
    ],
    "api/v1/notifications/": [("get", "LOOOO", None, None)],
    "api/v1/notifications/read/": [("post", "LOOOO", {}, None)],
    "api/v1/notifications/preferences/": [
        ("get", "LOOOO", None, None),
        ("put", "LOOOO", [{"kind": "job_finished", "email": False}], None),
    ],
    "api/v1/notifications/keep-running/<uuid:resource_id>/": [("post", "LHHHH", {}, None)],
    "api/v1/radar/": [("get", "LOOOO", None, None)],
    "api/v1/radar/proposals/": [
        ("get", "LOOOO", None, None),
        ("post", "LOOOO", {"name": "Dask", "description": "Parallel Python", "quadrant": "tools"}, None),
    ],
    "api/v1/radar/proposals/<int:pk>/": [("get", "LOOOO", None, None)],
    "api/v1/radar/proposals/<int:pk>/scores/": [
        ("post", "LDDDO", {"scores": {"relevance": {"value": 3, "justification": "Used widely"}}}, None)
    ],
    "api/v1/radar/proposals/<int:pk>/votes/": [("post", "LDDDO", {"ring": "trial"}, None)],
    "api/v1/radar/proposals/<int:pk>/comments/": [("post", "LOOOO", {"body": "We tried it"}, None)],
    # issue 17: identifiers, status
    "ids/": [("get", "LOOOO", None, None)],
    "status/": [("get", "LOOOO", None, None)],
    "api/v1/ids/": [("get", "LOOOO", None, None)],
    # issue 17: credential rotation
    "resources/<uuid:resource_id>/rotate/": [
        ("post", "LCCHC", {}, lambda objs: CredentialRotation.objects.filter(resource=objs["resource"]).exists())
    ],
    "credentials/": [("get", "LOOOO", None, None)],
    "credentials/policy/": [
        (
            "post",
            "LHHHC",
            {"max_age_days": "30"},
            lambda objs: CredentialPolicy.objects.filter(max_age_days=30).exists(),
        )
    ],
    "credentials/teams/<slug:slug>/rotate/": [
        ("post", "LHHHC", {}, lambda objs: CredentialRotation.objects.filter(resource=objs["resource"]).exists())
    ],
    "api/v1/resources/<uuid:resource_id>/rotate/": [("post", "LOOHO", {}, None)],
    "api/v1/resources/<uuid:resource_id>/rotation/": [("get", "LDDHD", None, None)],
    "api/v1/credentials/": [("get", "LOOOO", None, None)],
    "api/v1/teams/<slug:slug>/rotate-credentials/": [("post", "LDDDO", {}, None)],
    # issue 17: resources as code (dry run: nothing changes; without ?team= export is a 400)
    "api/v1/apply/": [("post", "LOODO", {"team": "team-a", "resources": [], "dry_run": True}, None)],
    "api/v1/export/": [("get", "LDDDD", None, None)],
    # issue 17: project generator (the world has no project templates or generated projects: 404 past sign-in)
    "projects/": [("get", "LOOOO", None, None)],
    "projects/<slug:slug>/": [("get", "LHHHH", None, None)],
    "projects/generated/<uuid:generation_id>/": [("get", "LHHHH", None, None)],
    "projects/generated/<uuid:generation_id>/download/": [("get", "LHHHH", None, None)],
    "api/v1/project-templates/": [("get", "LOOOO", None, None)],
    "api/v1/project-templates/<slug:slug>/generate/": [("post", "LDDDD", {"answers": {}}, None)],
    "api/v1/projects/<uuid:generation_id>/": [("get", "LHHHH", None, None)],
    "api/v1/projects/<uuid:generation_id>/download/": [("get", "LHHHH", None, None)],
}


def _routes(patterns=None, prefix=""):
    for pattern in patterns if patterns is not None else get_resolver().url_patterns:
        if isinstance(pattern, URLResolver):
            if pattern.namespace == "admin" or "allauth" in str(pattern.urlconf_name):
                continue  # Django's and allauth's own pages, with their own tests
            yield from _routes(pattern.url_patterns, prefix + str(pattern.pattern))
        else:
            yield prefix + str(pattern.pattern)


def test_every_url_has_a_row():
    missing = sorted(set(_routes()) - set(MATRIX))
    assert not missing, f"add these URLs to the permissions matrix: {missing}"
    assert not sorted(set(MATRIX) - set(_routes())), "the matrix names URLs that no longer exist"


@pytest.fixture
def world(templates, team_a, team_b):
    from datetime import date, timedelta

    alice = MembershipFactory(user=UserFactory(username="alice"), team=team_a).user
    anna = MembershipFactory(user=UserFactory(username="anna"), team=team_a, role="admin").user
    bob = MembershipFactory(user=UserFactory(username="bob"), team=team_b).user
    keeper = make_keeper()
    resource = make_resource(
        templates["bucket"],
        team_a,
        alice,
        "data",
        state=State.READY,
        outputs={"bucket": "b"},
        driver_state={"mode": "folder", "path": "/nonexistent"},
    )
    resource.secrets = {"access_key_id": "AK", "secret_access_key": "SK"}
    resource.save()
    Entry.objects.create(slug="tool", name="A tool")
    reviewed = date.today() - timedelta(days=3)
    Guide.objects.create(
        slug="howto", title="How to", body="## First\n\nx\n\n## Second\n\ny", steps=GUIDE_STEPS, reviewed_at=reviewed
    )
    token, _ = token_issue(user=alice, name="laptop")
    users = {"scientist_a": alice, "admin_a": anna, "scientist_b": bob, "keeper": keeper}
    return {
        "users": users,
        "resource": resource,
        "guide_reviewed": reviewed,
        "token": token,
        "issue14": issue14_world(users, team_a),
    }


def _url(route, objs):
    values = {
        "<slug:slug>": {
            "teams/": "team-a",
            "api/v1/teams/": "team-a",
            "radar/": "ray",
            "resources/new/": "bucket",
            "catalog/": "tool",
            "guides/": "howto",
            "api/v1/catalog/": "tool",
            "api/v1/guides/": "howto",
            "api/v1/templates/": "bucket",
            "usage/estimate/": "bucket",
            "credentials/": "team-a",
            "projects/": "ml-training",
            "api/v1/project-templates/": "ml-training",
        },
        "<uuid:resource_id>": str(objs["resource"].pk),
        "<uuid:task_id>": str(uuid.uuid4()),
        "<uuid:generation_id>": str(uuid.uuid4()),
        "<str:action>": "delete",
        "<str:key>": "team-team-a",
        "<slug:step_id>": "first",
        "<int:token_id>": str(objs["token"].pk),
        **issue14_url_values(objs),
    }
    url = "/" + route + ("?q=tool" if "search/" in route else "")
    for key, value in values.items():
        if key in url:
            if isinstance(value, dict):
                value = next(v for prefix, v in value.items() if route.startswith(prefix))
            url = url.replace(key, value)
    return url


CASES = [(route, index, role) for route, rows in MATRIX.items() for index in range(len(rows)) for role in ROLES]


@pytest.mark.parametrize("route, index, role", CASES, ids=[f"{r or '/'}-{i}-{role}" for r, i, role in CASES])
def test_matrix(route, index, role, world, client, settings):
    from rest_framework.test import APIClient

    method, expected, body, effect = MATRIX[route][index]
    outcome = expected[ROLES.index(role)]
    api = route.startswith("api/")
    browser = APIClient() if api else client
    if role != "anonymous":
        browser.force_login(world["users"][role])
    url = _url(route, world)
    kwargs = {"format": "json"} if api and body is not None else {}
    response = getattr(browser, method)(url, body, **kwargs) if body is not None else getattr(browser, method)(url)
    status = response.status_code
    assert status < 500 or outcome == "P", f"{method.upper()} {url} as {role}: {status}"
    location = response.get("Location", "")
    if outcome == "L":
        assert status == 401 or (status == 302 and location.startswith("/accounts/login/")), (status, location)
    elif outcome == "O":
        assert status < 400 and not location.startswith("/accounts/login/"), (status, response.content[:300])
    elif outcome == "H":
        assert status == 404, status
    elif outcome == "D":
        assert status in (400, 403, 404), status
    elif outcome == "P":
        assert status in (200, 503), status
    elif outcome == "S":
        assert status == 409, (status, response.content[:300])
    elif outcome in "CU":
        assert effect(world) is (outcome == "C"), f"{method.upper()} {url} as {role}: status {status}"


# Issue 15, second round: a Slurm job's folder on the cluster, a Kubernetes job's results prefix and a running
# Kubernetes notebook's volume are file-browser roots too; another team gets a 404 on every page and endpoint of
# them (the owner's side: tests/slurm/test_files.py, tests/files/test_kube_results.py and
# tests/files/test_kube_notebook_files.py, on the real cluster, moto and Jupyter Server).
CLUSTER_FILE_URLS = [
    ("get", "/files/{key}/", None),
    ("get", "/files/{key}/download/?path=metrics.jsonl", None),
    ("post", "/files/{key}/upload/", {}),
    ("post", "/files/{key}/mkdir/", {"name": "x"}),
    ("post", "/files/{key}/rename/", {"path": "metrics.jsonl", "new_name": "x"}),
    ("post", "/files/{key}/delete/", {"path": "metrics.jsonl"}),
    ("post", "/files/{key}/edit/", {"path": "notes.txt", "text": "hi"}),
    ("get", "/files/curves/{id}/", None),
    ("get", "/api/v1/files/{key}/", None),
    ("delete", "/api/v1/files/{key}/?path=metrics.jsonl", None),
    ("get", "/api/v1/files/{key}/download/?path=metrics.jsonl", None),
    ("post", "/api/v1/files/{key}/folders/", {"name": "x"}),
    ("post", "/api/v1/files/{key}/rename/", {"path": "metrics.jsonl", "new_name": "x"}),
    ("put", "/api/v1/files/{key}/text/", {"path": "notes.txt", "text": "hi"}),
]
CLUSTER_JOBS = {  # template, parameters, fields
    "slurm": (
        "training-job-slurm",
        {"command": "python train.py"},
        {"state": State.SUCCEEDED, "driver_state": {"workdir": "/nonexistent/pt-team-a/job", "job_id": "1"}},
    ),
    "kubernetes": (
        "training-job-k8s",
        {"command": "python train.py", "profile": "cpu"},
        {"state": State.SUCCEEDED, "driver_state": {"name": "job-x", "results": {"bucket": "b", "prefix": "a/j/"}}},
    ),
    "kubernetes notebook": (
        "jupyter-notebook-k8s",
        {"profile": "cpu"},
        {"state": State.READY, "outputs": {"url": "http://127.0.0.1:9/notebooks/nb-x/lab"}},
    ),
}


@pytest.mark.parametrize("driver", sorted(CLUSTER_JOBS))
@pytest.mark.parametrize("method, url, body", CLUSTER_FILE_URLS, ids=[f"{m}-{u}" for m, u, _ in CLUSTER_FILE_URLS])
def test_cluster_job_files_are_hidden_from_other_teams(driver, method, url, body, world, templates, client, settings):
    from rest_framework.test import APIClient

    from provisioning.folders import files_key

    settings.KUBERNETES_INGRESS_HOST = "notebooks.example.org"  # the portal reaches Kubernetes notebooks
    template, parameters, fields = CLUSTER_JOBS[driver]
    job = make_resource(
        templates[template], world["resource"].team, world["users"]["scientist_a"], "cluster-job",
        parameters=parameters, **fields,
    )  # fmt: skip
    key = files_key(job)
    assert key == f"resource-{job.pk}"
    url = url.format(key=key, id=job.pk)
    browser = APIClient() if url.startswith("/api/") else client
    browser.force_login(world["users"]["scientist_b"])
    kwargs = {"format": "json"} if url.startswith("/api/") and body is not None else {}
    response = getattr(browser, method)(url, body, **kwargs) if body is not None else getattr(browser, method)(url)
    assert response.status_code == 404, (method, url, response.status_code)
