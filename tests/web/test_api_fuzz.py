"""Schemathesis against the API's own OpenAPI document: every operation fed generated requests,
valid and invalid; none may answer with a server error, and every answer matches its document.

(Schemathesis's pytest plugin does not run under this pytest, so each operation's strategy is
driven with Hypothesis's own `@given`.)"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import (
    response_schema_conformance,
    status_code_conformance,
)

from approvals.bootstrap import Core
from approvals.views import RevisionInput
from approvals.web import create_app
from tests.conftest import Personas

BODY = "12月7日，我局在太浦河沿线开展冬季防汛防台应急演练，共有150人参加。"
OPERATIONS = [("GET", "/api/v1/me"), ("GET", "/api/v1/posts"), ("POST", "/api/v1/posts"),
              ("GET", "/api/v1/posts/{post_id}"), ("POST", "/api/v1/posts/{post_id}/revisions"),
              ("POST", "/api/v1/posts/{post_id}/actions"), ("GET", "/api/v1/posts/{post_id}/audit")]
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]


@pytest.fixture
def fuzzed(core: Core, who: Personas) -> tuple[Any, dict[str, str]]:
    """The API's schema over an app with a few posts (ids 1–3), and an admin's token."""
    for n in range(3):
        pid = core.service.create_post(drafter=who.drafter, title=f"防汛演练第{n + 1}次", body=BODY)
        if n:
            core.service.act(pid, "new_revision", who.operator, revision=RevisionInput())
    app = create_app(core, secret_key="k" * 32, testing=True)
    _, token = core.service.issue_token(who.admin, "fuzz", by="test")
    return (schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app),
            {"Authorization": f"Bearer {token}"})


def test_the_document_lists_exactly_the_fuzzed_operations(fuzzed: tuple[Any, dict[str, str]]
                                                           ) -> None:
    schema, _ = fuzzed
    found = {(r.ok().method.upper(), r.ok().path) for r in schema.get_all_operations()}
    assert found == set(OPERATIONS)


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
@pytest.mark.parametrize("method, path", OPERATIONS)
def test_no_request_makes_a_server_error(fuzzed: tuple[Any, dict[str, str]], method: str,
                                         path: str, mode: GenerationMode) -> None:
    schema, headers = fuzzed
    operation = schema[path][method]

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=50, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def run(case: Any) -> None:
        case.call_and_validate(headers=headers, checks=CHECKS)

    run()
