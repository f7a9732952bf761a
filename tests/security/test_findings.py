"""docs/security.md names a regression test for every finding of the security review and
every gap of the issue 12 audit; each named test exists, so the tables cannot drift from the
suite."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REVIEW = {"H1"} | {f"M{n}" for n in range(1, 10)} | {f"L{n}" for n in range(1, 10)}
AUDIT = {f"A{n}" for n in range(1, 11)}
FINDINGS = REVIEW | AUDIT
ROW = re.compile(r"^\| (?P<finding>[HML]\d|A\d+) \| .* \| (?P<tests>[^|]+) \|$", re.MULTILINE)
NAMED = re.compile(r"`(?P<file>[\w/]+\.py)::(?P<test>test_\w+)`")


def _table() -> dict[str, list[tuple[str, str]]]:
    text = (ROOT / "docs" / "security.md").read_text(encoding="utf-8")
    return {
        row["finding"]: [(m["file"], m["test"]) for m in NAMED.finditer(row["tests"])]
        for row in ROW.finditer(text)
    }


def test_every_finding_has_a_row_naming_a_test() -> None:
    table = _table()
    assert set(table) == FINDINGS
    assert all(table.values()), [f for f, tests in table.items() if not tests]


def test_every_named_test_exists() -> None:
    missing = []
    for finding, tests in _table().items():
        for file, test in tests:
            path = ROOT / "tests" / (file if "/" in file else f"security/{file}")
            if not path.is_file() or f"def {test}(" not in path.read_text(encoding="utf-8"):
                missing.append(f"{finding}: {file}::{test}")
    assert missing == []
