"""The HTTP API against its own OpenAPI document: Schemathesis generates requests from the
document for every operation (path parameters, query, headers and bodies) and checks that no
answer is a server error and every answer is one the document declares (status code, content
type, headers and body). Each test counts what it sent and asserts the count and zero 5xx; the
CI profile sends over 5,000 requests in all."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import Case, GenerationMode
from schemathesis.checks import CheckFunction

from phasedcare.api import create_app
from phasedcare.domain import commands as cmd
from phasedcare.service.engine import Engine
from phasedcare.testing import actor_of, memory_engine
from support import token_table

VT = actor_of("vt-ijsselland", user="u-vt-01")
WIJKTEAM = actor_of("wijkteam-zwolle", user="u-wt-01")
TOKENS = {"tok-vt": VT, "tok-wt": WIJKTEAM}

CI = os.environ.get("HYPOTHESIS_PROFILE") == "ci"
EXAMPLES = {"tok-vt": 100 if CI else 10, "tok-wt": 40 if CI else 5}
"""Valid requests per operation and token: about 6,000 in CI, a few hundred locally."""

INVALID_EXAMPLES = 25 if CI else 5
"""Invalid requests (a path id, query, header or body that breaks the document) per
operation that takes any."""

FLOORS = {
    ("tok-vt", GenerationMode.POSITIVE): 4000 if CI else 300,
    ("tok-wt", GenerationMode.POSITIVE): 1500 if CI else 150,
    ("tok-vt", GenerationMode.NEGATIVE): 800 if CI else 150,
}
"""The fewest requests each test must send (Hypothesis stops early on operations with few
distinct inputs, so a test sends less than examples x operations): 6,300 in CI, measured
at about 8,000."""

CHECKS: list[CheckFunction] = [
    getattr(schemathesis.checks, name)  # registered checks are looked up by name
    for name in (
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_headers_conformance",
        "response_schema_conformance",
    )
]


_authenticate = token_table(TOKENS)


@dataclass
class _Tally:
    """Requests sent per test (token and mode) and status code, printed when the module is
    done."""

    sent: dict[str, dict[int, int]] = field(default_factory=dict)

    def add(self, label: str, status: int) -> None:
        by_status = self.sent.setdefault(label, {})
        by_status[status] = by_status.get(status, 0) + 1

    def total(self, label: str | None = None) -> int:
        """Requests sent by one test, or by all."""
        chosen = [s for k, s in self.sent.items() if label in {None, k}]
        return sum(sum(s.values()) for s in chosen)

    def server_errors(self, label: str | None = None) -> int:
        """Answers with a 5xx status, of one test or of all."""
        chosen = [s for k, s in self.sent.items() if label in {None, k}]
        return sum(n for s in chosen for code, n in s.items() if code >= 500)

    def lines(self) -> list[str]:
        lines = [f"schemathesis: {self.total()} requests sent, {self.server_errors()} with 5xx"]
        for label, by_status in sorted(self.sent.items()):
            counts = ", ".join(f"{code}: {n}" for code, n in sorted(by_status.items()))
            lines.append(f"  {label}: {sum(by_status.values())} ({counts})")
        return lines


def _label(token: str, mode: GenerationMode) -> str:
    return f"{token} {mode.value}"


TALLY = _Tally()


def _report(config: pytest.Config) -> None:
    """Print the tally past pytest's output capture, so every run shows what was sent."""
    capture: Any = config.pluginmanager.getplugin("capturemanager")  # its class is private
    with capture.global_and_fixture_disabled():
        print("\n" + "\n".join(TALLY.lines()))


def _seed(engine: Engine) -> list[str]:
    """Three cases of Veilig Thuis, one with a household member, so reads hit real data."""
    case_ids = []
    for via in ("melding", "advies", "melding"):
        result = engine.handle(cmd.OpenCase(via=via), actor=VT)
        case_ids.append(result.case_id)
    engine.handle(cmd.RecordMember(case_id=case_ids[0], role="kind", name="Iris Fictief"), actor=VT)
    return case_ids


