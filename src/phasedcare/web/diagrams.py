"""The two statecharts of a case drawn as inline SVG, with the case's current state marked.

Everything is read from the chart classes of :mod:`phasedcare.domain.charts`: the states,
the initial state and every (source, event, target) transition. Nothing is listed by hand,
so a state or transition added to a chart appears in its drawing.

The layout is deterministic and simple, left to right:

* a depth-first walk from the initial state (transitions in the chart's own order) marks
  the transitions that close a cycle (terugval, heropenen, nieuwe melding, scaling up) as
  back-edges;
* each state's layer is its longest path from the initial state over the other transitions;
  states of one layer are stacked vertically in the chart's state order;
* a transition to the next layer is a straight arrow; any other (skipping layers, or going
  back) is a curve in its own lane above (forward) or below (back) the states, switched to
  the other side when a state stacked beside its ends would be crossed.

Self-loops (a transition from a state to itself) are skipped: neither chart has one.

The drawing uses presentation attributes only (no ``<style>``, so a Content-Security-Policy
without ``'unsafe-inline'`` styles still draws it), no script, no external reference and no
font but the generic ``sans-serif``. Class names, for a page's own styling, start with
``pc-diagram-``. The current state has a thicker border, another fill, ``aria-current="step"``
and a visible text marker; the ``<desc>`` lists the states, the current one and every
transition in words, for screen readers (the ``<svg>`` is one ``role="img"``).
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple
from xml.sax.saxutils import escape, quoteattr

from phasedcare.domain.charts import CHARTS

__all__ = ["CURRENT_MARKER", "chart_svg"]

CURRENT_MARKER = "(huidig)"
"""The visible words in the current state's box: the highlight is never colour alone."""

_NS = "http://www.w3.org/2000/svg"

# Colours (contrast against the fill behind them, WCAG 2.1 AA; all text >= 4.5:1).
_BACKGROUND = "#ffffff"
_TEXT = "#1a1a1a"  # 17.4:1 on white, 14.6:1 on the current fill
_LINE = "#4d4d4d"  # borders and arrows: 8.5:1 on white
_EDGE_TEXT = "#333333"  # 12.6:1 on white
_CURRENT_FILL = "#dce9f5"
_CURRENT_LINE = "#154273"  # 8.3:1 on the current fill; also the marker's colour

# Geometry, in user units (px at scale 1).
_MARGIN = 16
_BOX_H = 56
_BOX_MIN_W = 120
_ROW_GAP = 36
_GAP_MIN = 72
_ARC_CLEAR = 34  # from the states to the first lane of curves
_LANE = 18  # between lanes
_LABEL_SIZE = 14
_EDGE_SIZE = 11
_EM = 0.6  # a generous average advance of a sans-serif character, in em

_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


class _Edge(NamedTuple):
    source: str
    event: str
    target: str


@dataclass(frozen=True, slots=True)
class _Graph:
    name: str
    states: tuple[str, ...]
    initial: str
    edges: tuple[_Edge, ...]


@dataclass(frozen=True, slots=True)
class _Box:
    x: float
    y: float
    w: float
    layer: int
    row: int
    rows: int

    @property
    def cx(self) -> float:
        return self.x + self.w / 2

    @property
    def cy(self) -> float:
        return self.y + _BOX_H / 2


@dataclass(frozen=True, slots=True)
class _Route:
    edge: _Edge
    side: str  # "straight", "above" or "below"
    lane: int = 0


@dataclass(frozen=True, slots=True)
class _Layout:
    boxes: dict[str, _Box]
    routes: tuple[_Route, ...]
    width: float
    height: float
    top: float  # of the states
    bottom: float  # of the states


# --- the chart as a graph -------------------------------------------------------------------


