"""Start-up checks that notebooks never share an origin (host) with the portal.

Browsers send a host's cookies to every port of that host; a notebook on the portal's host name would receive the
portal's session cookie, and the notebook runs code a scientist controls.
"""

from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured


def _host(value: str) -> str:
    value = value.strip().lower().rstrip(".")
    if "//" in value:
        value = urlsplit(value).hostname or ""
    elif value.startswith("["):
        value = value.split("]")[0] + "]"
    else:
        value = value.split(":")[0]
    return value.lstrip(".")


def check_notebook_host(
    notebook_host: str, *, portal_base_url: str, allowed_hosts: list[str], setting: str = ""
) -> None:
    """Raise ImproperlyConfigured when `notebook_host` is the portal's own host (PORTAL_BASE_URL or ALLOWED_HOSTS)."""
    setting = setting or "KUBERNETES_INGRESS_HOST"
    host = _host(notebook_host)
    portal_hosts = {_host(portal_base_url)} | {_host(h) for h in allowed_hosts if h.strip() not in ("*", "")}
    portal_hosts.discard("")
    if host in portal_hosts:
        raise ImproperlyConfigured(
            f"{setting} ({notebook_host}) is the portal's own host name. Serve notebooks from another host name "
            f"(for example notebooks.{host}) so the portal's session cookie never reaches a notebook; the portal's "
            "host names are PORTAL_BASE_URL and ALLOWED_HOSTS."
        )
