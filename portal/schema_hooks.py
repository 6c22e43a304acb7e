"""OpenAPI postprocessing (drf-spectacular): the schema says what the server enforces, for every endpoint at once.

- every free-text string a client sends says it cannot hold a NUL character, and every object a client sends names
  its properties and takes no others (the edge refuses NUL anywhere: portal.input_guard); request bodies are
  documented as JSON (the API also parses forms, for the browsable API and tests);
- a slug that must name an existing object (SlugRelatedField) lists the slugs that exist;
- every operation documents its error answers ({"error", "message", "fields"}) for 400, 401, 403, 404 and others;
- operations that create or return an object link to the operations that take its id (OpenAPI links), so client
  generators and stateful fuzzers reach them with real ids.

Generic by design: endpoints added later get the same treatment without code of their own.
"""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiSerializerFieldExtension

NO_NUL_PATTERN = "^[^\\x00]*$"
BIGINT = 2**63 - 1
ERROR_SCHEMA = {
    "type": "object",
    "description": "Every error: a code, a message in plain words, and per-field messages for invalid input.",
    "properties": {
        "error": {"type": "string"},
        "message": {"type": "string"},
        "fields": {"$ref": "#/components/schemas/FieldErrors"},
    },
    "required": ["error", "message"],
}
FIELD_ERRORS_SCHEMA = {
    "type": "object",
    "description": "What is wrong with each field, in words; a nested object for a field's own fields or items.",
    "additionalProperties": {
        "anyOf": [{"type": "string"}, {"$ref": "#/components/schemas/FieldErrors"}],
    },
}
# A free-form value (declared parameters, answers...): what the edge lets through, at any depth.
JSON_VALUE_SCHEMA = {
    "description": "Any JSON value the portal can store: text without NUL, numbers within ±(2^63-1).",
    "anyOf": [
        {"type": "null"},
        {"type": "string", "pattern": NO_NUL_PATTERN},
        {"type": "boolean"},
        {"type": "number", "minimum": -BIGINT, "maximum": BIGINT},
        {"type": "array", "items": {"$ref": "#/components/schemas/JsonValue"}},
        {
            "type": "object",
            "additionalProperties": {"$ref": "#/components/schemas/JsonValue"},
            "propertyNames": {"pattern": NO_NUL_PATTERN},
        },
    ],
}
ERROR_STATUSES = {
    "400": "The request cannot be used; the message says why, and nothing was changed.",
    "401": "Not signed in: send 'Authorization: Token <token>'.",
    "403": "Signed in, but not allowed to do this.",
    "404": "No such object (or not one you may see).",
    "default": "Any other error (405, 406, 409, 415, 429...), in the same shape.",
}
METHODS = ("get", "put", "post", "patch", "delete")


def types_of(node: dict) -> set[str]:
    """A schema's types: OpenAPI 3.1 (JSON Schema) writes a nullable one as a list, ["string", "null"]."""
    kind = node.get("type")
    return {kind} if isinstance(kind, str) else set(kind) if isinstance(kind, list) else set()


def _client_sent(node) -> None:
    """What a client sends: strings without NUL, numbers a database holds, objects without undeclared (or
    NUL-named) properties."""
    if isinstance(node, dict):
        kinds = types_of(node)
        if "string" in kinds and not ({"enum", "pattern", "format", "const"} & node.keys()):
            node["pattern"] = NO_NUL_PATTERN
        if kinds & {"integer", "number"} and not ({"enum", "const"} & node.keys()):
            # What PostgreSQL's bigint holds; the edge refuses the rest (portal.input_guard, portal.parsers).
            node.setdefault("maximum", BIGINT)
            node.setdefault("minimum", -BIGINT)
        if "object" in kinds and node.get("properties"):
            node.setdefault("additionalProperties", False)
        elif "object" in kinds and node.get("additionalProperties") in ({}, True, None):
            # What the edge takes: any value it can store, under a name without NUL.
            node["additionalProperties"] = {"$ref": "#/components/schemas/JsonValue"}
            node.setdefault("propertyNames", {"pattern": NO_NUL_PATTERN})
        for key, value in node.items():
            if key != "enum":
                _client_sent(value)
    elif isinstance(node, list):
        for value in node:
            _client_sent(value)


