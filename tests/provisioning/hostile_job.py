"""A hostile training job (run by tests/provisioning/test_sandbox.py inside the sandbox, never imported).

`python hostile_job.py PSQL PGSOCKETDIR PORT PID... -- FOLDER...`: prints every file it can read under each FOLDER,
every /proc/*/environ and cmdline, what psql as the superuser over the socket and over TCP without a password
says, and whether it may signal each PID. The test then looks for secrets in what it printed.
"""

import glob
import os
import subprocess
import sys


def show(label, text):
    print(f"=== {label}\n{text}", flush=True)


def main(argv):
    psql, socket_dir, port = argv[1], argv[2], argv[3]
    split = argv.index("--")
    pids, folders = [int(p) for p in argv[4:split]], argv[split + 1 :]
    for folder in folders:
        show(
            "folder",
            f"{folder} exists={os.path.exists(folder)} entries={os.listdir(folder) if os.path.isdir(folder) else '-'}",
        )
        for root, _dirs, files in os.walk(folder):
            for name in files:
                path = os.path.join(root, name)
                try:
                    with open(path, "rb") as handle:
                        show(f"read {path}", handle.read(100_000).decode("utf-8", "replace"))
                except OSError as exc:
                    show(f"denied {path}", exc)
    for path in sorted(glob.glob("/proc/*/environ") + glob.glob("/proc/*/cmdline")):
        try:
            with open(path, "rb") as handle:
                show(f"read {path}", handle.read().replace(b"\0", b" ").decode("utf-8", "replace"))
        except OSError as exc:
            show(f"denied {path}", exc)
    for target in (["-h", socket_dir], ["-h", "127.0.0.1", "-p", port]):
        try:
            done = subprocess.run(
                [psql, *target, "-U", "postgres", "-w", "-d", "portal", "-c", "SELECT 'PSQL-CONNECTED'"],
                capture_output=True,
                text=True,
                timeout=20,
            )
            show(f"psql {target}", done.stdout + done.stderr)
        except OSError as exc:
            show(f"psql {target}", exc)
    for pid in pids:
        try:
            os.kill(pid, 0)
            show(f"kill -0 {pid}", "SIGNAL-ALLOWED")
        except OSError as exc:
            show(f"kill -0 {pid}", exc)
    show("me", f"uid={os.getuid()} pids={sorted(int(p) for p in os.listdir('/proc') if p.isdigit())}")


if __name__ == "__main__":
    main(sys.argv)
