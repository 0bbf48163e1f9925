"""Schemathesis against the gateway's OpenAPI document: generated requests never get a 5xx.

(Schemathesis' pytest plugin does not run on pytest 9 yet, so each operation's strategy is driven
by Hypothesis directly.)
"""
from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from tests.etl_assets.gateway.served import Served

pytestmark = [pytest.mark.postgres, pytest.mark.xdist_group("gateway")]
EXAMPLES = settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True, database=None)


def test_no_server_errors(served: Served, admin_token: str) -> None:
    headers = {"Authorization": f"Bearer {admin_token}"}
    schema = schemathesis.openapi.from_url(f"{served.url}/api/v1/openapi.json", headers=headers)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 14

    for operation in operations:

        @given(case=operation.as_strategy())
        @EXAMPLES
        def call(case: schemathesis.Case) -> None:
            case.call_and_validate(base_url=served.url, headers=headers, checks=[not_a_server_error])

        call()
