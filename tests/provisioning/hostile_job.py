"""A hostile training job (run by tests/provisioning/test_sandbox.py inside the sandbox, never imported).

`python hostile_job.py PGSOCKETDIR PORT PID... -- FOLDER...`: prints every file it can read under each FOLDER,
every /proc/*/environ and cmdline, what PostgreSQL answers the superuser over the socket and over TCP without a
password, and whether it may signal each PID. The test then looks for secrets in what it printed.

It may be copied into a folder it reads and print itself: its source spells no marker the test looks for.
"""

import glob
import os
import socket
import struct
import sys


def show(label, text):
    print(f"=== {label}\n{text}", flush=True)


def postgres_probe(address) -> str:
    """Ask PostgreSQL to let the superuser in without a password, speaking its protocol (no client program needed:
    a checkout under /tmp keeps the portal's psql out of the sandbox's sight)."""
    family = socket.AF_UNIX if isinstance(address, str) else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as conn:
            conn.settimeout(20)
            conn.connect(address)
            body = struct.pack("!i", 196608) + b"user\0postgres\0database\0portal\0\0"
            conn.sendall(struct.pack("!i", len(body) + 4) + body)
            answer = conn.recv(1024)
    except OSError as exc:
        return f"could not connect to server: {exc}"
    if answer[:1] == b"R" and len(answer) >= 9:
        code = struct.unpack("!i", answer[5:9])[0]
        if code == 0:
            return "PSQL-" + "CONNECTED (no password asked)"
        return f"the server asks for a password (method {code}): no password supplied"
    return f"refused: {answer[:200]!r}"


def main(argv):
    socket_dir, port = argv[1], argv[2]
    split = argv.index("--")
    pids, folders = [int(p) for p in argv[3:split]], argv[split + 1 :]
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
    for label, address in (
        (f"socket {socket_dir}", os.path.join(socket_dir, f".s.PGSQL.{port}")),
        ("tcp 127.0.0.1", ("127.0.0.1", int(port))),
    ):
        show(f"postgres {label}", postgres_probe(address))
    for pid in pids:
        try:
            os.kill(pid, 0)
            show(f"kill -0 {pid}", "SIGNAL-" + "ALLOWED")
        except OSError as exc:
            show(f"kill -0 {pid}", exc)
    show("me", f"uid={os.getuid()} pids={sorted(int(p) for p in os.listdir('/proc') if p.isdigit())}")


if __name__ == "__main__":
    main(sys.argv)
