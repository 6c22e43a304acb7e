"""Names that reach Postgres, S3 and the file system: derived from validated slugs, never from free text."""

import re

_SAFE = re.compile(r"^[a-z][a-z0-9_-]*$")


def physical_name(resource, *, sep: str = "_", max_len: int = 63) -> str:
    """A stable name unique per resource: <team>_<name>_<6 hex of the id>, within `max_len`."""
    suffix = resource.id.hex[:6]
    room = max_len - len(suffix) - 2
    team = resource.team.slug[: room // 3]
    name = resource.name[: room - len(team)]
    value = f"{team}{sep}{name}{sep}{suffix}".replace("-", sep).replace("_", sep)
    if not _SAFE.match(value):
        raise ValueError(f"unsafe name {value!r}")
    return value
