"""Supervisor of one job process: `python jobrunner.py RESULT_FILE TIMEOUT_SECONDS -- ARGV...`.

Runs ARGV (no shell), forwards SIGTERM/SIGINT to it, kills it past TIMEOUT_SECONDS, and writes
{"exit_code": N, "reason": "exited|timeout|cancelled", "finished_at": ...} to RESULT_FILE. Any worker can later read
how the job ended, even one started after the worker that launched it died. Imports nothing of Django.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

GRACE_SECONDS = 10


def _write(path: str, exit_code: int, reason: str) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w") as handle:
        json.dump({"exit_code": exit_code, "reason": reason, "finished_at": time.time()}, handle)
    os.replace(tmp, path)


def main(argv: list[str]) -> int:
    result_file, timeout = argv[1], float(argv[2])
    command = argv[argv.index("--") + 1 :]
    try:
        child = subprocess.Popen(command)
    except OSError as exc:
        print(f"Cannot start {command[0]!r}: {exc.strerror}. Check the command's first word.", flush=True)
        _write(result_file, 127, "exited")
        return 127
    reason = {"value": "exited"}

    def stop(signum, frame):
        reason["value"] = "cancelled"
        child.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    deadline = time.monotonic() + timeout if timeout > 0 else None
    while True:
        try:
            code = child.wait(timeout=0.5)
            break
        except subprocess.TimeoutExpired:
            pass
        if deadline and time.monotonic() > deadline and reason["value"] == "exited":
            reason["value"] = "timeout"
            print(
                f"\n[portal] The job reached its maximum run time ({timeout / 60:g} minutes) and is being stopped.",
                flush=True,
            )
            child.send_signal(signal.SIGTERM)
            try:
                code = child.wait(GRACE_SECONDS)
                break
            except subprocess.TimeoutExpired:
                child.kill()
    if code < 0:  # killed by a signal: report as the shell does
        code = 128 - code
    _write(result_file, code, reason["value"])
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv))
