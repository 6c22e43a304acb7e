"""The outside fuzz run (issue 20): schemathesis' own command line, over HTTP, against a whole portal in use.

    make fuzz-outside            (or: .venv/bin/python -m tests.fuzz_outside [--max-examples 25])

Starts a fresh portal (`python -m portal.launcher`, data in var/fuzz-outside), uses it through the API the way a
team does, so that every operation has something real to act on: two bucket requests above the approval threshold
(approve, reject), ready databases and a bucket (credentials, rotation, delete), a Terraform resource (reapply), a
ready and a stopped notebook (stop, start, keep running), a running job (cancel), three failed jobs (retry, forget),
a second member of the demo team (change, remove), and an invitation for the Keeper to another team (accept). Then
`st run` from a virtual environment of its own (var/st-venv, the schemathesis version that requirements-dev.txt
pins), all phases, signed in as the Keeper, and prints its summary. Exits 1 when schemathesis reports a failure or a
"missing test data" / "schema validation mismatch" warning. Needs PyPI the first time (the virtual environment); not
part of `make test` (5 to 10 minutes).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time

from tests.bench.common import BASE_DIR, Portal, django_shell

DATA = BASE_DIR / "var" / "fuzz-outside"
VENV = BASE_DIR / "var" / "st-venv"
# A colleague: a member of the demo team, and the admin of her own team, who invites the Keeper to it.
PEOPLE_SEED = """
from django.contrib.auth import get_user_model
from portal.models import Membership, Team
from portal.teams.services import invitation_create
user, _ = get_user_model().objects.get_or_create(username="ada", defaults={"email": "ada@localhost"})
Membership.objects.get_or_create(user=user, team=Team.objects.get(slug="demo"), defaults={"role": "member"})
lab, _ = Team.objects.get_or_create(slug="ada-lab", defaults={"name": "Ada's lab"})
Membership.objects.get_or_create(user=user, team=lab, defaults={"role": "admin"})
invitation, token = invitation_create(team=lab, by=user, recipient="keeper")
print("INVITATION-TOKEN", token)
"""
# The one datum the schema cannot carry: an invitation's token is shown once, to whom it was sent (schemathesis'
# own way to be given test data).
# The token works once: then the invitation is used (410 Gone, or revoked by the run: also 410).
ST_CONFIG = """
[[operations]]
include-path = "/api/v1/invitations/{token}/accept/"
parameters = { "path.token" = "%s" }
checks.positive_data_acceptance.expected-statuses = ["2xx", "401", "403", "404", "409", "410", "429"]
"""


def _schemathesis() -> str:
    """The `st` of a virtual environment apart from the portal's, at the pinned version."""
    pin = next(
        line.strip()
        for line in (BASE_DIR / "requirements-dev.txt").read_text().splitlines()
        if line.lower().startswith("schemathesis==")
    )
    st = VENV / "bin" / "st"
    marker = VENV / ".installed"
    if not st.exists() or not marker.exists() or marker.read_text() != pin:
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(VENV)], check=True)
        subprocess.run([str(VENV / "bin" / "pip"), "install", "--quiet", pin], check=True)
        marker.write_text(pin)
    return str(st)


def _create(portal: Portal, template: str, name: str, **parameters) -> str:
    body = {"template": template, "team": "demo", "name": name, "parameters": parameters}
    return portal.call("POST", "/api/v1/resources/", body)["id"]


