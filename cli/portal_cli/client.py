"""The portal's REST API, its configuration file and its errors, for the commands."""

import json
import os
import stat
from pathlib import Path

import httpx
from platformdirs import user_config_dir

# Exit codes that scripts can trust (also in the README).
EXIT_OK, EXIT_REFUSED, EXIT_USAGE, EXIT_AUTH, EXIT_NOT_FOUND, EXIT_CONFLICT = 0, 1, 2, 3, 4, 5
EXIT_FAILED, EXIT_UNREACHABLE, EXIT_TIMEOUT = 6, 7, 8


class CliError(Exception):
    """An error to show in the portal's own words, with the exit code that says what kind it is."""

    def __init__(self, message: str, *, code: str = "error", exit_code: int = EXIT_REFUSED, body: dict | None = None):
        super().__init__(message)
        self.message, self.code, self.exit_code, self.body = message, code, exit_code, body or {}


def config_path() -> Path:
    return Path(user_config_dir("portal")) / "config.json"


def config_load() -> dict:
    path = config_path()
    if not path.exists():
        return {}
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        raise CliError(f"Cannot read {path}; run `portal login` again.", exit_code=EXIT_AUTH) from None


def config_save(*, url: str, token: str) -> Path:
    """Write the URL and token readable by this user only (0600, in a 0700 folder)."""
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_suffix(".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, stat.S_IRUSR | stat.S_IWUSR)
    with os.fdopen(fd, "w") as handle:
        json.dump({"url": url, "token": token}, handle)
    os.chmod(temporary, 0o600)
    os.replace(temporary, path)
    return path


def _status_exit(status: int) -> int:
    if status in (401, 403):
        return EXIT_AUTH
    if status == 404:
        return EXIT_NOT_FOUND
    if status == 409:
        return EXIT_CONFLICT
    return EXIT_REFUSED


class Api:
    """A small client of /api/v1/: every failure becomes a CliError with the portal's message."""

    def __init__(self, url: str | None = None, token: str | None = None, *, need_token: bool = True):
        stored = config_load()
        self.url = (url or os.environ.get("PORTAL_URL") or stored.get("url") or "").rstrip("/")
        self.token = token or os.environ.get("PORTAL_TOKEN") or stored.get("token") or ""
        if not self.url:
            raise CliError("No portal address: run `portal login URL` or set PORTAL_URL.", exit_code=EXIT_AUTH)
        if need_token and not self.token:
            raise CliError("Not signed in: run `portal login` or set PORTAL_TOKEN.", exit_code=EXIT_AUTH)
        headers = {"Accept": "application/json", "User-Agent": "portal-cli"}
        if self.token:
            headers["Authorization"] = f"Token {self.token}"
        self.http = httpx.Client(base_url=f"{self.url}/api/v1/", headers=headers, timeout=30)

    def request(self, method: str, path: str, **kwargs):
        try:
            response = self.http.request(method, path.lstrip("/"), **kwargs)
        except httpx.HTTPError as exc:
            raise CliError(
                f"Cannot reach the portal at {self.url} ({exc.__class__.__name__}). "
                "Check the address and your network.",
                code="unreachable",
                exit_code=EXIT_UNREACHABLE,
            ) from None
        if response.status_code >= 400:
            try:
                body = response.json()
            except ValueError:
                body = {}
            message = body.get("message") or body.get("detail") or f"The portal answered {response.status_code}."
            raise CliError(
                message, code=body.get("error", "error"), exit_code=_status_exit(response.status_code), body=body
            )
        if response.status_code == 204 or not response.content:
            return None
        return response.json()

    def download(self, path: str, params: dict, target) -> int:
        """Stream a download into the open file `target` (following a storage server's short-lived address)."""
        try:
            with self.http.stream("GET", path.lstrip("/"), params=params, follow_redirects=True) as response:
                if response.status_code >= 400:
                    response.read()
                    try:
                        body = response.json()
                    except ValueError:
                        body = {}
                    message = body.get("message") or f"The portal answered {response.status_code}."
                    raise CliError(
                        message, code=body.get("error", "error"), exit_code=_status_exit(response.status_code)
                    )
                size = 0
                for chunk in response.iter_bytes(1024 * 1024):
                    target.write(chunk)
                    size += len(chunk)
                return size
        except httpx.HTTPError as exc:
            raise CliError(
                f"The download from {self.url} broke off ({exc.__class__.__name__}). Try again.",
                code="unreachable",
                exit_code=EXIT_UNREACHABLE,
            ) from None

    def get(self, path: str, **params):
        return self.request("GET", path, params={k: v for k, v in params.items() if v not in (None, "")})

    def post(self, path: str, body=None, **kwargs):
        return self.request("POST", path, json=body if body is not None else {}, **kwargs)

    def delete(self, path: str):
        return self.request("DELETE", path)

    def get_all(self, path: str, **params) -> list:
        """Every item of a paginated list."""
        items, offset = [], 0
        while True:
            page = self.get(path, limit=200, offset=offset, **params)
            if isinstance(page, list):
                return page
            items += page["results"]
            if not page.get("next"):
                return items
            offset += 200

    def resource_id(self, ref: str) -> str:
        """A resource's id from its id or its (unique) name."""
        import uuid

        try:
            return str(uuid.UUID(ref))
        except ValueError:
            pass
        matches = [r for r in self.get_all("resources/") if r["name"] == ref and r["state"] != "deleted"]
        if not matches:
            raise CliError(
                f"No resource named '{ref}' in your teams; `portal ls` lists them.", exit_code=EXIT_NOT_FOUND
            )
        if len(matches) > 1:
            teams = ", ".join(sorted(r["team"] for r in matches))
            raise CliError(f"'{ref}' names resources in several teams ({teams}); use the id.", exit_code=EXIT_USAGE)
        return matches[0]["id"]
