"""Fuzzing the REST API from its own OpenAPI schema (schemathesis): no 5xx, and answers match the schema.

Every operation of /api/schema/ gets a bounded number of generated requests, signed in as a scientist of a team
with a resource, so the generated ids, slugs and bodies reach the real code paths (and the 404s and 400s).
"""

import pytest
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from portal.tokens import token_issue
from tests.factories import make_resource

pytestmark = [pytest.mark.slow]
EXAMPLES = 25  # per operation: bounded, so `make test` stays fast
# No 5xx, and every answer's body and content type match the schema for its status. (Who may call what is the
# permissions matrix's job, test_permissions_matrix.py, endpoint by endpoint.)
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]


@pytest.fixture
def api_schema(db):
    from django.core import signals
    from django.db import close_old_connections

    from portal.wsgi import application

    # As Django's test client does: the test's transaction must outlive each request.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield schemathesis.openapi.from_wsgi("/api/schema/?format=json", application)
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def token(alice, templates):
    make_resource(templates["postgres-database"], alice.memberships.first().team, alice, name="fuzzed", state="ready")
    return token_issue(user=alice, name="fuzz")[1]


def test_every_endpoint_survives_generated_requests(api_schema, token):
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) > 20
    failures = []
    for operation in operations:

        @hypothesis_settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def fuzz(case):
            response = case.call(headers={"Authorization": f"Token {token}"})
            case.validate_response(response, checks=CHECKS)

        try:
            fuzz()
        except Exception as exc:  # collect every operation's failure, then report them all
            failures.append(f"{operation.label}: {exc}"[:1500])
    assert not failures, "\n\n".join(failures)
