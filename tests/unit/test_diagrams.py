"""The statechart drawings: every state and transition of each chart, read from the chart itself,
the current state marked for eyes and screen readers, text escaped, output deterministic."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from typing import Any

import pytest
from statemachine import State, StateMachine

from phasedcare.domain.charts import CHARTS
from phasedcare.web.diagrams import CURRENT_MARKER, chart_svg

SVG = "http://www.w3.org/2000/svg"
TAG = re.compile(r"^\{" + re.escape(SVG) + r"\}")
CHART_NAMES = sorted(CHARTS)
EVERY_STATE = [(name, str(s.id)) for name in CHART_NAMES for s in CHARTS[name].states]


def q(tag: str) -> str:
    """The namespaced name of an SVG element."""
    return f"{{{SVG}}}{tag}"


def states_of(chart: Any) -> list[str]:
    """The state ids of a chart class, in its own order."""
    return [str(s.id) for s in chart.states]


def transitions_of(chart: Any) -> set[tuple[str, str, str]]:
    """Every distinct (source, event, target) of a chart class, self-loops left out: the
    drawing skips them (neither chart has one; ``test_a_new_chart_is_drawn_from_its_definition``
    shows the skipping)."""
    return {
        (str(s.id), str(e.id), str(t.target.id))
        for s in chart.states
        for t in s.transitions
        for e in t.events
        if t.target.id != s.id
    }


def parse(svg: str) -> ET.Element:
    """The drawing as an element tree (it must be well-formed XML)."""
    return ET.fromstring(svg)  # noqa: S314 - our own output, parsed to check it


def state_groups(root: ET.Element) -> list[ET.Element]:
    return [g for g in root.iter(q("g")) if "pc-diagram-state" in g.get("class", "").split()]


def transition_groups(root: ET.Element) -> list[ET.Element]:
    return [g for g in root.iter(q("g")) if "pc-diagram-transition" in g.get("class", "").split()]


def group_of(root: ET.Element, state: str) -> ET.Element:
    (group,) = [g for g in state_groups(root) if g.get("data-state") == state]
    return group


def texts(element: ET.Element) -> list[str]:
    return ["".join(t.itertext()) for t in element.iter(q("text"))]


def rect_of(group: ET.Element) -> tuple[float, float, float, float]:
    rect = group.find(q("rect"))
    assert rect is not None
    x, y, w, h = (float(rect.get(k, "nan")) for k in ("x", "y", "width", "height"))
    return x, y, w, h


def draw(chart: str, current: str | None = None, **kwargs: Any) -> ET.Element:
    kwargs.setdefault("title", f"De {chart} van deze zaak")
    return parse(chart_svg(chart, current, **kwargs))


# --- the chart's own states and transitions -------------------------------------------------


@pytest.mark.parametrize("chart", CHART_NAMES)
def test_every_state_is_drawn_exactly_once(chart: str) -> None:
    """One state group per state of the chart class, each a rounded rect with its label."""
    groups = state_groups(draw(chart))
    assert sorted(g.get("data-state", "") for g in groups) == sorted(states_of(CHARTS[chart]))
    for group in groups:
        rect = group.find(q("rect"))
        assert rect is not None
        assert float(rect.get("rx", "0")) > 0
        assert texts(group) == [group.get("data-state", "").replace("_", " ")]


@pytest.mark.parametrize("chart", CHART_NAMES)
def test_every_transition_is_an_arrow_labelled_with_its_event(chart: str) -> None:
    """One arrow per distinct (source, event, target) of the chart, with a marker, named."""
    root = draw(chart)
    groups = transition_groups(root)
    expected = transitions_of(CHARTS[chart])
    drawn = [(g.get("data-source"), g.get("data-event"), g.get("data-target")) for g in groups]
    assert len(drawn) == len(expected)
    assert set(drawn) == expected
    markers = {m.get("id") for m in root.iter(q("marker"))}
    for group, (_, event, _) in zip(groups, drawn, strict=True):
        (path,) = list(group.iter(q("path")))
        assert path.get("marker-end", "")[5:-1] in markers
        assert texts(group) == [event]


@pytest.mark.parametrize("chart", CHART_NAMES)
def test_every_arrow_runs_from_its_source_to_its_target(chart: str) -> None:
    """Each arrow starts on its source's border and ends on its target's."""
    root = draw(chart)
    for group in transition_groups(root):
        (path,) = list(group.iter(q("path")))
        numbers = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", path.get("d", ""))]
        start, end = numbers[:2], numbers[-2:]
        assert on_border(start, rect_of(group_of(root, group.get("data-source", ""))))
        assert on_border(end, rect_of(group_of(root, group.get("data-target", ""))))


def on_border(point: list[float], rect: tuple[float, float, float, float]) -> bool:
    (px, py), (x, y, w, h) = point, rect
    inside = x - 0.1 <= px <= x + w + 0.1 and y - 0.1 <= py <= y + h + 0.1
    edge = min(abs(px - x), abs(px - x - w), abs(py - y), abs(py - y - h))
    return inside and edge <= 0.1


@pytest.mark.parametrize("chart", CHART_NAMES)
def test_the_layout_runs_left_to_right_without_overlaps(chart: str) -> None:
    """The initial state is leftmost; no two states overlap; a straight arrow goes right, and an
    arrow going left (a back-edge) is a curve below or above the states."""
    root = draw(chart)
    rects = {g.get("data-state", ""): rect_of(g) for g in state_groups(root)}
    initial = str(CHARTS[chart].initial_state.id)
    assert rects[initial][0] == min(r[0] for r in rects.values())
    boxes = sorted(rects.values())
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            assert (
                a[0] + a[2] <= b[0]
                or b[0] + b[2] <= a[0]
                or a[1] + a[3] <= b[1]
                or b[1] + b[3] <= a[1]
            )
    for group in transition_groups(root):
        source, target = rects[group.get("data-source", "")], rects[group.get("data-target", "")]
        (path,) = list(group.iter(q("path")))
        if target[0] <= source[0]:
            assert " C" in path.get("d", "")
            assert {"pc-diagram-below", "pc-diagram-above"} & set(group.get("class", "").split())
        if "pc-diagram-straight" in group.get("class", ""):
            assert target[0] > source[0]


def test_terugval_and_heropenen_are_curves_back() -> None:
    """The phase chart's back-edges are drawn as curves to an earlier layer."""
    root = draw("phase")
    back = [g for g in transition_groups(root) if g.get("data-event") in ("terugval", "heropenen")]
    assert len(back) == 3
    for group in back:
        source = rect_of(group_of(root, group.get("data-source", "")))
        target = rect_of(group_of(root, group.get("data-target", "")))
        assert target[0] < source[0]
        assert "pc-diagram-straight" not in group.get("class", "")


