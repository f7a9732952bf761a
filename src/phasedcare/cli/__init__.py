"""The ``phasedcare`` command line (typer + rich).

Importing this package builds nothing and imports neither Prefect nor FastAPI, so
``phasedcare --help`` stays fast.
"""

from __future__ import annotations

__all__ = ["main"]


def main() -> None:
    """Run the phasedcare command line."""
    from phasedcare.cli.app import app  # noqa: PLC0415 - keep `import phasedcare.cli` cheap

    app()
