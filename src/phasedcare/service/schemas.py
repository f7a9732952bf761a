"""The published JSON Schemas: events (versioned), commands, import lines and the policy file.

``phasedcare schemas`` writes them into ``schemas/``; a test fails when the files drift from
the code, so what developers integrate against is always what the engine accepts.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from phasedcare.domain.commands import COMMAND_TYPES
from phasedcare.domain.events import EVENT_TYPES
from phasedcare.domain.policy import policy_json_schema
from phasedcare.service.importing import import_line_schema

__all__ = ["published_schemas", "schema_differences", "write_schemas"]

_BASE = "https://phasedcare.example/schemas"
IMPORT_LINE_FILE = "import-line.schema.json"


def _with_id(path: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"{_BASE}/{path}",
        **schema,
    }


def published_schemas() -> dict[str, dict[str, Any]]:
    """Relative path -> JSON Schema, for every published contract."""
    found = {"policy.schema.json": _with_id("policy.schema.json", policy_json_schema())}
    for name, event in EVENT_TYPES.items():
        path = f"events/{name}.v{event.schema_version}.schema.json"
        found[path] = _with_id(path, event.model_json_schema())
    for command in COMMAND_TYPES:
        path = f"commands/{command.__name__}.schema.json"
        found[path] = _with_id(path, command.model_json_schema())
    found[IMPORT_LINE_FILE] = _with_id(IMPORT_LINE_FILE, import_line_schema())
    return found


def _render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_schemas(folder: Path, *, extra: dict[str, dict[str, Any]] | None = None) -> list[Path]:
    """Write every schema (and ``extra`` documents, e.g. the OpenAPI document) under
    ``folder``; returns the files written."""
    written = []
    for relative, schema in {**published_schemas(), **(extra or {})}.items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(_render(schema), encoding="utf-8")
        written.append(path)
    return written


def schema_differences(
    folder: Path, *, extra: dict[str, dict[str, Any]] | None = None
) -> list[str]:
    """Which files under ``folder`` are missing, stale or unexpected (empty: in step)."""
    documents = {**published_schemas(), **(extra or {})}
    expected = {relative: _render(schema) for relative, schema in documents.items()}
    present = {str(p.relative_to(folder)) for p in folder.rglob("*.json")}
    lines = [f"missing: {r}" for r in sorted(expected.keys() - present)]
    lines += [f"unexpected: {r}" for r in sorted(present - expected.keys())]
    lines += [
        f"stale: {r}"
        for r in sorted(expected.keys() & present)
        if (folder / r).read_text(encoding="utf-8") != expected[r]
    ]
    return lines
