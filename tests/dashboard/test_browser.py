"""The dashboard in a real browser, following a race replayed at 20x through the service.

One service and one replay, each in its own process as a user runs them (``cognirace
serve``, ``cognirace replay``), and one page for the module; the tests read the page as
the race goes on, in order. Then, on the same service: the page on a fixed race, frozen
and compared pixel by pixel with a stored baseline, and last, with API keys switched on
(a key written to the keys file the running service watches).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Request,
    ViewportSize,
)

from cognirace.realtime import race_info
from cognirace.realtime.lap_traces import CHANNELS
from dashboard.conftest import RACE_S, SCREENSHOTS, BuiltRace, keys_file_of, serving
from dashboard.frozen import CARS, FROZEN_RACE, answering, frozen_routes
from dashboard.pixels import SHARE, compare
from dashboard.proxy import Relay

pytestmark = pytest.mark.xdist_group("browser")

SPEED = 20.0
WATCHED = 0
"""Index in the entry list of the car the race watches (its advice is pushed)."""
TEAMS = ("Rossi Racing", "JTR Motorsports", "BSI Racing")
"""Teams the test's entry list gives every second car: the simulated Barber files, like
the real anonymized ones, name no team, so the tower shows every kind of row."""
DRIVERS = ("Ana Rossi", "Ben Hale")
"""Drivers it gives every fourth car (two of them with a team, as Indianapolis's files
name both)."""
VIEWPORTS: tuple[ViewportSize, ...] = ({"width": 1600, "height": 1000},
                                       {"width": 1280, "height": 800})
"""The page's size in these tests and the smallest screen it is made for."""


@dataclass
class Run:
    url: str
    race_id: str
    entries: list[str]
    declared: dict[str, dict[str, Any]]
    """Each car's entry as declared (team, chassis), by car number."""
    page: Page
    context: BrowserContext
    replay: subprocess.Popen[bytes] | None = None
    relay: Relay | None = None
    problems: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    """Console errors while the test cut the connections (each must be a network error)."""
    offline: bool = False
    foreign: list[str] = field(default_factory=list)


