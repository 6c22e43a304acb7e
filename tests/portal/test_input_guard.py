"""Input the database cannot take is a 400 with a message, in pages and API alike (issue 20), never a 503.

The walk below finds every list page and endpoint from the URL configuration and their query parameters from their
own code (`request.GET.get("x")`, the filter serializer passed to `query_params`) and from the OpenAPI schema, so a
list added later is walked too; a view that reads the query string but whose parameters cannot be found fails.
"""

import inspect
import re
import sys
import uuid

import pytest
from django.db import DataError, IntegrityError, OperationalError
from django.test import Client, RequestFactory
from django.urls import URLPattern, URLResolver, get_resolver
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.authtoken.models import Token

from portal import views as portal_views
from tests.factories import make_resource

pytestmark = pytest.mark.django_db
OUR_APPS = ("portal.", "catalog.", "guides.", "provisioning.")
READS_QUERY = re.compile(r"request\.GET|query_params|single_param\(")
PARAMETER_NAMES = re.compile(
    r"""(?:(?:request\.GET|query_params)(?:\.get\(|\[)|single_param\(request,)\s*["']([\w-]+)["']"""
)
FILTER_SERIALIZER = re.compile(r"query_params\(\s*(\w+)")
PLACEHOLDERS = {"slug": "x-missing", "uuid": str(uuid.UUID(int=1)), "str": "x", "int": "1", "path": "x"}


def _walk(resolver=None, prefix=""):
    """(route with placeholders filled in, view callback) for every URL pattern."""
    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        route = str(entry.pattern)
        if isinstance(entry, URLResolver):
            yield from _walk(entry, prefix + route)
        elif isinstance(entry, URLPattern):
            yield prefix + route, entry.callback


def _fill(route: str) -> str:
    route = re.sub(r"<(?:(\w+):)?\w+>", lambda m: PLACEHOLDERS[m.group(1) or "str"], route)
    return "/" + route.lstrip("^").rstrip("$").replace("\\", "")


def _view_function(callback):
    cls = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
    return cls or inspect.unwrap(callback)


def _source_parameters(function, depth=2) -> tuple[bool, set[str]]:
    """(reads the query string, parameter names) from the view's code and the module functions it calls."""
    try:
        source = inspect.getsource(function)
    except (OSError, TypeError):
        return False, set()
    module = sys.modules[function.__module__]
    reads, names = bool(READS_QUERY.search(source)), set(PARAMETER_NAMES.findall(source))
    for serializer_name in FILTER_SERIALIZER.findall(source):
        serializer = getattr(module, serializer_name, None)
        if serializer is not None:
            names |= set(serializer().fields)
    if depth:
        for called in set(re.findall(r"\b(\w+)\(request\b", source)):
            other = getattr(module, called, None)
            if inspect.isfunction(other) and other is not function:
                more_reads, more = _source_parameters(other, depth - 1)
                reads, names = reads or more_reads, names | more
    return reads, names


def _schema_parameters() -> dict[str, set[str]]:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    found = {}
    for path, item in schema["paths"].items():
        get = item.get("get") or {}
        found[path] = {p["name"] for p in get.get("parameters", []) if p["in"] == "query"}
    return found


def _admin_lists():
    from django.contrib import admin

    for model, model_admin in admin.site._registry.items():
        names = {"q", "o", "p"} | {f if isinstance(f, str) else f[0] for f in model_admin.list_filter if f}
        yield f"/admin/{model._meta.app_label}/{model._meta.model_name}/", {n for n in names if isinstance(n, str)}


def lists_with_parameters() -> list[tuple[str, set[str]]]:
    """Every page and endpoint that reads its query string, with the names it reads; fails on unknown ones."""
    schema = _schema_parameters()
    found, unknown = [], []
    for route, callback in _walk():
        function = _view_function(callback)
        if not function.__module__.startswith(OUR_APPS):
            continue
        url = _fill(route)
        schema_path = "/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route)
        reads, names = _source_parameters(function)
        if inspect.isclass(function):  # DRF views: their code and every parameter the schema lists
            for attribute in ("get", "get_queryset", "list"):
                if attribute in vars(function):
                    more_reads, more = _source_parameters(getattr(function, attribute))
                    reads, names = reads or more_reads, names | more
            names |= schema.get(schema_path, set())
        if reads and not names:
            unknown.append(url)
        if names:
            found.append((url, names))
    assert not unknown, f"these views read the query string, but their parameters cannot be found: {unknown}"
    return found + list(_admin_lists())


def test_the_walk_finds_the_known_lists():
    found = dict(lists_with_parameters())
    assert {"kind", "tag", "lifecycle", "owner", "page"} <= found["/catalog/"]
    assert {"kind", "tag", "lifecycle", "owner", "limit", "offset"} <= found["/api/v1/catalog/"]
    assert {"kind", "state", "team", "limit", "offset"} <= found["/api/v1/resources/"]
    assert {"tag", "page"} <= found["/articles/"]  # through guide_list, which it calls
    assert "q" in found["/search/"] and "q" in found["/api/v1/search/"]
    assert "tail" in found[f"/api/v1/resources/{uuid.UUID(int=1)}/logs/"]
    assert "q" in found["/admin/provisioning/resource/"]


