"""Input the database cannot take is refused at the edge: a 400 in plain words, never an outage.

One place, used by every page and endpoint without code of their own:

- `InputGuardMiddleware` checks the path, every query parameter, every form field (POST) and the request headers
  for characters PostgreSQL cannot store (NUL) or Python cannot encode (lone surrogates);
- the DRF parsers of portal.parsers check every string (keys too) of JSON and form bodies, and refuse numbers a
  database cannot hold (NaN, infinity, integers beyond 64 bits);
- `BoundedLimitOffsetPagination` refuses limits and offsets outside what the schema says (and PostgreSQL holds);
- `query_params(serializer_class, request)` validates a list's filters with the same serializer that documents
  them in the OpenAPI schema (`extend_schema(parameters=[serializer_class])`), so the schema tells the truth.
"""

from __future__ import annotations

import math
import re

from django.http import JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.shortcuts import render
from rest_framework import serializers
from rest_framework.pagination import LimitOffsetPagination

from portal.errors import PortalError, field_messages
from portal.json_object import JSONObject

BIGINT_MAX = 2**63 - 1  # PostgreSQL bigint; also what LIMIT and OFFSET take
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")

# Words for the names people meet most; anything else is named as it was sent.
LABELS = {
    "q": "search text",
    "team": "team name",
    "name": "name",
    "tag": "tag",
    "tags": "tags",
    "kind": "kind",
    "state": "state",
    "lifecycle": "lifecycle",
    "owner": "owner",
    "template": "template name",
    "reason": "reason",
    "step": "step",
    "page": "page number",
    "limit": "limit",
    "offset": "offset",
    "next": "address to go back to",
}


def label(name: str) -> str:
    """'The team name' for `team`; "The field 'x'" for a name without words of its own."""
    words = LABELS.get(name)
    return f"The {words}" if words else f"The field '{name}'"


class UnusableInput(PortalError):
    """A value the database cannot store or hold: a 400 that names the field."""

    def __init__(self, name: str, message: str, *, code: str = "unusable_input"):
        super().__init__(message, code=code, fields={name: message}, status_code=400)
        self.name = name


def _what(char: str) -> str:
    if char == "\x00":
        return "a NUL character (\\0, often pasted by accident)"
    return "a broken character (half of a surrogate pair)"


def check_text(name: str, value: str, *, where: str = "") -> None:
    """Raise UnusableInput if `value` holds a character that cannot be stored."""
    match = _UNSTORABLE.search(value)
    if match:
        raise UnusableInput(
            name,
            f"{label(name)}{where} contains a character that cannot be stored: {_what(match.group())}. "
            "Remove it and try again.",
            code="unstorable_character",
        )


def check_data(data, name: str = "") -> None:
    """Walk parsed JSON or form data: every string and key storable, every number one a database can hold."""
    if isinstance(data, str):
        check_text(name or "body", data)
    elif isinstance(data, bool) or data is None:
        return
    elif isinstance(data, float):
        if not math.isfinite(data):
            raise UnusableInput(
                name or "body",
                f"{label(name or 'body')} is not a finite number; give an ordinary number.",
                code="number_out_of_range",
            )
        if abs(data) > BIGINT_MAX:  # one bound for every number, whole or not (the schema says the same)
            raise UnusableInput(
                name or "body",
                f"{label(name or 'body')} is a number too large to store (at most {BIGINT_MAX}).",
                code="number_out_of_range",
            )
    elif isinstance(data, int):
        if not -BIGINT_MAX <= data <= BIGINT_MAX:
            raise UnusableInput(
                name or "body",
                f"{label(name or 'body')} is a number too large to store (at most {BIGINT_MAX}).",
                code="number_out_of_range",
            )
    elif hasattr(data, "lists"):  # a QueryDict: every value of every key
        for key, values in data.lists():
            check_text(key, key)
            for value in values:
                if isinstance(value, str):
                    check_text(key, value)
    elif isinstance(data, dict):
        for key, value in data.items():
            key = str(key)
            check_text(name or key, key, where=" has a key that" if name else "")
            check_data(value, f"{name}.{key}" if name else key)
    elif isinstance(data, list | tuple):
        for index, value in enumerate(data):
            check_data(value, f"{name}[{index}]" if name else f"[{index}]")