def populate(portal: Portal) -> tuple[dict[str, str], str]:
    """A team's portal in use: something in every state an operation needs. Returns (name -> id, the token of an
    invitation for the Keeper)."""
    token = django_shell(PEOPLE_SEED, data=portal.data).split("INVITATION-TOKEN ", 1)[1].split()[0]
    for name in ("notes.txt", "results.txt"):  # files in the team folder (rename, rewrite)
        portal.call("PUT", "/api/v1/files/team-demo/text/", {"path": name, "text": f"{name}\n"})
    ids = {
        "approve-me": _create(portal, "bucket", "approve-me", storage_gb=600),
        "reject-me": _create(portal, "bucket", "reject-me", storage_gb=600),
        "db": _create(portal, "postgres-database", "db"),
        "db-spare": _create(portal, "postgres-database", "db-spare"),
        "bucket-spare": _create(portal, "bucket", "bucket-spare"),
        "tf-check": _create(portal, "terraform-example", "tf-check", label="fuzz-check"),
        "nb-ready": _create(portal, "jupyter-notebook", "nb-ready"),
        "nb-stopped": _create(portal, "jupyter-notebook", "nb-stopped"),
        "job-running": _create(portal, "training-job", "job-running", command="sleep 3000"),
        "job-failed": _create(portal, "training-job", "job-failed", command="python -c 'raise SystemExit(3)'"),
        "job-failed-2": _create(portal, "training-job", "job-failed-2", command="python -c 'raise SystemExit(4)'"),
        "job-failed-3": _create(portal, "training-job", "job-failed-3", command="python -c 'raise SystemExit(5)'"),
    }
    for name in ("approve-me", "reject-me"):
        portal.wait_state(ids[name], {"awaiting_approval"})
    for name in ("db", "db-spare", "bucket-spare", "tf-check"):
        portal.wait_state(ids[name], {"ready"}, timeout=300)
    portal.wait_state(ids["job-running"], {"running"}, timeout=300)
    for name in ("job-failed", "job-failed-2", "job-failed-3"):
        portal.wait_state(ids[name], {"failed"}, timeout=300)
    for name in ("nb-ready", "nb-stopped"):
        portal.wait_state(ids[name], {"ready"}, timeout=300)
    portal.call("POST", f"/api/v1/resources/{ids['nb-stopped']}/stop/", {})
    portal.wait_state(ids["nb-stopped"], {"stopped"}, timeout=300)
    return ids, token


def clean_up(portal: Portal) -> None:
    """Delete what is left (the run made more), so no notebook or job outlives the portal."""
    listing = portal.call("GET", "/api/v1/resources/?limit=500")
    for resource in listing.get("results", listing) if isinstance(listing, dict) else listing:
        if resource["state"] not in ("deleted", "deleting"):
            try:
                portal.call("DELETE", f"/api/v1/resources/{resource['id']}/")
            except RuntimeError as exc:
                print(f"could not delete {resource['name']}: {exc}")
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        left = portal.call("GET", "/api/v1/resources/?limit=500&state=deleting")
        if not (left.get("results", left) if isinstance(left, dict) else left):
            return
        time.sleep(1)


def _run(portal: Portal, st: str, max_examples: int) -> tuple[str, int]:
    started = time.monotonic()
    ids, token = populate(portal)
    print(f"portal at {portal.url}, in use after {time.monotonic() - started:.0f} s: {sorted(ids)}", flush=True)
    config = DATA / "schemathesis.toml"
    config.write_text(ST_CONFIG % token)
    command = [
        st,
        "--config-file",
        str(config),
        "run",
        f"{portal.url}/api/schema/?format=json",
        "-H",
        f"Authorization: Token {portal.token}",
        "--max-examples",
        str(max_examples),
    ]
    started = time.monotonic()
    done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "NO_COLOR": "1"})
    output = done.stdout + done.stderr
    (DATA / "st.log").write_text(output)
    print(output[-12000:])
    print(f"st ran {time.monotonic() - started:.0f} s, exit {done.returncode}; full output in {DATA / 'st.log'}")
    return output, done.returncode


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--max-examples", type=int, default=25)
    args = parser.parse_args(argv)
    st = _schemathesis()
    shutil.rmtree(DATA, ignore_errors=True)
    with Portal(data=DATA) as portal:
        try:
            output, returncode = _run(portal, st, args.max_examples)
        finally:
            clean_up(portal)
    warnings = [w for w in ("Missing test data", "Schema validation mismatch") if w.lower() in output.lower()]
    failures = re.search(r"(\d+) failures?", output)
    if returncode != 0 or warnings:
        print(f"NOT CLEAN: exit {returncode}, warnings {warnings}, {failures.group(0) if failures else ''}")
        return 1
    print("CLEAN: no failures and no missing-test-data or validation-mismatch warnings")
    return 0


if __name__ == "__main__":
    sys.exit(main())
