"""A bundle verifier anyone can run: the standard library and ``cryptography``, nothing else.

::

    python -m phasedcare.ledger.standalone BUNDLE.json --public-key KEY [--json]

``KEY`` is the checkpoint key the auditor trusts (never one the bundle brings): a C2SP
verifier key ``<origin>+<hex key id>+<base64 key>`` (what ``phasedcare audit public-key``
prints last) or the raw Ed25519 public key as 64 hex digits. It prints what
``phasedcare audit verify --bundle`` prints and exits 0 when the bundle is intact, 1 when it
is not (the first problem is named), 2 when the bundle or the key cannot be read.

This module and the ones it imports (``bundle``, ``verify``, ``checkpoints``, ``chain``,
``merkle``, ``heads``, ``authenticity``, ``records``, ``sealing``, ``notes``) are the whole
verification path; docs/ledger-format.md gives every byte they check.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from phasedcare.ledger.bundle import verify_bundle
from phasedcare.ledger.notes import parse_verifier_key
from phasedcare.ledger.verify import Problem, VerifyReport

__all__ = ["Unreadable", "main", "read_bundle", "read_public_key"]

_PROG = "python -m phasedcare.ledger.standalone"
_KEY_BYTES = 32


class Unreadable(Exception):
    """The bundle or the key cannot be read at all (exit 2), as opposed to not intact."""


def read_public_key(text: str) -> tuple[str | None, bytes]:
    """The key name (None for bare hex) and 32-byte Ed25519 key of ``--public-key``."""
    text = text.strip()
    if "+" in text:
        try:
            return parse_verifier_key(text)
        except ValueError as exc:
            raise Unreadable(f"--public-key: {exc}") from None
    try:
        public = bytes.fromhex(text)
    except ValueError:
        public = b""
    if len(public) != _KEY_BYTES:
        msg = "--public-key must be a verifier key (name+id+key) or 64 hexadecimal digits"
        raise Unreadable(msg)
    return None, public


def read_bundle(path: Path) -> dict[str, Any]:
    """The bundle at ``path`` as a JSON object; Unreadable when it is not one."""
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except OSError as exc:
        raise Unreadable(f"{path}: cannot be read ({exc.strerror or type(exc).__name__})") from None
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError, JSONDecodeError
        raise Unreadable(f"{path}: not a readable bundle ({type(exc).__name__})") from None
    if not isinstance(data, dict):
        raise Unreadable(f"{path}: not a readable bundle (a JSON {type(data).__name__})")
    return data


def _verify(bundle: dict[str, Any], name: str | None, public: bytes) -> VerifyReport:
    """verify_bundle, and the verifier key's name must be the bundle's origin."""
    origin = bundle.get("origin")
    if name is not None and origin != name:
        what = f"the bundle is of origin {origin!r}, but the verifier key is of {name!r}"
        return VerifyReport(problems=[Problem(what)])
    try:
        return verify_bundle(bundle, public=public)
    except Exception as exc:  # a malformed bundle is reported, never a traceback
        what = f"malformed bundle: {type(exc).__name__} at {exc}"[:200]
        return VerifyReport(problems=[Problem(what)])


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=_PROG,
        description="Verify a phasedcare bundle (case or ledger) with the checkpoint public "
        "key alone: exit 0 intact, 1 not intact, 2 unreadable input.",
    )
    parser.add_argument("bundle", type=Path, help="the bundle file (JSON)")
    parser.add_argument(
        "--public-key",
        required=True,
        help="the checkpoint key you trust: a verifier key <origin>+<key id>+<base64 key> "
        "or the Ed25519 public key in 64 hex digits",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the verifier; the exit status (0 intact, 1 not intact, 2 unreadable)."""
    args = _parser().parse_args(argv)
    try:
        name, public = read_public_key(args.public_key)
        bundle = read_bundle(args.bundle)
    except Unreadable as exc:
        sys.stderr.write(f"{_PROG}: error: {exc}\n")
        return 2
    report = _verify(bundle, name, public)
    if args.json:
        sys.stdout.write(json.dumps(report.as_json(), indent=2, ensure_ascii=False) + "\n")
    else:
        sys.stdout.write(report.summary() + "\n")
    return 0 if report.intact else 1


if __name__ == "__main__":  # pragma: no cover - run as a module
    sys.exit(main())