def _graph(name: str) -> _Graph:
    """The states, initial state and distinct transitions of chart ``name``, in chart order."""
    if name not in CHARTS:
        known = ", ".join(sorted(CHARTS))
        raise ValueError(f"unknown chart {name!r}; expected one of: {known}")
    chart: Any = CHARTS[name]
    edges: dict[_Edge, None] = {}
    for state in chart.states:
        for transition in state.transitions:
            for event in transition.events:
                edges[_Edge(str(state.id), str(event.id), str(transition.target.id))] = None
    return _Graph(
        name=name,
        states=tuple(str(s.id) for s in chart.states),
        initial=str(chart.initial_state.id),
        edges=tuple(e for e in edges if e.source != e.target),
    )


def _back_edges(graph: _Graph) -> frozenset[_Edge]:
    """The transitions a depth-first walk from the initial state finds closing a cycle."""
    outgoing: dict[str, list[_Edge]] = {s: [] for s in graph.states}
    for edge in graph.edges:
        outgoing[edge.source].append(edge)
    mark: dict[str, bool] = {}  # True: on the walk's path; False: done
    back: set[_Edge] = set()

    def visit(state: str) -> None:
        mark[state] = True
        for edge in outgoing[state]:
            if edge.target not in mark:
                visit(edge.target)
            elif mark[edge.target]:
                back.add(edge)
        mark[state] = False

    for root in (graph.initial, *graph.states):
        if root not in mark:
            visit(root)
    return frozenset(back)


def _layers(graph: _Graph, back: frozenset[_Edge]) -> dict[str, int]:
    """Longest-path layering over the transitions that are not back-edges (a DAG)."""
    layer = dict.fromkeys(graph.states, 0)
    forward = [e for e in graph.edges if e not in back]
    for _ in graph.states:
        for edge in forward:
            layer[edge.target] = max(layer[edge.target], layer[edge.source] + 1)
    return layer


# --- layout ---------------------------------------------------------------------------------


def _text_width(text: str, size: float) -> float:
    return math.ceil(len(text) * size * _EM)


def _columns(graph: _Graph, layer: Mapping[str, int]) -> list[list[str]]:
    columns: list[list[str]] = [[] for _ in range(max(layer.values()) + 1)]
    for state in graph.states:
        columns[layer[state]].append(state)
    return columns


def _gaps(graph: _Graph, layer: Mapping[str, int], count: int) -> list[float]:
    """The space after each layer: room for the labels of the straight arrows crossing it."""
    gaps = [float(_GAP_MIN)] * count
    for edge in graph.edges:
        if layer[edge.target] == layer[edge.source] + 1:
            need = _text_width(edge.event, _EDGE_SIZE) + 24
            gaps[layer[edge.source]] = max(gaps[layer[edge.source]], need)
    return gaps


def _boxes(
    columns: list[list[str]], gaps: list[float], box_w: float, top: float
) -> dict[str, _Box]:
    tallest = max(len(c) for c in columns)
    height = tallest * _BOX_H + (tallest - 1) * _ROW_GAP
    boxes: dict[str, _Box] = {}
    x = float(_MARGIN)
    for index, column in enumerate(columns):
        own = len(column) * _BOX_H + (len(column) - 1) * _ROW_GAP
        y = top + (height - own) / 2
        for row, state in enumerate(column):
            boxes[state] = _Box(x, y + row * (_BOX_H + _ROW_GAP), box_w, index, row, len(column))
        x += box_w + gaps[index]
    return boxes


def _blocked(box: _Box, side: str) -> bool:
    """Whether a curve leaving ``box`` on ``side`` would cross a state stacked beside it."""
    return box.row > 0 if side == "above" else box.row < box.rows - 1


def _side(edge: _Edge, boxes: Mapping[str, _Box], straight: bool) -> str:
    source, target = boxes[edge.source], boxes[edge.target]
    if straight:
        return "straight"
    preferred, other = ("above", "below") if target.layer > source.layer else ("below", "above")
    crosses = _blocked(source, preferred) or _blocked(target, preferred)
    if crosses and not (_blocked(source, other) or _blocked(target, other)):
        return other
    return preferred