@pytest.mark.parametrize("user_kind", ["scientist", "keeper"])
def test_a_nul_in_every_query_parameter_of_every_list_is_a_400_with_a_message(user_kind, alice, keeper):
    user = alice if user_kind == "scientist" else keeper
    browser = Client()
    browser.force_login(user)
    token = Token.objects.create(user=user).key
    checked = 0
    for url, names in lists_with_parameters():
        for name in sorted(names):
            headers = {"HTTP_AUTHORIZATION": f"Token {token}"} if url.startswith("/api/") else {}
            response = browser.get(f"{url}?{name}=a%00b", **headers)
            assert response.status_code == 400, (url, name, response.status_code)
            text = response.json()["message"] if url.startswith("/api/") else response.content.decode()
            assert "contains a character that cannot be stored" in text, (url, name, text[:300])
            checked += 1
    assert checked > 40


def test_the_message_names_the_field_in_words(alice):
    browser = Client()
    browser.force_login(alice)
    body = browser.get("/api/v1/resources/?team=team-a%00").json()
    assert body["error"] == "unstorable_character"
    assert body["message"].startswith("The team name contains a character that cannot be stored")
    assert "team" in body["fields"]
    page = browser.get("/catalog/?tag=%00gpu")
    assert page.status_code == 400 and "The tag contains a character that cannot be stored" in page.content.decode()


def test_a_nul_in_a_path_a_header_or_a_form_field_is_a_400(alice, team_a):
    browser = Client()
    browser.force_login(alice)
    assert browser.get("/catalog/a%00b/").status_code == 400
    assert browser.get("/api/v1/me/", HTTP_IDEMPOTENCY_KEY="a\x00b").status_code == 400
    response = browser.post("/teams/switch/", {"team": "team-a\x00"})
    assert response.status_code == 400 and "team name contains a character" in response.content.decode()


def test_json_bodies_with_unstorable_text_or_numbers_are_a_400_and_change_nothing(api, keeper, alice, templates):
    from catalog.models import Entry
    from provisioning.models import Resource

    client = api(keeper)
    before = Entry.objects.count()
    for body in (
        '{"name": "Bad\\u0000name", "summary": "x"}',
        '{"name": "Broken \\ud800 text"}',
        '{"name": "ok", "links": [{"title": "t\\u0000", "url": "https://example.org"}]}',
        '{"name": "ok", "tags\\u0000": []}',
    ):
        response = client.post("/api/v1/catalog/", body, content_type="application/json")
        assert response.status_code == 400, (body, response.content)
        assert "cannot be stored" in response.json()["message"]
    assert Entry.objects.count() == before

    client = api(alice)
    for parameters, words in (
        ('{"size_gb": 1e999}', "not a finite number"),
        ('{"n": 1' + "0" * 30 + "}", "too large"),
        ('{"n": -1e300}', "too large"),  # whole or not, one bound for every number (the schema says the same)
    ):
        body = '{"template": "postgres-database", "name": "db-one", "parameters": ' + parameters + "}"
        response = client.post("/api/v1/resources/", body, content_type="application/json")
        assert response.status_code == 400 and words in response.json()["message"], response.content
    assert not Resource.objects.exists()


def test_limits_offsets_and_sizes_out_of_range_are_a_400(api, alice, templates):
    resource = make_resource(templates["postgres-database"], alice.memberships.first().team, alice, state="ready")
    client = api(alice)
    for query in ("limit=0", "limit=501", "limit=" + "9" * 30, "limit=abc", "offset=-1", "offset=" + "9" * 30):
        response = client.get(f"/api/v1/resources/?{query}")
        assert response.status_code == 400, (query, response.content)
        assert "must be a whole number" in response.json()["message"]
    assert client.get("/api/v1/resources/?limit=500&offset=9223372036854775807").status_code == 200
    for tail in ("0", "5001", "9" * 30, "x"):
        assert client.get(f"/api/v1/resources/{resource.id}/logs/?tail={tail}").status_code == 400
    assert client.get(f"/api/v1/resources/{resource.id}/logs/?tail=5000").status_code == 200
    assert client.get("/api/v1/resources/not-a-uuid/").status_code == 404
    assert client.get("/api/v1/search/?q=" + "x" * 201).status_code == 400
    assert client.get("/api/v1/catalog/?kind=nonsense").status_code == 400


def test_only_a_lost_database_is_an_outage_and_no_alert_is_promised():
    request = RequestFactory().get("/api/v1/catalog/")
    try:
        raise OperationalError("connection refused")
    except OperationalError:
        response = portal_views.server_error(request)
    assert response.status_code == 503 and b"alert" not in response.content
    for refused in (DataError("invalid byte sequence"), IntegrityError("duplicate key")):
        try:
            raise refused
        except (DataError, IntegrityError):
            response = portal_views.server_error(request)
        assert response.status_code == 500, refused