def _request_parts(result: dict):
    """Parameters and request bodies of every operation, and the request components (COMPONENT_SPLIT_REQUEST)."""
    for item in result.get("paths", {}).values():
        for method in METHODS:
            operation = item.get(method)
            if not operation:
                continue
            yield operation.get("parameters", [])
            body = operation.get("requestBody", {}).get("content", {})
            if "application/json" in body:
                for media_type in [m for m in body if m != "application/json"]:
                    del body[media_type]
            yield body
    for name, schema in result.get("components", {}).get("schemas", {}).items():
        if name.endswith("Request"):
            yield schema


def _body_properties(result: dict, response: dict) -> set[str]:
    schema = response.get("content", {}).get("application/json", {}).get("schema", {})
    ref = schema.get("$ref", "")
    if ref.startswith("#/components/schemas/"):
        schema = result.get("components", {}).get("schemas", {}).get(ref.rsplit("/", 1)[1], {})
    return set(schema.get("properties", {}))


def _path_parameters(path: str) -> list[str]:
    return [part[1:-1] for part in path.split("/") if part.startswith("{") and part.endswith("}")]


def _body_field(parameter: str, properties: set[str]) -> str | None:
    for candidate in (parameter, "id" if parameter == "id" or parameter.endswith("_id") else None):
        if candidate and candidate in properties:
            return candidate
    return None


def _add_links(result: dict) -> None:
    """Links from what creates objects (POST) to the operations that take their ids.

    (Not from lists: a link from an empty list has no id to give, which clients and fuzzers report as an error.)
    """
    paths = result.get("paths", {})
    for source_path, source_item in paths.items():
        if operation := source_item.get("post"):
            _link_operation(result, paths, source_path, operation)


def _link_operation(result: dict, paths: dict, source_path: str, operation: dict) -> None:
    collection = source_path.split("{", 1)[0]
    own = set(_path_parameters(source_path))
    for status, response in operation.get("responses", {}).items():
        if status not in ("200", "201"):
            continue
        properties = _body_properties(result, response)
        links = response.setdefault("links", {})
        for target_path, target_item in paths.items():
            wanted = _path_parameters(target_path)
            if not wanted or not target_path.startswith(collection):
                continue
            values, from_body = {}, False
            for parameter in wanted:
                if parameter in own:
                    values[parameter] = f"$request.path.{parameter}"
                elif field := _body_field(parameter, properties):
                    values[parameter], from_body = f"$response.body#/{field}", True
            if len(values) != len(wanted) or not (from_body or target_path == source_path):
                continue
            for method in METHODS:
                target = target_item.get(method)
                if target and target.get("operationId"):
                    links[target["operationId"]] = {"operationId": target["operationId"], "parameters": values}
        if not links:
            del response["links"]


# Operations whose `team` (query parameter or body property) must be one of the caller's own teams.
OWN_TEAM = {("/api/v1/apply/", "post"), ("/api/v1/export/", "get"), ("/api/v1/quota-requests/", "post")}


