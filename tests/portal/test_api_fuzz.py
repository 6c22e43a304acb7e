"""Fuzzing the REST API from its own OpenAPI schema (schemathesis 4): every phase, no 5xx, answers as documented.

All four phases run over the whole schema (examples, coverage, fuzzing, stateful: the stateful phase follows the
schema's links from POST /api/v1/resources/ and the other creates to the operations that take their ids), signed
in as a scientist of a team and as a Keeper, in process against the WSGI application and the test database.

`make test` uses FUZZ_EXAMPLES=5 examples per operation to stay fast. The outside-style run is the CLI against a
running portal (README, "Fuzzing the API"):
    st run "http://127.0.0.1:8000/api/schema/?format=json" -H "Authorization: Token <Keeper's token>" --max-examples 25
and the same run in process: FUZZ_EXAMPLES=25 .venv/bin/python -m pytest tests/portal/test_api_fuzz.py
"""

import os

import pytest
import schemathesis
from schemathesis.engine import Status, events
from schemathesis.engine import from_schema as engine_for

from tests.factories import make_resource

pytestmark = [pytest.mark.slow]
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "5"))
PHASES = ["examples", "coverage", "fuzzing", "stateful"]
# No 5xx, and every answer's status, body and content type are the documented ones. (Who may call what is the
# permissions matrix's job, test_permissions_matrix.py; the outside run adds the checks that need a fresh server.)
CHECKS = {"not_a_server_error", "status_code_conformance", "response_schema_conformance", "content_type_conformance"}


def _fuzz(user) -> tuple[list[str], set[str], dict[str, int]]:
    """(failures, operations answered 2xx, responses per phase) of a whole schemathesis run as `user`."""
    from portal.tokens import token_issue
    from portal.wsgi import application

    headers = {"Authorization": f"Token {token_issue(user=user, name='fuzz')[1]}"}
    schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application, headers=headers)
    schema.config.update(headers=headers)
    schema.config.generation.update(max_examples=EXAMPLES)
    schema.config.phases.update(phases=PHASES)
    # Only these: the probing checks (ignored_auth...) need a real HTTP client, which the outside run has.
    schema.config.checks.update(included_check_names=sorted(CHECKS))
    failures, served, calls = [], set(), {}
    for event in engine_for(schema).execute():
        if isinstance(event, events.ScenarioFinished | events.FuzzScenarioFinished):
            recorder = event.recorder
            for case_id, interaction in recorder.interactions.items():
                phase = getattr(event, "phase", "fuzzing")
                calls[str(phase)] = calls.get(str(phase), 0) + 1
                case = recorder.cases[case_id].value
                if interaction.response is not None and 200 <= interaction.response.status_code < 300:
                    served.add(f"{case.operation.method.upper()} {case.operation.path}")
            for checks in recorder.checks.values():
                for check in checks:
                    if check.status == Status.FAILURE and check.name in CHECKS:
                        info = check.failure_info
                        failures.append(
                            f"{check.name}: {info.failure.title if info else ''}\n{info.code_sample}"[:1500]
                        )
        elif isinstance(event, events.NonFatalError | events.FatalError):
            failures.append(
                f"error: {getattr(event, 'label', '')}: {event.info.format()}"[:1500]
                if hasattr(event, "info")
                else repr(event)
            )
    return failures, served, calls


# Operations that need a real object in a particular state (a guide and one of its steps, a resource awaiting
# approval, a stopped notebook...): the schema's examples (built from the database, provisioning/api_schema.py and
# guides/api_schema.py) and links must bring the fuzzer to them with real ids, and they must answer 2xx at least once.
NEED_STATE = {
    "POST /api/v1/guides/{slug}/progress/",
    "POST /api/v1/resources/{resource_id}/stop/",
    "POST /api/v1/resources/{resource_id}/start/",
    "POST /api/v1/resources/{resource_id}/cancel/",
    "POST /api/v1/resources/{resource_id}/retry/",
}
KEEPERS_ONLY = {"POST /api/v1/resources/{resource_id}/approve/", "POST /api/v1/resources/{resource_id}/reject/"}


def _resources_in_every_state(templates, team, owner) -> None:
    """What a team has after a while of use (written straight to the database: the states are the point here)."""
    notebook, job, database = templates["jupyter-notebook"], templates["training-job"], templates["postgres-database"]
    make_resource(database, team, owner, name="fuzzed", state="ready")
    make_resource(database, team, owner, name="waits-one", state="awaiting_approval")
    make_resource(database, team, owner, name="waits-two", state="awaiting_approval")
    ready = make_resource(
        notebook, team, owner, name="nb-ready", state="ready", outputs={"url": "http://127.0.0.1:9/", "workdir": "/"}
    )
    from provisioning.drivers.local import process

    (process.resource_dir(ready) / "jupyter" / "logins").mkdir(parents=True, exist_ok=True)  # as a started one has
    make_resource(notebook, team, owner, name="nb-stopped", state="stopped")
    make_resource(job, team, owner, name="job-queued", state="queued")
    make_resource(job, team, owner, name="job-cancelled", state="cancelled")


@pytest.mark.parametrize("who", ["scientist", "keeper"])
def test_every_phase_over_the_whole_schema_finds_nothing(who, transactional_db, alice, keeper, templates):
    """Committed data (transactional_db): schemathesis calls the application from its own worker threads."""
    from django.core.management import call_command

    call_command("guides_sync", verbosity=0)  # the guides `make run` loads
    team = alice.memberships.first().team
    _resources_in_every_state(templates, team, alice)
    user = alice if who == "scientist" else keeper
    if who == "keeper":
        from tests.factories import MembershipFactory

        MembershipFactory(user=keeper, team=team)
    failures, served, calls = _fuzz(user)
    assert not failures, "\n\n".join(dict.fromkeys(failures))
    assert set(calls) >= {"examples", "coverage", "fuzzing", "stateful"}, calls
    # Enough examples to get past the edge: real resources were made and the operations on them answered.
    assert "POST /api/v1/resources/" in served, sorted(served)
    assert any(label.startswith("GET /api/v1/resources/{resource_id}") for label in served), sorted(served)
    wanted = NEED_STATE | (KEEPERS_ONLY if who == "keeper" else set())
    assert not wanted - served, f"never answered 2xx: {sorted(wanted - served)}"