def test_api_bodies_hold_to_the_schema_unknown_fields_and_json_types(api, keeper):
    from catalog.models import Entry

    client = api(keeper)
    for body, field in (
        ({"name": "Tool", "colour": "red"}, "colour"),
        ({"name": "Tool", "featured": 0}, "featured"),
        ({"name": 5}, "name"),
        ({"name": "Tool", "tags": [0]}, "tags"),
        ({"name": "Tool", "related_templates": {}}, "related_templates"),
        ({"name": "Tool", "links": [{"title": "x", "url": "javascript:alert(1)"}]}, "links"),
    ):
        response = client.post("/api/v1/catalog/", body, format="json")
        assert response.status_code == 400 and field in response.json()["fields"], (body, response.content)
    assert not Entry.objects.exists()
    assert client.post("/api/v1/catalog/", {"name": "Tool", "featured": True}, format="json").status_code == 201


def test_a_partial_update_cannot_store_half_a_link(api, keeper):
    """Found by the fuzz test: a PATCH stored a link without its address, and every read of the entry failed."""
    from catalog.models import Entry

    entry = Entry.objects.create(slug="tool", name="Tool")
    client = api(keeper)
    response = client.patch("/api/v1/catalog/tool/", {"links": [{"title": "Docs"}]}, format="json")
    assert response.status_code == 400 and "url" in str(response.json()["fields"])
    entry.refresh_from_db()
    assert entry.links == [] and client.get("/api/v1/catalog/tool/").status_code == 200


PAGE_TEXT = st.text(max_size=60) | st.sampled_from(["", "0", "-1", "9" * 25, "\x00", "a\x00b", "%", "' OR 1=1"])


@pytest.mark.parametrize("user_kind", ["scientist", "keeper"])
def test_list_pages_fuzzed_over_their_parameters_never_fail(user_kind, alice, keeper, templates):
    """Hypothesis over every list page's query parameters (pages and API): any 4xx is fine; no 5xx, no 503."""
    user = alice if user_kind == "scientist" else keeper
    make_resource(templates["postgres-database"], alice.memberships.first().team, alice, state="ready")
    browser = Client()
    browser.force_login(user)
    lists = [(url, sorted(names)) for url, names in lists_with_parameters()]

    @settings(max_examples=60, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(data=st.data())
    def fuzz(data):
        url, names = data.draw(st.sampled_from(lists))
        chosen = data.draw(st.lists(st.sampled_from(names), min_size=1, max_size=3, unique=True))
        query = {name: data.draw(PAGE_TEXT) for name in chosen}
        response = browser.get(url, query)
        assert response.status_code < 500, (url, query, response.status_code)

    fuzz()


def test_free_form_values_in_the_schema_are_what_the_edge_takes(api, alice):
    """Declared parameters (apply) are free-form: the schema says what the edge lets through, at any depth."""
    schema = api(alice).get("/api/schema/?format=json").json()
    value = schema["components"]["schemas"]["JsonValue"]
    branches = {b.get("type"): b for b in value["anyOf"]}
    assert branches["number"]["maximum"] == 2**63 - 1 and branches["number"]["minimum"] == -(2**63 - 1)
    assert branches["array"]["items"] == {"$ref": "#/components/schemas/JsonValue"}
    assert branches["object"]["additionalProperties"] == {"$ref": "#/components/schemas/JsonValue"}
    body = schema["paths"]["/api/v1/apply/"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    ref = body["$ref"].rsplit("/", 1)[1]
    item = schema["components"]["schemas"][ref]["properties"]["resources"]["items"]
    item = schema["components"]["schemas"][item["$ref"].rsplit("/", 1)[1]] if "$ref" in item else item
    assert item["properties"]["parameters"]["additionalProperties"] == {"$ref": "#/components/schemas/JsonValue"}
    assert item["properties"]["parameters"]["propertyNames"] == {"pattern": "^[^\\x00]*$"}  # the edge refuses NUL
    assert branches["object"]["propertyNames"] == {"pattern": "^[^\\x00]*$"}
    nested = {"team": "team-a", "resources": [{"name": "x", "template": "bucket", "parameters": {"a": [[2**64]]}}]}
    refused = api(alice).post("/api/v1/apply/", nested, format="json")
    assert refused.status_code == 400 and "too large" in refused.json()["message"]


def test_a_text_longer_than_its_limit_is_refused_as_sent_not_after_trimming(api, alice, templates):
    """Found by the outside fuzz run: a 101-character name that began with a control character DRF trims (\\x1f
    counts as a space) was taken, although the schema says 100 at most."""
    name = "\x1f" + "a" * 100
    body = {"team": "team-a", "resources": [{"name": name, "template": "bucket"}]}
    response = api(alice).post("/api/v1/apply/", body, format="json")
    assert response.status_code == 400 and "no more than 100 characters" in response.json()["message"]
    fits = api(alice).post(
        "/api/v1/apply/",
        {**body, "dry_run": True, "resources": [{"name": "a" * 100, "template": "bucket"}]},
        format="json",
    )
    assert fits.status_code == 200
