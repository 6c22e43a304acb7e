"""One exception type for expected failures, shown to people in plain words."""

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from rest_framework import exceptions as drf_exceptions
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler


class PortalError(Exception):
    """An expected failure: the page shows `message`; the API answers {"error": code, "message": ...}."""

    status_code = 400

    def __init__(self, message: str, *, code: str = "invalid", fields: dict | None = None, status_code=None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.fields = fields or {}
        if status_code:
            self.status_code = status_code


class NotAllowed(PortalError):
    status_code = 403

    def __init__(self, message="You are not allowed to do this.", *, code="forbidden"):
        super().__init__(message, code=code)


class NotFound(PortalError):
    status_code = 404

    def __init__(self, message="Not found.", *, code="not_found"):
        super().__init__(message, code=code)


def _first_message(detail) -> str:
    if isinstance(detail, list) and detail:
        return _first_message(detail[0])
    if isinstance(detail, dict) and detail:
        key, value = next(iter(detail.items()))
        text = _first_message(value)
        return text if key in ("non_field_errors", "detail") else f"{key}: {text}"
    return str(detail)


def field_messages(detail) -> dict:
    """Per-field messages as the API answers them: {field: "message"}, nested objects for nested fields.

    One string per field (several messages joined), items of lists keyed by their index ("0", "1"...), no lists
    anywhere: the `fields` of an error never looks like a request body (generic clients, e.g. schemathesis' error
    feedback, read DRF's own {field: ["message"]} shape as paths in the body and would add a "fields" property).
    """
    if isinstance(detail, dict):
        pairs = detail.items()
    elif isinstance(detail, list | tuple) and any(isinstance(item, dict | list | tuple) for item in detail):
        pairs = ((str(index), item) for index, item in enumerate(detail))
    else:
        return {"non_field_errors": _text(detail)} if detail else {}
    fields = {}
    for key, value in pairs:
        if isinstance(value, dict) or (
            isinstance(value, list | tuple) and any(isinstance(item, dict | list | tuple) for item in value)
        ):
            if nested := field_messages(value):
                fields[str(key)] = nested
        elif text := _text(value):
            fields[str(key)] = text
    return fields


def _text(value) -> str:
    if isinstance(value, list | tuple):
        return " ".join(str(item) for item in value if str(item))
    return str(value)


# PostgreSQL's "try again" states: two requests changed the same rows at the same moment (a deadlock, a
# serialization failure, a lock it was told not to wait for). The database is fine; the request did nothing.
CONCURRENCY_SQLSTATES = {"40P01", "40001", "55P03"}
CONCURRENCY_MESSAGE = "Something else changed this at the same moment, so nothing was changed. Please try again."


def concurrency_conflict(exc) -> bool:
    """Whether `exc` (a database error) is a collision with another request, not a loss of the database."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if getattr(exc, "sqlstate", None) in CONCURRENCY_SQLSTATES:
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def api_exception_handler(exc, context):
    """Every API error as {"error": code, "message": text, "fields": {field: "message"}} (see field_messages)."""
    if concurrency_conflict(exc):
        return Response({"error": "conflict", "message": CONCURRENCY_MESSAGE}, status=status.HTTP_409_CONFLICT)
    if isinstance(exc, PortalError):
        body = {"error": exc.code, "message": exc.message}
        if exc.fields:
            body["fields"] = field_messages(exc.fields)
        return Response(body, status=exc.status_code)
    if isinstance(exc, ValidationError):
        exc = drf_exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
    if isinstance(exc, Http404):
        exc = drf_exceptions.NotFound()
    if isinstance(exc, PermissionDenied):
        exc = drf_exceptions.PermissionDenied()
    response = exception_handler(exc, context)
    if response is None:
        return None
    detail = response.data
    if isinstance(exc, drf_exceptions.ValidationError):
        body = {"error": "invalid", "message": _first_message(detail), "fields": field_messages(detail)}
    else:
        code = getattr(exc, "default_code", "error")
        if isinstance(exc, drf_exceptions.NotAuthenticated):
            message = "Sign in first: send 'Authorization: Token <token>' (POST /api/v1/auth/token/ gives one)."
        elif isinstance(exc, drf_exceptions.AuthenticationFailed):
            message = f"{_first_message(detail)} Get a new token with POST /api/v1/auth/token/."
        else:
            message = _first_message(detail)
        body = {"error": code, "message": message}
    response.data = body
    if response.status_code == status.HTTP_403_FORBIDDEN and isinstance(exc, drf_exceptions.NotAuthenticated):
        response.status_code = status.HTTP_401_UNAUTHORIZED
    return response
