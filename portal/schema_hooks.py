"""OpenAPI postprocessing (drf-spectacular): the schema says what the server enforces, for every endpoint at once.

- every free-text string says it cannot hold a NUL character (the edge refuses it: portal.input_guard);
- every operation documents its error answers ({"error", "message", "fields"}) for 400, 401, 403, 404 and others;
- operations that create or return an object link to the operations that take its id (OpenAPI links), so client
  generators and stateful fuzzers reach them with real ids.

Generic by design: endpoints added later get the same treatment without code of their own.
"""

from __future__ import annotations

NO_NUL_PATTERN = "^[^\\x00]*$"
ERROR_SCHEMA = {
    "type": "object",
    "description": "Every error: a code, a message in plain words, and per-field messages for invalid input.",
    "properties": {
        "error": {"type": "string"},
        "message": {"type": "string"},
        "fields": {"type": "object", "additionalProperties": True},
    },
    "required": ["error", "message"],
}
ERROR_STATUSES = {
    "400": "The request cannot be used; the message says why, and nothing was changed.",
    "401": "Not signed in: send 'Authorization: Token <token>'.",
    "403": "Signed in, but not allowed to do this.",
    "404": "No such object (or not one you may see).",
    "default": "Any other error (405, 406, 409, 415, 429...), in the same shape.",
}
METHODS = ("get", "put", "post", "patch", "delete")


def _no_nul_strings(node) -> None:
    if isinstance(node, dict):
        if node.get("type") == "string" and not ({"enum", "pattern", "format"} & node.keys()):
            node["pattern"] = NO_NUL_PATTERN
        for value in node.values():
            _no_nul_strings(value)
    elif isinstance(node, list):
        for value in node:
            _no_nul_strings(value)


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
    paths = result.get("paths", {})
    for source_path, source_item in paths.items():
        post = source_item.get("post")
        if not post:
            continue
        collection = source_path.split("{", 1)[0]
        own = set(_path_parameters(source_path))
        for status, response in post.get("responses", {}).items():
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


def postprocess(result, generator, request, public):
    """SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"] (after drf-spectacular's own enum hook)."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas.setdefault("Error", ERROR_SCHEMA)
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
    _no_nul_strings(result.get("paths", {}))
    _no_nul_strings(schemas)
    return result