def _routes(graph: _Graph, boxes: Mapping[str, _Box]) -> tuple[_Route, ...]:
    """Each transition's route; curves get lanes, the shortest nearest the states."""
    pairs: set[tuple[str, str]] = set()
    sides: dict[_Edge, str] = {}
    for edge in graph.edges:
        adjacent = boxes[edge.target].layer == boxes[edge.source].layer + 1
        straight = adjacent and (edge.source, edge.target) not in pairs
        pairs.add((edge.source, edge.target))
        sides[edge] = _side(edge, boxes, straight)
    lanes: dict[_Edge, int] = {}
    for side in ("above", "below"):
        curves = [e for e in graph.edges if sides[e] == side]
        curves.sort(key=lambda e: abs(boxes[e.target].layer - boxes[e.source].layer))
        lanes.update((e, lane) for lane, e in enumerate(curves))
    return tuple(_Route(e, sides[e], lanes.get(e, 0)) for e in graph.edges)


def _space(routes: Iterable[_Route], side: str) -> float:
    lanes = sum(1 for r in routes if r.side == side)
    return _ARC_CLEAR + (lanes - 1) * _LANE + _EDGE_SIZE + 4 if lanes else 0.0


def _layout(graph: _Graph, labels: Mapping[str, str]) -> _Layout:
    layer = _layers(graph, _back_edges(graph))
    columns = _columns(graph, layer)
    gaps = _gaps(graph, layer, len(columns))
    box_w = max([_BOX_MIN_W] + [_text_width(labels[s], _LABEL_SIZE) + 32 for s in graph.states])
    # Lanes depend only on layers and rows, not on where the states sit: route first.
    routes = _routes(graph, _boxes(columns, gaps, box_w, 0.0))
    top = _MARGIN + _space(routes, "above")
    boxes = _boxes(columns, gaps, box_w, top)
    tallest = max(len(c) for c in columns)
    bottom = top + tallest * _BOX_H + (tallest - 1) * _ROW_GAP
    width = _MARGIN * 2 + len(columns) * box_w + sum(gaps[:-1])
    height = bottom + _space(routes, "below") + _MARGIN
    return _Layout(boxes, routes, width, height, top, bottom)


# --- where arrows meet the states -----------------------------------------------------------

_Point = tuple[float, float]


def _ends(layout: _Layout) -> dict[tuple[_Edge, str], _Point]:
    """Where each arrow leaves its source and reaches its target, spread along each side."""
    sides: dict[tuple[str, str], list[tuple[tuple[float, ...], _Edge, str]]] = {}
    for route in layout.routes:
        for end, state, other in (
            ("source", route.edge.source, route.edge.target),
            ("target", route.edge.target, route.edge.source),
        ):
            side = _box_side(route, end)
            key = _order(layout.boxes[state], layout.boxes[other], side, route.lane)
            sides.setdefault((state, side), []).append((key, route.edge, end))
    points: dict[tuple[_Edge, str], _Point] = {}
    for (state, side), ends in sides.items():
        ends.sort(key=lambda item: item[0])
        for index, (_, edge, end) in enumerate(ends):
            fraction = (index + 1) / (len(ends) + 1)
            points[edge, end] = _on_side(layout.boxes[state], side, fraction)
    return points


def _box_side(route: _Route, end: str) -> str:
    if route.side == "straight":
        return "right" if end == "source" else "left"
    return "top" if route.side == "above" else "bottom"


def _order(box: _Box, other: _Box, side: str, lane: int) -> tuple[float, ...]:
    """Sort key along a side: fewest crossings (outer curves attach nearer the middle)."""
    if side in ("left", "right"):
        return (other.cy, other.cx)
    return (float(other.cx >= box.cx), -other.cx, float(lane))


def _on_side(box: _Box, side: str, fraction: float) -> _Point:
    if side == "right":
        return (box.x + box.w, box.y + _BOX_H * fraction)
    if side == "left":
        return (box.x, box.y + _BOX_H * fraction)
    y = box.y if side == "top" else box.y + _BOX_H
    return (box.x + box.w * fraction, y)


