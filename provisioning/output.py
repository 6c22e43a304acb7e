"""What a program printed, for a reader who follows it: new bytes since an offset, so the page appends lines
instead of redrawing the box. Drivers whose output is a local file say where it is (`Driver.output_file`); for the
others the last lines are sent whole and the page replaces what it shows."""

from __future__ import annotations

from provisioning.drivers import DriverError, get_driver
from provisioning.models import State

CHUNK_BYTES = 256 * 1024
TAIL_LINES = 500
FIRST_VIEW_BYTES = 64 * 1024
# States in which the program can still print more.
LIVE_STATES = {State.QUEUED, State.PROVISIONING, State.RUNNING, State.STOPPING, State.STARTING, State.REQUESTED}


def _file(resource):
    try:
        return get_driver(resource.driver, resource.kind).output_file(resource)
    except DriverError:
        return None


def output_read(resource, *, offset: int | None) -> dict:
    """{"text", "offset", "mode" ("append" or "replace"), "done"}. Without an offset: the end of the output."""
    done = resource.state not in LIVE_STATES
    path = _file(resource)
    if path is None or not path.exists():
        if path is not None:  # not written yet
            return {"text": "", "offset": 0, "mode": "append", "done": done}
        try:
            text = get_driver(resource.driver, resource.kind).logs(resource, tail=TAIL_LINES)
        except DriverError:
            text = ""
        return {"text": text, "offset": None, "mode": "replace", "done": done}
    size = path.stat().st_size
    if offset is None or offset > size:  # first view, or the file was replaced (a retry): show its end
        start, mode = max(0, size - FIRST_VIEW_BYTES), "replace"
    else:
        start, mode = offset, "append"
    with path.open("rb") as handle:
        handle.seek(start)
        data = handle.read(CHUNK_BYTES)
    if mode == "replace" and start > 0 and b"\n" in data:  # begin at a whole line
        cut = data.index(b"\n") + 1
        start, data = start + cut, data[cut:]
    data = data[: _whole_characters(data)]  # a character cut in two waits for the next read
    end = start + len(data)
    return {"text": data.decode("utf-8", errors="replace"), "offset": end, "mode": mode, "done": done and end >= size}


def _whole_characters(data: bytes) -> int:
    """The length of the longest prefix of `data` that does not end inside a UTF-8 character."""
    for back in range(1, min(4, len(data)) + 1):
        byte = data[-back]
        if byte & 0xC0 != 0x80:  # the lead byte (or ASCII) of the last character
            needed = 1 if byte < 0x80 else 2 if byte < 0xE0 else 3 if byte < 0xF0 else 4
            return len(data) if back >= needed else len(data) - back
    return len(data)


def output_tail(resource, lines: int = 5) -> str:
    """The last few lines of an ended job, shown above the fold next to how it ended."""
    if resource.kind != "training_job" or resource.state in LIVE_STATES or resource.state == State.DELETED:
        return ""
    try:
        return get_driver(resource.driver, resource.kind).logs(resource, tail=lines)
    except DriverError:
        return ""