def _declare(url: str, built: BuiltRace) -> list[dict[str, Any]]:
    """Declare the race with one watched car, start fills and a team for every second
    car, before the replay (whose own declaration then finds it declared the same way)."""
    info = race_info(built.lake, built.race_id, duration_s=RACE_S)
    entries = [{"car_number": e.car_number, "vehicle_id": e.vehicle_id,
                "chassis": e.chassis, "team": e.team or (TEAMS[i // 2 % len(TEAMS)]
                                                         if i % 2 == 0 else None),
                "driver": e.driver or (DRIVERS[i // 4 % len(DRIVERS)] if i % 4 == 0
                                       else None),
                "fuel_start_l": 40.0, "watch": i == WATCHED}
               for i, e in enumerate(info.entries)]
    answer = httpx.put(f"{url}/v1/races/{built.race_id}", timeout=30, json={
        "track": info.track, "session": info.session, "duration_s": info.duration_s,
        "start": info.start.isoformat() if info.start else None, "entries": entries})
    assert answer.status_code == 201, answer.text
    return entries


def _replay(url: str, built: BuiltRace, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen([sys.executable, "-m", "cognirace.cli.main", "replay",
                                 built.race_id, "--lake", str(built.lake.root), "--to", url,
                                 "--speed", str(SPEED), "--quiet"], stdout=out,
                                stderr=subprocess.STDOUT)


def _watch(run: Run, page: Page) -> None:
    def console(message: ConsoleMessage) -> None:
        if message.type in ("error", "warning"):
            (run.dropped if run.offline else run.problems).append(
                f"console {message.type}: {message.text}")

    def request(sent: Request) -> None:
        host = urlparse(sent.url).hostname
        if sent.url.startswith(("http:", "https:", "ws:", "wss:")) and host not in (
                "127.0.0.1", "localhost"):
            run.foreign.append(sent.url)

    page.on("console", console)
    page.on("pageerror", lambda error: (run.dropped if run.offline else run.problems).append(
        f"page error: {error}"))
    page.on("request", request)


@pytest.fixture(scope="module")
def run(browser: Browser, built_race: BuiltRace, tmp_path_factory: pytest.TempPathFactory
        ) -> Iterator[Run]:
    logs = tmp_path_factory.mktemp("logs")
    with serving(built_race.registry, logs / "serve.log") as url:
        entries = _declare(url, built_race)
        context = browser.new_context(viewport=VIEWPORTS[0])
        page = context.new_page()
        relay = Relay(int(urlparse(url).port or 0))  # the page goes through it: cuttable
        current = Run(url, built_race.race_id, [e["car_number"] for e in entries],
                      {e["car_number"]: e for e in entries}, page, context, relay=relay)
        _watch(current, page)
        page.goto(f"http://127.0.0.1:{relay.port}/dashboard?race={built_race.race_id}")
        current.replay = replay = _replay(url, built_race, logs / "replay.log")
        try:
            yield current
        finally:
            if replay.poll() is None:
                replay.kill()
            replay.wait()
            context.close()
            relay.close()


def _wait(page: Page, script: str, timeout_s: float = 30.0, arg: Any = None) -> Any:
    return page.wait_for_function(script, arg=arg, timeout=timeout_s * 1000).json_value()


def test_the_tower_fills_with_one_row_per_car(run: Run) -> None:
    run.page.wait_for_selector("body[data-stream='open']", timeout=15_000)
    _wait(run.page, "n => document.querySelectorAll('#tower tbody tr[data-car]').length === n",
          arg=len(run.entries))
    cars = run.page.eval_on_selector_all("#tower tbody tr[data-car]",
                                         "rows => rows.map(r => r.dataset.car)")
    assert sorted(cars) == sorted(run.entries)
    _wait(run.page, "() => document.querySelector('#tower tbody tr').cells[0].textContent"
          " === '1'", timeout_s=20)
    positions = run.page.eval_on_selector_all(
        "#tower tbody tr[data-car]", "rows => rows.map(r => r.cells[0].textContent)")
    assert positions == [str(p) for p in range(1, len(run.entries) + 1)]


def _column(page: Page, header: str) -> list[tuple[str, str, str, str]]:
    """Each tower row's car number and, in the column headed ``header``: text, classes
    and title."""
    return [tuple(row) for row in page.evaluate("""header => {
        const at = [...document.querySelectorAll('#tower thead th')]
            .findIndex(th => th.textContent === header);
        return [...document.querySelectorAll('#tower tbody tr[data-car]')].map(r =>
            [r.dataset.car, r.cells[at].textContent, r.cells[at].className, r.cells[at].title]);
    }""", header)]


def test_the_tower_names_each_car_s_driver_or_team_or_says_none_is_known(run: Run) -> None:
    _wait(run.page, "n => document.querySelectorAll('#tower tbody tr[data-car]').length === n",
          arg=len(run.entries))
    cells = _column(run.page, "driver / team")
    assert len(cells) == len(run.entries)
    kinds = set()
    for car, text, classes, title in cells:
        entry = run.declared[car]
        named = [n for n in (entry["driver"], entry["team"]) if n]
        if named:  # the driver where named, else the team; both in the title
            kinds.add("driver" if entry["driver"] else "team")
            assert (text, title) == (named[0], " · ".join(named))
            assert "none" not in classes.split()
        else:  # the chassis, greyed, and why
            kinds.add("chassis")
            assert entry["chassis"] and text == f"chassis {entry['chassis']}"
            assert "none" in classes.split() and "no driver or team" in title
    assert kinds == {"driver", "team", "chassis"}


def test_the_map_dots_move(run: Run) -> None:
    read = "() => Object.fromEntries([...document.querySelectorAll('#map .dot')]" \
           ".map(d => [d.dataset.car, d.getAttribute('transform')]))"
    _wait(run.page, "n => [...window.cognirace.store.cars.values()]"
          ".filter(c => c.lap_dist_m != null).length >= n", arg=len(run.entries) // 2)
    before = run.page.evaluate(read)
    time.sleep(1.0)
    after = run.page.evaluate(read)
    moved = [car for car, where in after.items() if where and before.get(car) != where]
    assert len(moved) >= len(run.entries) // 2, (before, after)


def test_the_track_outline_is_drawn_from_gps(run: Run) -> None:
    path = _wait(run.page, "() => document.querySelector('#map .outline').getAttribute('d')"
                 " || false", timeout_s=40)
    assert path.startswith("M") and path.count("L") > 100


def test_the_traces_draw_and_the_delta_at_the_line_is_the_lap_time_difference(
        run: Run) -> None:
    shown = _wait(run.page, "() => { const d = document.querySelector('#delta')?.dataset;"
                  " return d && d.lastLap !== d.bestLap && {...d}; }", timeout_s=40)
    assert run.page.locator("#traces canvas").count() >= 6
    selected = run.page.evaluate("() => window.cognirace.selected")
    traces = httpx.get(f"{run.url}/v1/races/{run.race_id}/cars/{selected}/traces").json()
    # every channel drawn along the whole lap, last and best: at 10 Hz speed comes on
    # other samples than the lap distance, and must be placed by its own times
    drawn = run.page.evaluate("""() => Object.fromEntries(window.cognirace.traces.plots
        .map(p => [p.root.parentElement.dataset.channel || p.root.parentElement.id,
                   p.data.slice(1).map(ys => ys.filter(y => y != null && Number.isFinite(y))
                                                .length / ys.length)]))""")
    assert set(drawn) == {*CHANNELS, "delta"}
    assert all(share >= 0.99 for shares in drawn.values() for share in shares), drawn
    for lap in ("last", "best"):
        assert all(traces[lap][name] is not None and None not in traces[lap][name]
                   for name in CHANNELS), lap
    assert float(shown["deltaAtLine"]) == pytest.approx(float(shown["lapDifference"]), abs=0.0015)
    if (traces["last"]["lap"], traces["best"]["lap"]) == (int(shown["lastLap"]),
                                                          int(shown["bestLap"])):
        difference = traces["last"]["lap_time_s"] - traces["best"]["lap_time_s"]
        assert float(shown["deltaAtLine"]) == pytest.approx(difference, abs=0.0015)


def _labels_readable(page: Page) -> list[str]:
    """What is wrong with the traces' axis labels as the page stands: each plot must
    carry its channel's name written across, whole (not cut by its box or the panel),
    clear of the plot's tick values and of the other labels."""
    return list(page.evaluate("""() => {
        const problems = [];
        const inside = (a, b) => a.left >= b.left - 0.5 && a.right <= b.right + 0.5
            && a.top >= b.top - 0.5 && a.bottom <= b.bottom + 0.5;
        const panel = document.querySelector('#traces-panel').getBoundingClientRect();
        const ctx = document.createElement('canvas').getContext('2d');
        const boxes = [];
        for (const plot of window.cognirace.traces.plots) {
            const holder = plot.root.parentElement;
            const channel = holder.dataset.channel;
            const labels = [...holder.querySelectorAll('.trace-label')];
            const y = labels.find(l => l.dataset.axis === 'y');
            if (!y) { problems.push(`${channel}: no label`); continue; }
            if (!y.textContent.startsWith(channel.split('_')[0])) {
                problems.push(`${channel}: labelled ${y.textContent}`);
            }
            const gutter = plot.axes[1];
            ctx.font = gutter.font[0];
            const widest = Math.max(0, ...gutter._values.map(v => ctx.measureText(v).width));
            const tickLeft = holder.getBoundingClientRect().left + gutter._size
                - gutter.ticks.size - gutter.gap - widest;
            for (const label of labels) {
                const box = label.getBoundingClientRect();
                const text = `${channel} ${label.textContent}`;
                const wrong = (why) => problems.push(`${text}: ${why}`);
                if (parseFloat(getComputedStyle(label).fontSize) < 10) wrong('small');
                if (!inside(box, holder.getBoundingClientRect())) wrong('outside its plot');
                if (!inside(box, panel)) wrong('outside the panel');
                if (label.scrollWidth > label.clientWidth + 1) wrong('cut');
                if (label === y && box.right > tickLeft) wrong('over the tick values');
                for (const other of boxes) {
                    if (box.left < other.right && other.left < box.right
                        && box.top < other.bottom && other.top < box.bottom) {
                        wrong('over another label');
                    }
                }
                boxes.push(box);
            }
        }
        return problems;
    }"""))


def test_every_trace_axis_label_is_readable_at_both_sizes(run: Run) -> None:
    _wait(run.page, "() => document.querySelector('#delta')?.dataset.lastLap", timeout_s=40)
    try:
        for viewport in VIEWPORTS:
            run.page.set_viewport_size(viewport)
            run.page.evaluate("() => new Promise(r => requestAnimationFrame("
                              "() => requestAnimationFrame(r)))")
            assert _labels_readable(run.page) == [], viewport
    finally:
        run.page.set_viewport_size(VIEWPORTS[0])


def _lap_ticks(page: Page) -> list[str]:
    return list(page.evaluate("() => window.cognirace.laps.plot.axes[0]._values"))


def test_an_event_and_a_strategy_card_appear(run: Run) -> None:
    _wait(run.page, "() => document.querySelectorAll('#feed li[data-type]').length > 0",
          timeout_s=40)
    run.page.wait_for_selector("#strategy[data-state='advice'] table.cands tbody tr",
                               timeout=40_000)
    card = run.page.locator("#strategy").inner_text()
    assert "stay out" in card.lower()
    # the advised candidate's finishing places: one bar per car of the race, shares of 1
    shares = run.page.eval_on_selector_all(
        "#strategy .dist .bars i", "bars => bars.map(b => Number(b.dataset.share))")
    cars = run.page.evaluate("() => window.cognirace.store.cars.size")
    assert len(shares) == cars
    assert abs(sum(shares) - 1.0) < 0.01


def test_the_lap_chart_draws_the_selected_car(run: Run) -> None:
    _wait(run.page, "() => document.querySelectorAll('#lapchart canvas').length > 0")
    laps = run.page.evaluate(
        "() => window.cognirace.store.laps.get(window.cognirace.selected)?.size ?? 0")
    assert laps >= 1
    ticks = _lap_ticks(run.page)
    assert ticks and all(re.fullmatch(r"\d+", tick) for tick in ticks), ticks


def test_the_page_keeps_up(run: Run) -> None:
    ages = []
    for _ in range(15):
        age = run.page.evaluate("() => document.querySelector('#stream-status').dataset.ageMs")
        if age:
            ages.append(int(age))
        time.sleep(0.2)
    assert ages and max(ages) < 2000, ages


def test_a_dropped_stream_reconnects_and_seq_only_increases(run: Run) -> None:
    connects = run.page.evaluate("() => window.cognirace.stream.connects")
    assert run.relay is not None
    run.offline = True
    assert run.relay.drop() >= 2  # the stream's connection, both ways
    run.page.wait_for_selector("body:not([data-stream='open'])", timeout=10_000)
    _wait(run.page, "n => window.cognirace.stream.connects > n && "
          "document.body.dataset.stream === 'open'", arg=connects, timeout_s=20)
    time.sleep(1.0)
    run.offline = False
    assert all("net::ERR_" in line or "Failed to fetch" in line
               for line in run.dropped), run.dropped
    seqs = run.page.evaluate("() => window.cognirace.store.seqs")
    numbers = [seq for _, seq in seqs]
    assert numbers == sorted(numbers)
    discrete = [seq for kind, seq in seqs if kind != "snapshot"]
    assert len(discrete) == len(set(discrete))  # nothing twice, across the reconnect
    assert sum(kind == "snapshot" for kind, _ in seqs) >= 2


def test_the_replay_ends_with_no_console_error_page_error_or_foreign_request(
        run: Run) -> None:
    assert run.replay is not None and run.replay.wait(timeout=90) == 0
    _wait(run.page, "() => document.querySelector('#track-status').dataset.flag === 'FF' "
          "|| window.cognirace.store.race.time_left_s === 0", timeout_s=15)
    assert run.problems == []
    assert run.foreign == []


def test_a_screenshot_of_the_run_is_saved(run: Run) -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / "dashboard.png"
    run.page.screenshot(path=str(path))
    assert path.stat().st_size > 20_000
    assert Path(path).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# --- the frozen frame ------------------------------------------------------------------

BASELINE = Path(__file__).parent / "baseline" / "frozen.png"
"""The frozen frame, shrunk (``dashboard.pixels``); rewrite it with
``DASHBOARD_UPDATE_BASELINE=1`` after a deliberate change of the page's look."""
BROKEN_RULES = (
    "#grid { grid-template-columns: 1fr 1fr minmax(700px, 1.5fr); }",
    ".panel { padding: 12px 14px; }",
    "#tower td { font-size: 14px; }",
)
"""Layout breakages the comparison must catch: panels swapped, a few pixels of padding,
a larger font in the tower."""


@pytest.fixture(scope="module")
def frozen(run: Run, browser: Browser) -> Iterator[Page]:
    """The page on the fixed race with every panel drawn, then frozen."""
    context = browser.new_context(viewport=VIEWPORTS[0], device_scale_factor=1)
    page = context.new_page()
    page.route(f"**/v1/races/{FROZEN_RACE}/**", answering(FROZEN_RACE, frozen_routes()))
    page.goto(f"{run.url}/dashboard?race={FROZEN_RACE}")
    _wait(page, "n => document.querySelectorAll('#tower tbody tr[data-car]').length === n",
          arg=len(CARS))
    for ready in ("document.querySelector('#delta')?.dataset.lastLap",
                  "document.querySelectorAll('#lapchart canvas').length",
                  "document.querySelector('#strategy').dataset.state === 'advice'",
                  "document.querySelector('#map .outline').getAttribute('d')",
                  "document.querySelectorAll('#feed li').length === 3",
                  "document.querySelector('#car-card').textContent.includes('0.041')"):
        _wait(page, f"() => {ready}")
    page.evaluate("() => window.cognirace.freeze()")
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
    try:
        yield page
    finally:
        context.close()


def _masked(page: Page) -> bytes:
    return page.screenshot(mask=[page.locator("[data-mask]")], animations="disabled",
                           caret="hide")


def test_the_frozen_frame_matches_its_baseline(frozen: Page) -> None:
    png = _masked(frozen)
    SCREENSHOTS.mkdir(exist_ok=True)
    (SCREENSHOTS / "frozen.png").write_bytes(png)
    share = compare(png, BASELINE, update=os.environ.get("DASHBOARD_UPDATE_BASELINE") == "1")
    assert share <= SHARE, (f"{share:.1%} of the pixels differ from {BASELINE} (this run's "
                            f"frame: {SCREENSHOTS / 'frozen.png'}); if the look changed on "
                            "purpose, rewrite the baseline with DASHBOARD_UPDATE_BASELINE=1")


def test_the_frozen_frame_names_teams_and_labels_every_axis(frozen: Page) -> None:
    assert [text for _, text, _, _ in _column(frozen, "driver / team")] == \
        [f"Team {n}" for n in CARS]
    assert _labels_readable(frozen) == []
    ticks = _lap_ticks(frozen)  # five laps: uPlot alone would step by half a lap
    assert ticks == [str(lap) for lap in range(1, len(ticks) + 1)], ticks


@pytest.mark.parametrize("rule", BROKEN_RULES)
def test_a_broken_style_rule_fails_the_comparison(frozen: Page, rule: str) -> None:
    add = """rule => { const sheet = [...document.styleSheets]
        .find(s => (s.href || '').endsWith('/dashboard.css'));
        return sheet.insertRule(rule, sheet.cssRules.length); }"""
    at = frozen.evaluate(add, rule)
    try:
        broken = compare(_masked(frozen), BASELINE)
    finally:
        frozen.evaluate("""at => [...document.styleSheets]
            .find(s => (s.href || '').endsWith('/dashboard.css')).deleteRule(at)""", at)
    assert broken > SHARE, f"{rule!r} changed only {broken:.2%} of the pixels"
    assert compare(_masked(frozen), BASELINE) <= SHARE  # the rule removed, it matches again


# --- API keys on (last: the service stays keyed) ----------------------------------------

def _create_key(keys_file: Path, scope: str) -> str:
    done = subprocess.run([sys.executable, "-m", "cognirace.cli.main", "keys", "create",
                           "--name", f"dashboard {scope}", "--scope", scope, "--keys-file",
                           str(keys_file)], check=True, capture_output=True, text=True,
                          timeout=60)
    found = re.search(r"^key:\s+(\S+)$", done.stdout, re.MULTILINE)
    assert found, done.stdout
    return found.group(1)


def _gate(page: Page, reason: str) -> None:
    page.wait_for_selector("#keygate:not([hidden])", timeout=15_000)
    assert page.evaluate("() => document.body.dataset.stream") == "auth"
    assert reason in page.locator("#keygate").inner_text()
    assert reason in page.locator("#stream-status").inner_text()
    assert page.locator("#tower tbody tr").count() == 0


def test_with_keys_on_the_page_asks_for_a_key_and_streams_with_one(
        run: Run, browser: Browser, built_race: BuiltRace) -> None:
    keys_file = keys_file_of(built_race.registry)
    stream_only = _create_key(keys_file, "stream")
    key = _create_key(keys_file, "predict")
    deadline = time.monotonic() + 10  # the service re-reads its keys file once a second
    while httpx.get(f"{run.url}/v1/races", timeout=5).status_code != 401:
        assert time.monotonic() < deadline, "the service did not switch keys on"
        time.sleep(0.2)
    context = browser.new_context()
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" and not re.search(
        r"status of 40[13]", m.text) else None)
    try:
        page.goto(f"{run.url}/dashboard?race={run.race_id}")
        _gate(page, "an API key is needed")
        for given, reason in ((stream_only, "this key lacks the predict scope"),
                              ("cr_not-a-key", "this key is not accepted")):
            page.fill("#key-input", given)
            page.click("#key-save")
            _gate(page, reason)
        page.fill("#key-input", key)
        page.click("#key-save")
        page.wait_for_selector("body[data-stream='open']", timeout=15_000)
        _wait(page, "n => document.querySelectorAll('#tower tbody tr[data-car]').length === n",
              arg=len(run.entries))
        assert page.locator("#keygate").is_hidden()
        _wait(page, "() => document.querySelector('#strategy').dataset.state !== 'none' || "
              "document.querySelector('#strategy').textContent.includes('No advice')")
        assert page.locator("#strategy").get_attribute("data-state") != "error"
        assert problems == []
    finally:
        context.close()
        keys_file.unlink(missing_ok=True)