def _wants_json(request) -> bool:
    return request.path_info.startswith("/api/") or "application/json" in request.headers.get("Accept", "")


def refusal(request, error: PortalError):
    """The 400 answer: {"error", "message", "fields"} for the API, a page with the message for people."""
    if _wants_json(request):
        body = {"error": error.code, "message": error.message, "fields": field_messages(error.fields)}
        return JsonResponse(body, status=400)
    return render(request, "400.html", {"message": error.message}, status=400)


def request_problem(request) -> PortalError | None:
    """The first unusable value in the path, query string, headers or form fields; None when all is well."""
    try:
        if _UNSTORABLE.search(request.path_info):
            raise UnusableInput(
                "path",
                "The address contains a character that cannot be used: "
                f"{_what(_UNSTORABLE.search(request.path_info).group())}. Check the link.",
                code="unstorable_character",
            )
        check_data(request.GET)
        for key, value in request.META.items():
            if key.startswith("HTTP_") and isinstance(value, str) and "\x00" in value:
                raise UnusableInput(
                    key[5:].replace("_", "-").title(),
                    f"The header {key[5:].replace('_', '-').title()} contains a NUL character (\\0). Remove it.",
                    code="unstorable_character",
                )
        if request.method == "POST" and request.content_type in (
            "application/x-www-form-urlencoded",
            "multipart/form-data",
        ):
            try:
                check_data(request.POST)
            except MultiPartParserError as exc:
                raise UnusableInput("body", f"The form data cannot be read ({exc}).", code="invalid") from None
    except UnusableInput as error:
        return error
    return None


class InputGuardMiddleware:
    """Refuse requests whose path, query, headers or form fields hold what the database cannot store."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        problem = request_problem(request)
        if problem is not None:
            return refusal(request, problem)
        return self.get_response(request)


class BoundedLimitOffsetPagination(LimitOffsetPagination):
    """DRF's limit/offset, but a bad or out-of-range value is a 400 (as the schema says), never a silent default."""

    max_limit = 500

    def _bounded(self, request, name: str, default: int, minimum: int, maximum: int) -> int:
        values = request.query_params.getlist(name)
        if not values:
            return default
        raw = values[-1]
        try:
            value = int(raw) if len(values) == 1 else None
        except ValueError:
            value = None
        if value is None or not minimum <= value <= maximum:
            message = f"{label(name)} must be a whole number from {minimum} to {maximum}; you gave '{raw[:40]}'."
            raise UnusableInput(name, message, code="invalid")
        return value

    def get_limit(self, request):
        return self._bounded(request, self.limit_query_param, self.default_limit, 1, self.max_limit)

    def get_offset(self, request):
        return self._bounded(request, self.offset_query_param, 0, 0, BIGINT_MAX)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        bounds = {
            self.limit_query_param: {"minimum": 1, "maximum": self.max_limit, "default": self.default_limit},
            self.offset_query_param: {"minimum": 0, "maximum": BIGINT_MAX, "default": 0},
        }
        for parameter in parameters:
            parameter["schema"].update(bounds.get(parameter["name"], {}))
        return parameters


def _json_kind(field) -> list[tuple[tuple, str]]:
    """The JSON type a field takes in a JSON body ([] for any): DRF would also take "1" for 1, 0 for false..."""
    if isinstance(field, serializers.BooleanField):
        return [((bool,), "true or false")]
    if isinstance(field, serializers.IntegerField):
        return [((int,), "a whole number")]
    if isinstance(field, serializers.FloatField | serializers.DecimalField):
        return [((int, float), "a number")]
    if isinstance(field, serializers.CharField):
        return [((str,), "text")]
    return []


