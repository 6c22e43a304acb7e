"""Parameters of a request, checked against the template's JSON Schema, with errors in plain words."""

from __future__ import annotations

import re

from jsonschema import Draft202012Validator

NAME_RE = re.compile(r"^[a-z][a-z0-9-]{0,38}[a-z0-9]$")
NAME_HELP = "2 to 40 lowercase letters, digits and dashes, starting with a letter and not ending with a dash"


def name_error(name) -> str | None:
    if not isinstance(name, str) or not name:
        return "Give the resource a name, for example 'thesis-data'."
    if not NAME_RE.match(name):
        return f"Use {NAME_HELP}, for example 'thesis-data'."
    return None


def _label(schema: dict, field: str) -> str:
    label = schema.get("properties", {}).get(field, {}).get("title") or field.replace("_", " ")
    return label[:1].upper() + label[1:]


def _plain(error, schema: dict) -> tuple[str, str]:
    """(field, message a person can act on) for one jsonschema error."""
    path = list(error.absolute_path)
    field = str(path[0]) if path else ""
    validator, value, limit = error.validator, error.instance, error.validator_value
    if validator == "required":
        field = re.search(r"'([^']+)'", error.message).group(1)
        return field, f"{_label(schema, field)} is required."
    if validator == "additionalProperties":
        extra = sorted(set(error.instance) - set(schema.get("properties", {})))
        known = ", ".join(sorted(schema.get("properties", {}))) or "none"
        return (extra[0] if extra else ""), f"Unknown parameter {', '.join(extra)}; this template takes: {known}."
    label = _label(schema, field)
    if error.schema.get("x-error-message") and validator != "type":
        return field, error.schema["x-error-message"]  # the module's own words (Terraform validation blocks)
    messages = {
        "minimum": lambda: f"{label} must be at least {limit}; you gave {value}.",
        "maximum": lambda: f"{label} must be at most {limit}; you gave {value}.",
        "exclusiveMinimum": lambda: f"{label} must be more than {limit}; you gave {value}.",
        "exclusiveMaximum": lambda: f"{label} must be less than {limit}; you gave {value}.",
        "minLength": lambda: (
            f"{label} must have at least {limit} characters." if limit > 1 else f"{label} cannot be empty."
        ),
        "maxLength": lambda: f"{label} can have at most {limit} characters.",
        "minItems": lambda: f"{label} needs at least {limit} entries.",
        "maxItems": lambda: f"{label} can have at most {limit} entries.",
        "enum": lambda: f"{label} must be one of: {', '.join(map(str, limit))}.",
        "const": lambda: f"{label} must be {limit}.",
        "pattern": lambda: error.schema.get("x-pattern-message") or f"{label} has the wrong format (expected {limit}).",
    }
    if validator == "type":
        kind = {
            "integer": "a whole number",
            "number": "a number",
            "boolean": "yes or no (true/false)",
            "string": "text",
            "array": "a list",
            "object": "a set of key=value pairs",
        }.get(limit, limit)
        return field, f"{label} must be {kind}."
    if validator in messages:
        return field, messages[validator]()
    return field, f"{label}: {error.message}"


def parameters_validate(schema: dict, parameters) -> tuple[dict, dict[str, str]]:
    """Fill in defaults and validate. Returns (clean parameters, {field: message})."""
    if not isinstance(parameters, dict):
        return {}, {"parameters": "Parameters must be an object of name: value pairs."}
    schema = {**{"type": "object", "properties": {}}, **(schema or {})}
    schema.setdefault("additionalProperties", False)
    clean = dict(parameters)
    for field, spec in schema.get("properties", {}).items():
        if field not in clean and "default" in spec:
            clean[field] = spec["default"]
        # Booleans typed as integers (True == 1) would pass "integer"; refuse them explicitly.
        if spec.get("type") in ("integer", "number") and isinstance(clean.get(field), bool):
            clean[field] = str(clean[field])
    errors: dict[str, str] = {}
    for error in sorted(Draft202012Validator(schema).iter_errors(clean), key=lambda e: list(e.absolute_path)):
        field, message = _plain(error, schema)
        errors.setdefault(field or "parameters", message)
    return clean, errors