def test_the_way_forward_is_straight() -> None:
    """A transition to the next layer is a straight arrow: the phase chart's main path."""
    root = draw("phase")
    forward = ("start_directe_veiligheid", "naar_stabiele_veiligheid", "naar_herstel")
    for group in transition_groups(root):
        if group.get("data-event") in forward:
            (path,) = list(group.iter(q("path")))
            assert "pc-diagram-straight" in group.get("class", "").split()
            assert re.fullmatch(r"M[\d.]+,[\d.]+ L[\d.]+,[\d.]+", path.get("d", ""))


def test_a_new_chart_is_drawn_from_its_definition(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing is listed by hand: a chart's states and transitions are what is drawn; a
    self-loop is the one transition left out."""

    class Demo(StateMachine):
        start = State(initial=True)
        middle = State()
        end = State(final=True)
        go = start.to(middle)
        stay = middle.to(middle)
        finish = middle.to(end) | start.to(end)
        back = middle.to(start)

    monkeypatch.setitem(CHARTS, "demo", Demo)
    root = draw("demo", "middle")
    assert sorted(g.get("data-state", "") for g in state_groups(root)) == ["end", "middle", "start"]
    drawn = {
        (g.get("data-source"), g.get("data-event"), g.get("data-target"))
        for g in transition_groups(root)
    }
    assert drawn == transitions_of(Demo)
    assert ("middle", "stay", "middle") not in drawn
    assert len(drawn) == 4


# --- the current state ----------------------------------------------------------------------


@pytest.mark.parametrize(("chart", "state"), EVERY_STATE)
def test_the_current_state_is_marked_not_by_colour_alone(chart: str, state: str) -> None:
    """The current state's group has aria-current and the visible marker, a thicker border and
    another fill; no other state has any of them."""
    root = draw(chart, state)
    current = group_of(root, state)
    assert current.get("aria-current") == "step"
    assert CURRENT_MARKER in texts(current)
    others = [g for g in state_groups(root) if g is not current]
    assert others
    mine = current.find(q("rect"))
    assert mine is not None
    for other in others:
        assert other.get("aria-current") is None
        assert CURRENT_MARKER not in texts(other)
        rect = other.find(q("rect"))
        assert rect is not None
        assert float(mine.get("stroke-width", "0")) > float(rect.get("stroke-width", "0"))
        assert mine.get("fill") != rect.get("fill")


@pytest.mark.parametrize("chart", CHART_NAMES)
def test_without_a_current_state_none_is_marked(chart: str) -> None:
    root = draw(chart)
    assert all(g.get("aria-current") is None for g in state_groups(root))
    assert CURRENT_MARKER not in texts(root)
    desc = root.find(q("desc"))
    assert desc is not None
    assert "Geen huidige toestand" in (desc.text or "")


def test_an_unknown_current_state_is_refused() -> None:
    """A state of the other chart, or none at all, is no state of this one."""
    with pytest.raises(ValueError, match="not a state of the phase chart"):
        chart_svg("phase", "melding", title="Fasen")
    with pytest.raises(ValueError, match="not a state"):
        chart_svg("vt", "nergens", title="Veilig Thuis")


def test_an_unknown_chart_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown chart 'fasen'"):
        chart_svg("fasen", title="Fasen")


# --- for screen readers ---------------------------------------------------------------------


@pytest.mark.parametrize(("chart", "state"), EVERY_STATE)
def test_title_and_description_name_the_drawing(chart: str, state: str) -> None:
    """role=img, labelled by its <title>, described by a <desc> listing every state and the
    current one in words."""
    root = draw(chart, state, title="Fasen van zaak Z-1")
    assert TAG.sub("", root.tag) == "svg"
    assert root.get("role") == "img"
    children = {TAG.sub("", c.tag): c for c in root}
    title, desc = children["title"], children["desc"]
    assert root.get("aria-labelledby") == title.get("id")
    assert root.get("aria-describedby") == desc.get("id")
    assert title.text == "Fasen van zaak Z-1"
    words = desc.text or ""
    for other in states_of(CHARTS[chart]):
        assert other.replace("_", " ") in words
    assert f"Huidige toestand: {state.replace('_', ' ')}." in words


@pytest.mark.parametrize("chart", CHART_NAMES)
def test_size_and_viewbox_come_from_the_layout(chart: str) -> None:
    """The viewBox holds every state; width and height are its size."""
    root = draw(chart)
    x, y, width, height = (float(n) for n in root.get("viewBox", "").split())
    assert (x, y) == (0, 0)
    assert (float(root.get("width", "0")), float(root.get("height", "0"))) == (width, height)
    for group in state_groups(root):
        rx, ry, rw, rh = rect_of(group)
        assert rx >= 0
        assert ry >= 0
        assert rx + rw <= width
        assert ry + rh <= height


def luminance(colour: str) -> float:
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


@pytest.mark.parametrize(("chart", "state"), EVERY_STATE)
def test_all_text_has_contrast_of_at_least_4_5(chart: str, state: str) -> None:
    """Each text against what lies behind it: its state's fill, or the drawing's background."""
    root = draw(chart, state)
    (background,) = [r for r in root.iter(q("rect")) if r.get("class") == "pc-diagram-background"]
    behind = background.get("fill", "")
    for group in transition_groups(root):
        for text in group.iter(q("text")):
            assert contrast(text.get("fill", ""), behind) >= 4.5
    for group in state_groups(root):
        rect = group.find(q("rect"))
        assert rect is not None
        for text in group.iter(q("text")):
            assert contrast(text.get("fill", ""), rect.get("fill", "")) >= 4.5


@pytest.mark.parametrize("chart", CHART_NAMES)
def test_nothing_runs_or_loads(chart: str) -> None:
    """No script, style, foreign content or link; every url() points inside the drawing; every
    class is pc-diagram-prefixed; no XML declaration."""
    svg = chart_svg(chart, title="x")
    assert svg.startswith("<svg ")
    root = parse(svg)
    ids = {e.get("id") for e in root.iter() if e.get("id")}
    for element in root.iter():
        assert TAG.sub("", element.tag) not in {
            "script",
            "style",
            "foreignObject",
            "image",
            "use",
            "a",
        }
        for name, value in element.attrib.items():
            assert not name.startswith("on")
            assert "href" not in name
            assert "://" not in value
            for ref in re.findall(r"url\(#([^)]*)\)", value):
                assert ref in ids
        for cls in element.get("class", "").split():
            assert cls.startswith("pc-diagram")


# --- escaping and determinism ---------------------------------------------------------------


def test_labels_and_title_are_escaped() -> None:
    """Markup in a label or title is text: it round-trips through an XML parser."""
    nasty = "a<b & \"c\" 'd' ]]> </text><script>"
    initial = str(CHARTS["phase"].initial_state.id)
    svg = chart_svg("phase", initial, title=nasty, labels={initial: nasty, "elders": "ignored"})
    root = parse(svg)
    assert texts(group_of(root, initial))[0] == nasty
    title = root.find(q("title"))
    assert title is not None
    assert title.text == nasty
    desc = root.find(q("desc"))
    assert desc is not None
    assert f"Huidige toestand: {nasty}." in (desc.text or "")
    assert not [e for e in root.iter() if TAG.sub("", e.tag) == "script"]


def test_characters_xml_cannot_hold_are_dropped() -> None:
    root = draw("vt", labels={"melding": "mel\x00ding\x1b"}, title="t\x07")
    assert texts(group_of(root, "melding")) == ["melding"]


def test_labels_replace_the_default_words() -> None:
    """Given labels are shown; the rest default to the id with spaces."""
    root = draw("vt", labels={"verzoek_rvdk": "verzoek aan de Raad"})
    assert texts(group_of(root, "verzoek_rvdk")) == ["verzoek aan de Raad"]
    assert texts(group_of(root, "voorwaarden_en_vervolg")) == ["voorwaarden en vervolg"]


@pytest.mark.parametrize(("chart", "state"), EVERY_STATE)
def test_output_is_deterministic(chart: str, state: str) -> None:
    assert chart_svg(chart, state, title="t") == chart_svg(chart, state, title="t")


def test_output_is_the_same_in_another_process() -> None:
    """Nothing depends on hash seeds or the process: two interpreters draw the same bytes."""
    code = (
        "import sys\nfrom phasedcare.web.diagrams import chart_svg\n"
        "sys.stdout.write(chart_svg('vt', 'onderzoek', title='t') + chart_svg('phase', title='p'))"
    )
    outputs = set()
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        result = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
        )
        outputs.add(result.stdout)
    assert outputs == {chart_svg("vt", "onderzoek", title="t") + chart_svg("phase", title="p")}


def test_two_charts_on_one_page_have_distinct_ids() -> None:
    """The phase and vt drawings of one case page share no id (marker, title, desc)."""
    ids = [
        {e.get("id") for e in draw(chart, title="t").iter() if e.get("id")} for chart in CHART_NAMES
    ]
    assert not set.intersection(*ids)
