"""Addresses (slugs) made from names people type, in any script."""

from __future__ import annotations

import hashlib
import re

from django.utils.text import slugify


def slug_for(name: str, *, prefix: str, max_length: int, pattern: str = r"^[a-z0-9][a-z0-9-]*$") -> str:
    """The letters and digits of `name` (accents dropped, like Django's slugify); for a name with too few of them
    (a name in another script, a symbol) or one the address rule refuses, `prefix` and them, or `prefix` and a
    fingerprint of the name. The same name gives the same address; any name gives one."""
    slug = slugify(name)[:max_length].strip("-")
    if re.match(pattern, slug):
        return slug
    prefixed = f"{prefix}-{slug}"[:max_length].strip("-")
    if slug and re.match(pattern, prefixed):
        return prefixed
    return f"{prefix}-{hashlib.sha256(name.encode()).hexdigest()[:8]}"