@pytest.fixture(scope="module")
def seeded() -> Iterator[tuple[Engine, list[str]]]:
    """An in-memory engine holding a few cases of Veilig Thuis."""
    engine = memory_engine()
    yield engine, _seed(engine)
    engine.close()


@pytest.fixture(scope="module")
def api_schema(
    seeded: tuple[Engine, list[str]], pytestconfig: pytest.Config
) -> Iterator[schemathesis.BaseSchema]:
    """The app's OpenAPI document, loaded from the app itself (served in-process)."""
    engine, _ = seeded
    app = create_app(engine, authenticate=_authenticate, max_body_bytes=16 * 1024)
    yield schemathesis.openapi.from_asgi("/openapi.json", app)
    _report(pytestconfig)


def _aim_at_seeded_cases(case: Case[Any], data: st.DataObject, case_ids: list[str]) -> None:
    """Half the generated case ids are swapped for a seeded one, so reads find a case."""
    path = case.path_parameters or {}
    if "case_id" in path and data.draw(st.booleans(), label="seeded case"):
        path["case_id"] = data.draw(st.sampled_from(case_ids), label="case_id")


def _exercise(
    operation: schemathesis.APIOperation[Any, Any, Any, Any],
    *,
    token: str,
    examples: int,
    case_ids: list[str],
    mode: GenerationMode = GenerationMode.POSITIVE,
) -> None:
    """Send ``examples`` generated requests to one operation and check every answer."""

    @given(case=operation.as_strategy(mode), data=st.data())
    @settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    def run(case: Case[Any], data: st.DataObject) -> None:
        if mode is GenerationMode.POSITIVE:  # an invalid request keeps its invalid id
            _aim_at_seeded_cases(case, data, case_ids)
        response = case.call(headers={"Authorization": f"Bearer {token}"})
        TALLY.add(_label(token, mode), response.status_code)
        case.validate_response(response, checks=CHECKS)

    run()


def _conforms(
    schema: schemathesis.BaseSchema,
    *,
    token: str,
    case_ids: list[str],
    mode: GenerationMode = GenerationMode.POSITIVE,
) -> None:
    """Exercise every operation (with an input to break, for invalid requests); list every
    failure; then check the test sent its share of requests and got no 5xx."""
    failed: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()  # type: ignore[union-attr]  # a broken document fails here
        if mode is GenerationMode.NEGATIVE and not _has_inputs(operation):
            continue  # /health and the like: nothing to make invalid
        examples = EXAMPLES[token] if mode is GenerationMode.POSITIVE else INVALID_EXAMPLES
        try:
            _exercise(operation, token=token, examples=examples, case_ids=case_ids, mode=mode)
        except (AssertionError, schemathesis.errors.FailureGroup) as failure:
            failed.append(f"{operation.label}: {failure}")
    assert not failed, "\n\n".join(failed)
    label = _label(token, mode)
    assert TALLY.server_errors(label) == 0
    assert TALLY.total(label) >= FLOORS[token, mode]


def _has_inputs(operation: schemathesis.APIOperation[Any, Any, Any, Any]) -> bool:
    """Whether an operation takes anything a request can get wrong (ids, query, body)."""
    return bool(operation.body) or any(
        len(group) > 0 for group in (operation.path_parameters, operation.query)
    )


@pytest.mark.parametrize("token", sorted(TOKENS))
def test_every_answer_is_one_the_document_declares(
    api_schema: schemathesis.BaseSchema, seeded: tuple[Engine, list[str]], token: str
) -> None:
    """Veilig Thuis and a wijkteam get no 5xx and only answers the OpenAPI document declares."""
    _conforms(api_schema, token=token, case_ids=seeded[1])


def test_an_invalid_request_gets_documented_problem_details(
    api_schema: schemathesis.BaseSchema, seeded: tuple[Engine, list[str]]
) -> None:
    """Bodies that break the document get a declared 4xx as problem details, never a 5xx."""
    _conforms(api_schema, token="tok-vt", case_ids=seeded[1], mode=GenerationMode.NEGATIVE)  # noqa: S106 - a test token