# --- SVG ------------------------------------------------------------------------------------


def _n(value: float) -> str:
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def _clean(text: str) -> str:
    """``text`` without the characters XML 1.0 cannot hold at all."""
    return _XML_INVALID.sub("", text)


def _attrs(**attributes: str | float) -> str:
    parts = []
    for name, value in attributes.items():
        shown = _n(value) if isinstance(value, float | int) else _clean(value)
        parts.append(f"{name.rstrip('_').replace('_', '-')}={quoteattr(shown)}")
    return " ".join(parts)


def _text(content: str, **attributes: str | float) -> str:
    return f"<text {_attrs(**attributes)}>{escape(_clean(content))}</text>"


def _state(state: str, box: _Box, label: str, current: bool) -> str:
    group = {"class_": "pc-diagram-state", "data_state": state}
    if current:
        group = {"class_": "pc-diagram-state pc-diagram-current", "data_state": state}
    rect = _attrs(
        x=box.x,
        y=box.y,
        width=box.w,
        height=float(_BOX_H),
        rx=8.0,
        fill=_CURRENT_FILL if current else _BACKGROUND,
        stroke=_CURRENT_LINE if current else _LINE,
        stroke_width=3.0 if current else 1.5,
    )
    parts = [f"<rect {rect}/>"]
    label_y = box.cy - 3 if current else box.cy + 5
    parts.append(
        _text(
            label,
            class_="pc-diagram-label",
            x=box.cx,
            y=label_y,
            fill=_TEXT,
            font_size=float(_LABEL_SIZE),
            text_anchor="middle",
        )
    )
    if current:
        parts.append(
            _text(
                CURRENT_MARKER,
                class_="pc-diagram-marker",
                x=box.cx,
                y=box.cy + 16,
                fill=_CURRENT_LINE,
                font_size=float(_EDGE_SIZE),
                font_weight="bold",
                text_anchor="middle",
            )
        )
    aria = ' aria-current="step"' if current else ""
    return f"<g {_attrs(**group)}{aria}>{''.join(parts)}</g>"


def _lane_y(layout: _Layout, route: _Route) -> float:
    if route.side == "above":
        return layout.top - _ARC_CLEAR - route.lane * _LANE
    return layout.bottom + _ARC_CLEAR + route.lane * _LANE


def _geometry(layout: _Layout, route: _Route, start: _Point, end: _Point) -> tuple[str, _Point]:
    """The path data of an arrow and where its label sits (the text's anchor)."""
    (x1, y1), (x2, y2) = start, end
    if route.side == "straight":
        return (
            f"M{_n(x1)},{_n(y1)} L{_n(x2)},{_n(y2)}",
            ((x1 + x2) / 2, (y1 + y2) / 2 - 5),
        )
    apex = _lane_y(layout, route)
    control = (8 * apex - y1 - y2) / 6  # the cubic's middle point lies on the lane
    path = f"M{_n(x1)},{_n(y1)} C{_n(x1)},{_n(control)} {_n(x2)},{_n(control)} {_n(x2)},{_n(y2)}"
    label_y = apex - 4 if route.side == "above" else apex + _EDGE_SIZE + 1
    return path, ((x1 + x2) / 2, label_y)


def _transition(
    layout: _Layout, route: _Route, points: Mapping[tuple[_Edge, str], _Point], arrow: str
) -> str:
    edge = route.edge
    path, (lx, ly) = _geometry(layout, route, points[edge, "source"], points[edge, "target"])
    line = _attrs(d=path, fill="none", stroke=_LINE, stroke_width=1.5, marker_end=f"url(#{arrow})")
    label = _text(
        edge.event,
        class_="pc-diagram-event",
        x=lx,
        y=ly,
        fill=_EDGE_TEXT,
        font_size=float(_EDGE_SIZE),
        text_anchor="middle",
        stroke=_BACKGROUND,
        stroke_width=3.0,
        paint_order="stroke",
    )
    group = _attrs(
        class_=f"pc-diagram-transition pc-diagram-{route.side}",
        data_source=edge.source,
        data_event=edge.event,
        data_target=edge.target,
    )
    return f"<g {group}><path {line}/>{label}</g>"


