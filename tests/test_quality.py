"""The house rules, checked on every run: lint, types, layers, schemas, the public surface."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import phasedcare
from phasedcare.api.openapi import OPENAPI_FILE, openapi_document
from phasedcare.service.schemas import schema_differences

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def run(*command: str) -> subprocess.CompletedProcess[str]:
    """Run a tool from this virtual environment in the project root."""
    return subprocess.run(
        [str(BIN / command[0]), *command[1:]], cwd=ROOT, capture_output=True, text=True, check=False
    )


def test_ruff_finds_nothing() -> None:
    """ruff check passes on the source, tests and benchmarks."""
    result = run("ruff", "check", "src", "tests", "bench")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict_passes() -> None:
    """mypy --strict passes on the package."""
    result = run("mypy")
    assert result.returncode == 0, result.stdout + result.stderr


def test_layer_rules_hold() -> None:
    """import-linter: each layer imports only those below; the domain stays pure."""
    result = run("lint-imports")
    assert result.returncode == 0, result.stdout + result.stderr


def test_published_schemas_match_the_code() -> None:
    """schemas/ holds exactly what `phasedcare schemas` would write now, openapi.json too."""
    extra = {OPENAPI_FILE: openapi_document()}
    assert schema_differences(ROOT / "schemas", extra=extra) == []


def test_public_surface_is_explicit() -> None:
    """Every name in phasedcare.__all__ resolves, and nothing else is public by accident."""
    for name in phasedcare.__all__:
        assert getattr(phasedcare, name) is not None
    assert "Engine" in phasedcare.__all__
    assert "build" in phasedcare.__all__


def test_help_imports_neither_prefect_nor_fastapi() -> None:
    """`phasedcare --help` stays fast: Prefect, FastAPI, SQLAlchemy and Alembic are not imported."""
    code = "import sys\nfrom phasedcare.cli.app import app\nprint(sorted(m for m in sys.modules if m.split('.')[0] in ('prefect', 'fastapi', 'sqlalchemy', 'alembic')))"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_the_docs_build_strictly(tmp_path: Path) -> None:
    """mkdocs build --strict succeeds: no broken links or missing pages."""
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    result = subprocess.run(
        [str(BIN / "mkdocs"), "build", "--strict", "-q", "-d", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_only_the_sealing_module_imports_cryptography() -> None:
    """cryptography is imported directly by phasedcare.ledger.sealing and nowhere else."""
    importers = set()
    for path in (ROOT / "src" / "phasedcare").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            if any(n.split(".")[0] == "cryptography" for n in names):
                importers.add(path.relative_to(ROOT / "src").as_posix())
    assert importers == {"phasedcare/ledger/sealing.py"}