def _own_teams(result: dict, request) -> None:
    """`team` as the enum of the caller's teams, where the server refuses any other (read signed in only)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return
    from portal.models import Team

    slugs = list(Team.objects.filter(memberships__user=user).order_by("slug").values_list("slug", flat=True)[:500])
    if not slugs:
        return
    schemas = result.get("components", {}).get("schemas", {})
    for path, method in OWN_TEAM:
        operation = result.get("paths", {}).get(path, {}).get(method)
        if not operation:
            continue
        targets = [p["schema"] for p in operation.get("parameters", []) if p.get("name") == "team" and "schema" in p]
        body = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
        ref = body.get("$ref", "")
        body = schemas.get(ref.rsplit("/", 1)[1], {}) if ref.startswith("#/components/schemas/") else body
        if isinstance(body.get("properties", {}).get("team"), dict):
            targets.append(body["properties"]["team"])
        for target in targets:
            for key in ("pattern", "minLength", "maxLength", "format"):
                target.pop(key, None)
            target["enum"] = slugs


def _join_request(result: dict) -> None:
    """POST /api/v1/join-requests/: a team that exists, or the name of a new one (one of the two)."""
    from portal.models import Team

    body = result.get("components", {}).get("schemas", {}).get("JoinRequestCreateRequest")
    if not body or "team" not in body.get("properties", {}):
        return
    slugs = list(Team.objects.order_by("slug").values_list("slug", flat=True)[:500])
    body["properties"]["team"] = {"type": "string", "enum": [*slugs, ""], "description": "Slug of the team to join."}
    operation = result.get("paths", {}).get("/api/v1/join-requests/", {}).get("post", {})
    if "requestBody" in operation:
        operation["requestBody"]["required"] = True  # one of the two must come
    existing = [{"required": ["team"], "properties": {"team": {"enum": slugs}}}] if slugs else []  # none yet: new only
    body["anyOf"] = [
        *existing,
        {
            "required": ["new_team_name"],
            "properties": {"new_team_name": {"pattern": NON_BLANK_PATTERN, "maxLength": 100}},
        },
    ]


def _request_status(result: dict) -> None:
    """POST /api/v1/requests/{id}/status/: closing a request (done, declined) needs a reason."""
    body = result.get("components", {}).get("schemas", {}).get("StatusRequest")
    if not body or set(body.get("properties", {})) != {"status", "reason"}:
        return
    body["anyOf"] = [
        {"properties": {"status": {"enum": ["new", "in_progress", "waiting"]}}},
        {"required": ["reason"], "properties": {"reason": {"pattern": NON_BLANK_PATTERN}}},
    ]


MEMBER_PATH = "/api/v1/teams/{slug}/members/{user_id}/"


def _member_example(result: dict, request) -> None:
    """Changing or removing a member: a membership the caller may change (a team it administers, someone other
    than itself who is not the team's last admin), as the example of `slug` and `user_id`."""
    from portal.models import Membership
    from portal.permissions import can_admin_team

    user = getattr(request, "user", None)
    item = result.get("paths", {}).get(MEMBER_PATH)
    if not item or user is None or not user.is_authenticated:
        return
    candidates = (
        Membership.objects.exclude(user=user)
        .filter(role=Membership.Role.MEMBER)
        .select_related("team")
        .order_by("team__slug", "user_id")[:50]
    )
    membership = next((m for m in candidates if can_admin_team(user, m.team)), None)
    if membership is None:
        return
    for operation in item.values():
        for parameter in operation.get("parameters", []) if isinstance(operation, dict) else []:
            if parameter.get("in") == "path" and parameter.get("name") == "slug":
                parameter["example"] = membership.team.slug
            elif parameter.get("in") == "path" and parameter.get("name") == "user_id":
                parameter["example"] = membership.user_id


INVITATIONS_PATH = "/api/v1/teams/{slug}/invitations/"


def _invitation_example(result: dict, request) -> None:
    """Inviting someone: a team the caller may invite to, and an e-mail address (anyone can be invited by e-mail;
    a user name would show who has an account)."""
    from portal.models import Team
    from portal.permissions import can_admin_team

    user = getattr(request, "user", None)
    operation = result.get("paths", {}).get(INVITATIONS_PATH, {}).get("post")
    if not operation or user is None or not user.is_authenticated:
        return
    team = next((t for t in Team.objects.order_by("slug")[:50] if can_admin_team(user, t)), None)
    if team is None:
        return
    for parameter in operation.get("parameters", []):
        if parameter.get("in") == "path" and parameter.get("name") == "slug":
            parameter["example"] = team.slug
    media = operation.get("requestBody", {}).get("content", {}).get("application/json")
    if media is not None:
        media["example"] = {"recipient": "newcomer@example.org", "role": "member"}


def _distinct_types(node) -> None:
    """["object", "null", "null"] -> ["object", "null"]: drf-spectacular adds "null" once per reason a field may be
    null (its own and the serializer's), and a type list must not repeat itself. A nullable enum lists null."""
    if isinstance(node, dict):
        if isinstance(node.get("type"), list):
            node["type"] = list(dict.fromkeys(node["type"]))
            if "null" in node["type"] and isinstance(node.get("enum"), list) and None not in node["enum"]:
                node["enum"].append(None)  # a nullable choice: JSON Schema's enum must list null itself
        for value in node.values():
            _distinct_types(value)
    elif isinstance(node, list):
        for value in node:
            _distinct_types(value)


def postprocess(result, generator, request, public):
    """SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"] (after drf-spectacular's own enum hook)."""
    _distinct_types(result)
    _own_teams(result, request)
    _member_example(result, request)
    _invitation_example(result, request)
    _join_request(result)
    _request_status(result)
    if scores := result.get("components", {}).get("schemas", {}).get("ScoresByCriterionRequest"):
        scores["minProperties"] = 1  # radar scores: one criterion or more
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas.setdefault("Error", ERROR_SCHEMA)
    schemas.setdefault("FieldErrors", FIELD_ERRORS_SCHEMA)
    schemas.setdefault("JsonValue", JSON_VALUE_SCHEMA)
    for item in result.get("paths", {}).values():
        for method in METHODS:
            operation = item.get(method)
            if not operation:
                continue
            responses = operation.setdefault("responses", {})
            for status, description in ERROR_STATUSES.items():
                responses.setdefault(
                    status,
                    {
                        "description": description,
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                    },
                )
    _add_links(result)
    for part in _request_parts(result):
        _client_sent(part)
    return result


class SlugRelatedFieldExtension(OpenApiSerializerFieldExtension):
    """A slug that must name an existing object: the schema lists the slugs that exist (up to 500)."""

    target_class = "rest_framework.relations.SlugRelatedField"
    match_subclasses = True

    def map_serializer_field(self, auto_schema, direction):
        schema = {"type": "string"}
        field = self.target
        if direction == "request" and not field.read_only and field.queryset is not None:
            slugs = list(field.get_queryset().order_by(field.slug_field).values_list(field.slug_field, flat=True)[:501])
            if 0 < len(slugs) <= 500:
                schema["enum"] = slugs
                if field.allow_null:  # JSON Schema: a nullable choice lists null itself
                    schema["type"], schema["enum"] = ["string", "null"], [*slugs, None]
        return schema


# What str.strip() takes away (str.isspace()), spelled out so that every regex engine reads the same class.
_SPACE = "\\t-\\r\\x1c- \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000"
NON_BLANK_PATTERN = f"^[^\\x00]*[^\\x00{_SPACE}][^\\x00]*$"


class CharFieldExtension(OpenApiSerializerFieldExtension):
    """A text field that may not be blank: DRF trims spaces first, so the schema asks for one non-space character.

    (drf-spectacular says minLength: 1, which "\\n" satisfies; the server then answers "may not be blank".)
    """

    target_class = "rest_framework.fields.CharField"
    match_subclasses = False

    def map_serializer_field(self, auto_schema, direction):
        schema = auto_schema._map_serializer_field(self.target, direction, bypass_extensions=True)
        field = self.target
        if (
            direction == "request"
            and not field.read_only
            and not field.allow_blank
            and field.trim_whitespace
            and "string" in types_of(schema)
            and not ({"enum", "pattern", "format"} & schema.keys())
        ):
            schema["pattern"] = NON_BLANK_PATTERN
        return schema


class RequiredTextExtension(OpenApiSerializerFieldExtension):
    """portal.serializers.RequiredText: the service refuses blank text in its own words; the schema says non-blank."""

    target_class = "portal.serializers.RequiredText"

    def map_serializer_field(self, auto_schema, direction):
        schema = auto_schema._map_serializer_field(self.target, direction, bypass_extensions=True)
        if direction == "request":
            schema["minLength"] = max(1, schema.get("minLength", 0))
            schema["pattern"] = NON_BLANK_PATTERN
        return schema


class DictFieldExtension(OpenApiSerializerFieldExtension):
    """A dictionary that may not be empty (allow_empty=False) says so: minProperties 1."""

    target_class = "rest_framework.fields.DictField"
    match_subclasses = False

    def map_serializer_field(self, auto_schema, direction):
        schema = auto_schema._map_serializer_field(self.target, direction, bypass_extensions=True)
        if direction == "request" and not self.target.allow_empty:
            schema["minProperties"] = max(1, schema.get("minProperties", 0))
        return schema
