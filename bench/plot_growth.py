"""Draw docs/img/growth.svg from the growth bench's results (bench/results/growth-*.json).

Two panels over the number of records in the ledger (log scale): the time of each measure
(log scale, one colour per measure, a solid line for SQLite and a dashed one for
PostgreSQL), and the space (the database on disk, the resident memory of
``phasedcare serve`` after its requests). A flat line is a cost that does not grow with the
ledger. The SVG is written by hand: no plotting library.

Run: ``.venv/bin/python bench/plot_growth.py [RESULT.json ...]`` (default: every
bench/results/growth-*.json; a size measured twice keeps the later file's figures).
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path

RESULTS = Path(__file__).parent / "results"
OUTPUT = Path(__file__).parent.parent / "docs" / "img" / "growth.svg"

TIMES = {  # measure -> colour (Okabe-Ito: told apart with colour-blindness too)
    "cases page": "#0072B2",
    "overdue page": "#009E73",
    "handovers page": "#CC79A7",
    "GET /cases page": "#56B4E9",
    "replay one case": "#E69F00",
    "verify ledger": "#D55E00",
}
SPACE = {"disk": "#555555", "serve memory": "#8B5A2B"}
DASHES = {"sqlite": "", "postgresql": "7 4"}
FONT = 'font-family="sans-serif" font-size="12"'

Points = list[tuple[float, float]]


@dataclass(frozen=True)
class LogAxis:
    """A log-scale axis from one decade to another, onto pixels ``start`` to ``end``."""

    low: int
    high: int
    start: float
    end: float

    @classmethod
    def spanning(
        cls, values: Iterable[float], start: float, end: float, *, pad: float = 0.0
    ) -> LogAxis:
        """The whole decades around every value, each at least ``pad`` decades inside."""
        logs = [math.log10(v) for v in values if v > 0]
        low = math.floor(min(logs) - pad)
        return cls(low, max(math.ceil(max(logs) + pad), low + 1), start, end)

    def at(self, value: float) -> float:
        """The pixel of a value."""
        share = (math.log10(value) - self.low) / (self.high - self.low)
        return self.start + share * (self.end - self.start)

    def decades(self) -> range:
        """The exponents of the decades shown."""
        return range(self.low, self.high + 1)


@dataclass(frozen=True)
class Panel:
    """A plot area: its box on the canvas and its title."""

    left: float
    top: float
    width: float
    height: float
    title: str


def load(paths: Sequence[Path]) -> dict[tuple[str, str], dict[int, float]]:
    """Series keyed by (measure, backend): records -> value (ms, or MiB for the space)."""
    series: dict[tuple[str, str], dict[int, float]] = {}
    for path in paths:
        for home in json.loads(path.read_text(encoding="utf-8"))["homes"]:
            backend, records = home["backend"], home["records"]
            for name in TIMES:
                series.setdefault((name, backend), {})[records] = home["ms"][name]
            series.setdefault(("disk", backend), {})[records] = home["disk_bytes"] / 2**20
            if home["serve"]:
                memory = home["serve"]["rss_kib"] / 2**10
                series.setdefault(("serve memory", backend), {})[records] = memory
    return series


def count_label(value: float) -> str:
    """1000 -> 1k, 1000000 -> 1M."""
    for size, suffix in ((1e6, "M"), (1e3, "k")):
        if value >= size:
            return f"{value / size:g}{suffix}"
    return f"{value:g}"


def time_label(ms: float) -> str:
    """Milliseconds as ms or s."""
    return f"{ms / 1e3:g} s" if ms >= 1e3 else f"{ms:g} ms"


def frame(panel: Panel, x: LogAxis, y: LogAxis, y_label: Callable[[float], str]) -> list[str]:
    """The panel's grid, decade ticks with labels, axis titles and title."""
    parts = [
        f'<rect x="{panel.left}" y="{panel.top}" width="{panel.width}" height="{panel.height}" '
        'fill="none" stroke="#999"/>',
        f'<text x="{panel.left}" y="{panel.top - 10}" {FONT} font-weight="bold">'
        f"{escape(panel.title)}</text>",
        f'<text x="{panel.left + panel.width / 2}" y="{panel.top + panel.height + 36}" {FONT} '
        'text-anchor="middle">records in the ledger</text>',
    ]
    for exponent in x.decades():
        px = x.at(10.0**exponent)
        parts += [
            f'<line x1="{px:.1f}" y1="{panel.top}" x2="{px:.1f}" '
            f'y2="{panel.top + panel.height}" stroke="#e4e4e4"/>',
            f'<text x="{px:.1f}" y="{panel.top + panel.height + 16}" {FONT} '
            f'text-anchor="middle">{count_label(10.0**exponent)}</text>',
        ]
    for exponent in y.decades():
        py = y.at(10.0**exponent)
        label = y_label(10.0**exponent)
        parts += [
            f'<line x1="{panel.left}" y1="{py:.1f}" x2="{panel.left + panel.width}" '
            f'y2="{py:.1f}" stroke="#e4e4e4"/>',
            f'<text x="{panel.left - 6}" y="{py + 4:.1f}" {FONT} text-anchor="end">'
            f"{escape(label)}</text>",
        ]
    return parts


