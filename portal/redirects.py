"""Where a `next` parameter may send people: only to the portal's own paths, never to another site."""

from django.utils.http import url_has_allowed_host_and_scheme


def is_own_path(url: str | None) -> bool:
    """True for a path on this portal ("/resources/"); False for "//evil.example", "https://evil", "\\\\evil",
    "/\\evil", "javascript:..." and anything with a host or scheme."""
    if not url or not url.startswith("/") or url.startswith(("//", "/\\")):
        return False
    if any(ord(char) < 32 or ord(char) == 127 for char in url):
        return False
    return url_has_allowed_host_and_scheme(url, allowed_hosts=set(), require_https=False)


def safe_next(value: str | None, default: str = "/") -> str:
    """`value` when it is one of the portal's own paths, else `default`."""
    return value if is_own_path(value) else default
