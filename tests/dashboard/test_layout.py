"""Every panel's content fits its box at the sizes the page is made for.

A pit-wall laptop is often 1280x800; the page is drawn at 1600x1000 too. Each panel
clips what overflows it (``overflow: hidden``), so a column too wide for its panel
silently disappears: the strategy card's last columns did at 1280, and the models card
too. The page is loaded at each size on two fixed races, served through Playwright's
request routing: the pixel test's frozen race, and the same race grown to the longest
content a real one shows (25 cars, long team names, eight candidates named with their
tire choice, every model of the demo's registry loaded).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, ViewportSize

from dashboard.conftest import BuiltRace, serving
from dashboard.frozen import (
    CARS,
    CROWDED_CARS,
    CROWDED_RACE,
    FROZEN_RACE,
    answering,
    crowded_routes,
    frozen_routes,
)

pytestmark = pytest.mark.xdist_group("browser")

SIZES: tuple[ViewportSize, ...] = ({"width": 1280, "height": 800},
                                   {"width": 1600, "height": 1000})
RACES = {FROZEN_RACE: (frozen_routes, len(CARS), 3),
         CROWDED_RACE: (crowded_routes, len(CROWDED_CARS), 20)}
"""Each race's routes, cars in the tower and events in the feed."""

CLIPPED = """() => {
    // Content a panel hides: an element whose overflow is hidden (every panel's is)
    // holding more than its width or, for the panel itself, its height; or an element
    // drawn past its panel's sides. A cell cut short with an ellipsis and its full text in
    // its title (the tower's team names) is abbreviated, not lost.
    const problems = [];
    const name = (e) => `${e.tagName.toLowerCase()}${e.id ? '#' + e.id : ''}`
        + `${typeof e.className === 'string' && e.className ? '.' + e.className : ''}`
        + ` "${(e.textContent || '').trim().slice(0, 30)}"`;
    const hides = (s) => ['hidden', 'clip'].includes(s);
    for (const panel of document.querySelectorAll('#grid > .panel')) {
        const box = panel.getBoundingClientRect();
        if (panel.scrollHeight > panel.clientHeight + 1) {
            const cut = panel.scrollHeight - panel.clientHeight;
            problems.push(`${panel.id}: ${cut} px cut at the bottom`);
        }
        for (const e of [panel, ...panel.querySelectorAll('*')]) {
            const style = getComputedStyle(e);
            const abbreviated = style.textOverflow === 'ellipsis' && e.title;
            if (hides(style.overflowX) && e.scrollWidth > e.clientWidth + 1 && !abbreviated) {
                problems.push(
                    `${panel.id}: ${name(e)} holds ${e.scrollWidth} px in ${e.clientWidth}`);
            }
            const r = e.getBoundingClientRect();
            if (e !== panel && r.width > 0 && (r.right > box.right + 1 || r.left < box.left - 1)) {
                const at = (a, b) => `${Math.round(a)}-${Math.round(b)}`;
                problems.push(`${panel.id}: ${name(e)} spans ${at(r.left, r.right)}, `
                    + `the panel ${at(box.left, box.right)}`);
            }
        }
    }
    const page = document.documentElement;
    if (page.scrollWidth > page.clientWidth) problems.push(`page ${page.scrollWidth} px wide`);
    return problems;
}"""

STRATEGY_COLUMNS = """() => {
    // Each column of the candidates' table, its heading and its cells, inside the card.
    const card = document.querySelector('#strategy-panel');
    const inner = card.getBoundingClientRect().right - card.clientLeft;
    const rows = [...document.querySelectorAll('#strategy table.cands tr')];
    return rows.flatMap((row) => [...row.cells].map((cell, i) => ({
        column: i, text: cell.innerText, right: cell.getBoundingClientRect().right,
        inner, title: cell.title})));
}"""


@pytest.fixture(scope="module")
def url(built_race: BuiltRace, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The service, for the page, its scripts and its styles (the races are routed)."""
    with serving(built_race.registry, tmp_path_factory.mktemp("layout") / "serve.log") as at:
        yield at


def _open(browser: Browser, url: str, race_id: str, size: ViewportSize) -> Iterator[Page]:
    routes, n_cars, n_events = RACES[race_id]
    context = browser.new_context(viewport=size, device_scale_factor=1)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.route(f"**/v1/races/{race_id}/**", answering(race_id, routes()))
    page.goto(f"{url}/dashboard?race={race_id}")
    for ready in (f"document.querySelectorAll('#tower tbody tr[data-car]').length === {n_cars}",
                  f"document.querySelectorAll('#feed li').length === {n_events}",
                  "document.querySelector('#delta')?.dataset.lastLap",
                  "document.querySelectorAll('#lapchart canvas').length",
                  "document.querySelector('#strategy').dataset.state === 'advice'",
                  "document.querySelector('#car-card').textContent.includes('0.041')",
                  "document.querySelector('#health-card dl')"):
        page.wait_for_function(f"() => {ready}", timeout=30_000)
    page.evaluate("() => window.cognirace.freeze()")
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
    try:
        yield page
        assert errors == []
    finally:
        context.close()


@pytest.fixture(params=[(race, size) for race in RACES for size in SIZES],
                ids=lambda p: f"{p[0]}-{p[1]['width']}x{p[1]['height']}")
def laid_out(request: pytest.FixtureRequest, browser: Browser, url: str) -> Iterator[Page]:
    race_id, size = request.param
    yield from _open(browser, url, race_id, size)


def test_no_panel_cuts_off_its_content(laid_out: Page) -> None:
    assert laid_out.evaluate(CLIPPED) == []


def test_every_strategy_column_is_inside_the_card(laid_out: Page) -> None:
    cells = laid_out.evaluate(STRATEGY_COLUMNS)
    assert len({cell["column"] for cell in cells}) == 6
    outside = [cell for cell in cells if cell["right"] > cell["inner"] + 0.5]
    assert outside == []
    headings = [cell for cell in cells if cell["title"]]
    assert [cell["title"] for cell in headings] == [
        "candidate", "E[pos]", "P10–P90", "P(gain)", "P(lose)", "rejoin"]
    for cell in headings:  # the full name or a short form, never empty
        assert cell["text"].strip(), cell


def test_the_models_card_lists_every_model_whole(laid_out: Page) -> None:
    models = laid_out.eval_on_selector_all(
        "#health-card dd .item", "items => items.map(i => [i.textContent, "
        "i.getClientRects().length])")
    assert models, "no model listed"
    assert [name for name, _ in models if not name.endswith(("v1", "v12"))] == []
    assert [name for name, lines in models if lines != 1] == []  # none split over lines


def test_the_short_headings_show_only_on_a_narrow_card(browser: Browser, url: str) -> None:
    shown = {}
    for size in SIZES:
        for opened in _open(browser, url, FROZEN_RACE, size):
            shown[size["width"]] = opened.eval_on_selector_all(
                "#strategy table.cands th", "cells => cells.map(c => c.innerText)")
    assert shown[1600] == ["candidate", "E[pos]", "P10–P90", "P(gain)", "P(lose)", "rejoin"]
    assert shown[1280] != shown[1600]