def line(points: Points, x: LogAxis, y: LogAxis, colour: str, dashes: str) -> list[str]:
    """A polyline through the points with a dot at each."""
    pixels = [(x.at(px), y.at(py)) for px, py in sorted(points) if py > 0]
    path = " ".join(f"{px:.1f},{py:.1f}" for px, py in pixels)
    dash = f' stroke-dasharray="{dashes}"' if dashes else ""
    parts = [f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"{dash}/>']
    parts += [f'<circle cx="{px:.1f}" cy="{py:.1f}" r="3" fill="{colour}"/>' for px, py in pixels]
    return parts


def legend(left: float, top: float, colours: dict[str, str]) -> list[str]:
    """Colour swatches for the measures, then the line style of each backend."""
    parts = []
    entries = [(name, colour, "") for name, colour in colours.items()]
    entries += [(backend, "#333", dashes) for backend, dashes in DASHES.items()]
    for number, (name, colour, dashes) in enumerate(entries):
        column, row = divmod(number, 4)
        lx, ly = left + column * 190, top + row * 18
        dash = f' stroke-dasharray="{dashes}"' if dashes else ""
        parts += [
            f'<line x1="{lx}" y1="{ly}" x2="{lx + 28}" y2="{ly}" stroke="{colour}" '
            f'stroke-width="2"{dash}/>',
            f'<text x="{lx + 34}" y="{ly + 4}" {FONT}>{escape(name)}</text>',
        ]
    return parts


def draw_panel(
    panel: Panel,
    series: dict[tuple[str, str], dict[int, float]],
    colours: dict[str, str],
    y_label: Callable[[float], str],
) -> list[str]:
    """One panel with a line per (measure, backend) among ``colours``."""
    shown = {key: points for key, points in series.items() if key[0] in colours and points}
    x = LogAxis.spanning(
        (r for points in shown.values() for r in points), panel.left, panel.left + panel.width
    )
    y = LogAxis.spanning(
        (v for points in shown.values() for v in points.values()),
        panel.top + panel.height,
        panel.top,
        pad=0.1,  # no line on the frame
    )
    parts = frame(panel, x, y, y_label)
    for (name, backend), points in sorted(shown.items()):
        parts += line(list(points.items()), x, y, colours[name], DASHES.get(backend, "2 2"))
    return parts


def svg(series: dict[tuple[str, str], dict[int, float]]) -> str:
    """The whole drawing: times on the left, space on the right, the legend below."""
    times = Panel(70, 40, 520, 340, "Time per call (best of runs), log scale")
    space = Panel(680, 40, 250, 340, "Disk and serve memory (MiB), log scale")
    body = [
        '<rect width="100%" height="100%" fill="white"/>',
        *draw_panel(times, series, TIMES, time_label),
        *draw_panel(space, series, SPACE, lambda v: f"{v:g}"),
        *legend(70, 440, {**TIMES, **SPACE}),
    ]
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="960" height="520" '
        'viewBox="0 0 960 520" role="img" aria-label="phasedcare costs as the ledger grows">\n'
        + "\n".join(body)
        + "\n</svg>\n"
    )


def main() -> None:
    """Read the results, write the SVG."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="*", type=Path, help="default: results/growth-*.json")
    parser.add_argument("--out", type=Path, default=OUTPUT)
    args = parser.parse_args()
    paths = args.results or sorted(RESULTS.glob("growth-*.json"), key=lambda p: p.stat().st_mtime)
    if not paths:
        raise SystemExit(f"no results: run bench/growth_bench.py first ({RESULTS})")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(svg(load(paths)), encoding="utf-8")
    print(f"wrote {args.out} from {len(paths)} result file(s)")


if __name__ == "__main__":
    main()