def _marker(arrow: str) -> str:
    head = _attrs(d="M0,0 L10,5 L0,10 z", fill=_LINE)
    marker = _attrs(
        id=arrow,
        viewBox="0 0 10 10",
        refX=10.0,
        refY=5.0,
        markerWidth=6.0,
        markerHeight=6.0,
        orient="auto-start-reverse",
    )
    return f"<defs><marker {marker}><path {head}/></marker></defs>"


def _description(graph: _Graph, labels: Mapping[str, str], current: str | None) -> str:
    states = ", ".join(labels[s] for s in graph.states)
    now = f"Huidige toestand: {labels[current]}." if current else "Geen huidige toestand."
    moves = "; ".join(
        f"{e.event}: van {labels[e.source]} naar {labels[e.target]}" for e in graph.edges
    )
    return f"Toestanden: {states}. {now} Overgangen: {moves}."


def _identity(graph: _Graph, current: str | None, title: str, labels: Mapping[str, str]) -> str:
    """A prefix for the drawing's ids, the same for the same drawing (two charts on one page
    differ; the same drawing twice shares identical definitions)."""
    seen = repr((graph.name, current, title, sorted(labels.items())))
    return f"pc-diagram-{graph.name}-{hashlib.sha256(seen.encode()).hexdigest()[:10]}"


def _labels(graph: _Graph, labels: Mapping[str, str] | None) -> dict[str, str]:
    given = labels or {}
    return {s: given.get(s, s.replace("_", " ")) for s in graph.states}


def chart_svg(
    chart: str,
    current: str | None = None,
    *,
    title: str,
    labels: Mapping[str, str] | None = None,
) -> str:
    """Chart ``chart`` ("phase" or "vt", as :data:`~phasedcare.domain.charts.CHARTS` names
    them) as a standalone ``<svg>`` element, with the state ``current`` marked.

    ``title`` names the drawing (its ``<title>``, what ``aria-labelledby`` points at);
    ``labels`` gives the words shown per state id (default: the id with spaces for
    underscores); keys that are not states of the chart are ignored, so one mapping can serve
    both charts.

    Raises:
        ValueError: an unknown chart, or a ``current`` that is not a state of it.
    """
    graph = _graph(chart)
    if current is not None and current not in graph.states:
        raise ValueError(f"{current!r} is not a state of the {chart} chart")
    shown = _labels(graph, labels)
    layout = _layout(graph, shown)
    ids = _identity(graph, current, title, shown)
    points = _ends(layout)
    root = _attrs(
        xmlns=_NS,
        class_="pc-diagram",
        role="img",
        aria_labelledby=f"{ids}-title",
        aria_describedby=f"{ids}-desc",
        viewBox=f"0 0 {_n(layout.width)} {_n(layout.height)}",
        width=layout.width,
        height=layout.height,
        font_family="sans-serif",
    )
    description = _description(graph, shown, current)
    background = _attrs(
        class_="pc-diagram-background", width="100%", height="100%", fill=_BACKGROUND
    )
    body = [
        f"<title {_attrs(id=ids + '-title')}>{escape(_clean(title))}</title>",
        f"<desc {_attrs(id=ids + '-desc')}>{escape(_clean(description))}</desc>",
        _marker(f"{ids}-arrow"),
        f"<rect {background}/>",
        *(_transition(layout, r, points, f"{ids}-arrow") for r in layout.routes),
        *(_state(s, layout.boxes[s], shown[s], s == current) for s in graph.states),
    ]
    return f"<svg {root}>{''.join(body)}</svg>"