def _whole_floats_as_integers(data: dict, name: str, field) -> None:
    """5.0 is a whole number (JSON has one number type; JSON Schema, which the API schema is written in, calls 5.0
    an integer): an integer field takes it as 5. 5.5 stays and is refused in words."""
    if isinstance(field, serializers.ListField) and isinstance(data.get(name), list):
        if isinstance(field.child, serializers.IntegerField):
            data[name] = [int(v) if isinstance(v, float) and v.is_integer() else v for v in data[name]]
    elif isinstance(field, serializers.IntegerField):
        value = data.get(name)
        if isinstance(value, float) and value.is_integer():
            data[name] = int(value)


def refuse_unknown_fields() -> None:
    """Every DRF serializer refuses fields it does not know (a typo is not silently dropped), and a list of related
    objects refuses an object in place of the list: the schema says `additionalProperties: false` and `type: array`
    for what clients send (portal.schema_hooks); this makes it true for every endpoint, present and future.
    Installed once, from PortalConfig.ready."""
    from rest_framework.relations import ManyRelatedField

    original = serializers.Serializer.to_internal_value
    if getattr(original, "refuses_unknown_fields", False):
        return
    many_original = ManyRelatedField.to_internal_value

    def many_to_internal_value(self, data):
        if hasattr(data, "keys"):
            self.fail("not_a_list", input_type=type(data).__name__)
        return many_original(self, data)

    ManyRelatedField.to_internal_value = many_to_internal_value

    def to_internal_value(self, data):
        if hasattr(data, "keys") and not isinstance(self, serializers.ListSerializer):
            unknown = sorted(str(key) for key in data if key not in self.fields)
            if unknown:
                known = ", ".join(name for name, field in self.fields.items() if not field.read_only)
                raise serializers.ValidationError(
                    {key: f"Unknown field '{key}'; this takes: {known or 'nothing'}." for key in unknown}
                )
            if isinstance(data, JSONObject):
                wrong = {}
                for name, field in self.fields.items():
                    _whole_floats_as_integers(data, name, field)
                    values = [data.get(name)]
                    if isinstance(field, serializers.ListField) and isinstance(data.get(name), list):
                        field, values = field.child, data[name]
                    for value in values:
                        limit = getattr(field, "max_length", None) if isinstance(field, serializers.CharField) else None
                        if limit is not None and isinstance(value, str) and len(value) > limit:
                            # As sent, before DRF trims spaces: what the schema's maxLength says.
                            wrong[name] = f"Ensure this field has no more than {limit} characters."
                        for kinds, words in _json_kind(field):
                            if value is not None and (
                                not isinstance(value, kinds) or (bool not in kinds and isinstance(value, bool))
                            ):
                                wrong[name] = f"Must be {words}."
                if wrong:
                    raise serializers.ValidationError(wrong)
        return original(self, data)

    to_internal_value.refuses_unknown_fields = True
    serializers.Serializer.to_internal_value = to_internal_value


def single_param(request, name: str, default=None):
    """A query parameter that takes one value: given twice, a 400 in words (not the last one silently)."""
    values = request.query_params.getlist(name)
    if len(values) > 1:
        raise UnusableInput(name, f"{label(name)} was given more than once; give it once.", code="invalid")
    return values[0] if values else default


def query_params(serializer_class: type[serializers.Serializer], request) -> dict:
    """The request's query parameters validated by `serializer_class` (the one its schema lists); 400 otherwise."""
    fields = serializer_class().fields
    given = {}
    for name, field in fields.items():
        values = request.query_params.getlist(name)
        if len(values) > 1 and not isinstance(field, serializers.ListField):
            raise UnusableInput(name, f"{label(name)} was given more than once; give it once.", code="invalid")
        if values:
            given[name] = values if isinstance(field, serializers.ListField) else values[0]
    data = serializer_class(data=given)  # only its own: pagination and others read the rest
    data.is_valid(raise_exception=True)
    return data.validated_data
