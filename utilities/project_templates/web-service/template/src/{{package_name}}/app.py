"""The WSGI application: health endpoints and one example endpoint."""

import json
from urllib.parse import parse_qs

READY_CHECKS = []  # functions returning None when fine, or a message; add your database, queue...


def _json(start_response, status: str, body: dict):
    data = json.dumps(body).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]


def application(environ, start_response):
    path = environ.get("PATH_INFO", "/")
    if path == "/healthz":
        return _json(start_response, "200 OK", {"status": "ok"})
    if path == "/readyz":
        problems = [p for p in (check() for check in READY_CHECKS) if p]
        if problems:
            return _json(start_response, "503 Service Unavailable", {"status": "unavailable", "problems": problems})
        return _json(start_response, "200 OK", {"status": "ok"})
    if path == "/api/hello":
        name = parse_qs(environ.get("QUERY_STRING", "")).get("name", ["world"])[0][:100]
        return _json(start_response, "200 OK", {"message": f"Hello, {name}!"})
    return _json(start_response, "404 Not Found", {"error": "not_found", "message": f"Nothing at {path}."})
