"""Supervisor of one job or notebook process:
`python jobrunner.py RESULT_FILE TIMEOUT_SECONDS [--cgroup DIR]... -- ARGV...`.

Runs ARGV (no shell; a sandboxed command line), forwards SIGTERM/SIGINT to it, kills it past TIMEOUT_SECONDS (0: no
limit), and writes {"exit_code": N, "reason": "exited|timeout|cancelled|memory", "finished_at": ...} to RESULT_FILE.
"memory": the kernel ended it for going over the memory limit of its cgroups (DIRs), which are removed at the end.
The sandbox dies with this supervisor (bubblewrap's --die-with-parent). Any worker can later read
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


def _oom_killed(dirs: list[str]) -> bool:
    for folder in dirs:
        for name in ("memory.events", "memory.oom_control"):
            try:
                with open(os.path.join(folder, name)) as handle:
                    for line in handle:
                        key, _, value = line.partition(" ")
                        if key == "oom_kill" and int(value or 0) > 0:
                            return True
            except OSError:
                pass
    return False


def _release(dirs: list[str]) -> None:
    deadline = time.monotonic() + 5
    for folder in dirs:
        while os.path.isdir(folder):
            try:
                os.rmdir(folder)
            except OSError:
                if time.monotonic() > deadline:
                    break
                time.sleep(0.1)


def main(argv: list[str]) -> int:
    result_file, timeout = argv[1], float(argv[2])
    split = argv.index("--")
    options, command = argv[3:split], argv[split + 1 :]
    cgroups = [options[i + 1] for i, option in enumerate(options) if option == "--cgroup"]
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
    if reason["value"] == "exited" and code != 0 and _oom_killed(cgroups):
        reason["value"] = "memory"
        print("\n[portal] The program used more memory than its limit and was stopped by the system.", flush=True)
    _release(cgroups)
    _write(result_file, code, reason["value"])
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv))
