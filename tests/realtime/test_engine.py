"""The live engine: a replayed race builds the official tower, frames are applied once."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import polars as pl
import pytest

from cognirace.lake import Lake
from cognirace.models.base import Model
from cognirace.realtime import FrameError, RaceEngine, parse_frame, race_frames, race_info

TINY_RACE_S = 1800.0
"""The small season's races are timed at 30 minutes."""


def _replay(lake: Lake, race: str, **kwargs: Any) -> RaceEngine:
    engine = RaceEngine(race_info(lake, race, duration_s=TINY_RACE_S))
    for body in race_frames(lake, race, **kwargs):
        engine.apply(parse_frame(body))
    return engine


def test_the_final_tower_is_the_official_result(lake: Lake, telemetry_race: str) -> None:
    engine = _replay(lake, telemetry_race, frame_s=5.0)
    tower = {c["car_number"]: c for c in engine.state()["cars"]}
    results = lake.results.filter(pl.col("race_id") == telemetry_race)
    classified = results.filter(pl.col("laps") > 0)
    assert classified.height >= 10
    for row in classified.iter_rows(named=True):
        car = tower[row["car_number"]]
        assert (car["position"], car["laps"]) == (row["position"], row["laps"]), row
    assert engine.state()["seq_gaps"] == 0 and engine.state()["samples"] > 0


def test_every_car_number_is_text_and_the_leader_has_no_gap(lake: Lake,
                                                             telemetry_race: str) -> None:
    state = _replay(lake, telemetry_race, frame_s=10.0, telemetry=False).state()
    leader, *others = state["cars"]
    assert leader["position"] == 1 and leader["gap_s"] == 0.0 and leader["interval_s"] is None
    assert all(isinstance(c["car_number"], str) for c in state["cars"])
    on_lead_lap = [c for c in others if c["laps_down"] == 0 and c["laps"] == leader["laps"]]
    assert all(c["gap_s"] >= 0 and c["interval_s"] is not None for c in on_lead_lap)
    assert state["time_left_s"] == 0.0


def test_a_resent_frame_is_acknowledged_and_ignored(lake: Lake, telemetry_race: str) -> None:
    frames = list(race_frames(lake, telemetry_race, frame_s=30.0, telemetry=False))
    engine = RaceEngine(race_info(lake, telemetry_race))
    for body in frames[:10]:
        engine.apply(parse_frame(body))
    before = engine.state()
    ack = engine.apply(parse_frame(copy.deepcopy(frames[9])))
    assert ack.duplicate and ack.seq == 9
    assert engine.state() == before  # nothing doubled
    ack = engine.apply(parse_frame(frames[12]))  # two frames lost
    assert not ack.duplicate and ack.seq == 12 and engine.state()["seq_gaps"] == 2


def test_sources_count_their_own_sequence(lake: Lake, telemetry_race: str) -> None:
    engine = RaceEngine(race_info(lake, telemetry_race))
    assert not engine.apply(parse_frame({"seq": 0, "source": "timing"})).duplicate
    assert not engine.apply(parse_frame({"seq": 0, "source": "logger-7"})).duplicate
    assert engine.apply(parse_frame({"seq": 0, "source": "timing"})).duplicate


@pytest.mark.parametrize(("body", "field"), [
    ({"laps": []}, "seq"),
    ({"seq": 1, "laps": [{"car_number": 21, "lap": 1, "lap_end": "2025-04-26T21:43:12Z"}]},
     "laps[0].car_number"),
    ({"seq": 1, "laps": [{"car_number": "21", "lap": 1}]}, "laps[0].lap_end"),
    ({"seq": 1, "laps": [{"car_number": "21", "lap": 1, "lap_end": "yesterday"}]},
     "laps[0].lap_end"),
    ({"seq": 1, "flags": [{"time": 0, "flag": "RED"}]}, "flags[0].flag"),
    ({"seq": 1, "samples": [{"vehicle_id": "GR86-1-2", "time": 0, "speed_kph": 900.0}]},
     "samples.speed_kph"),
    ({"seq": 1, "samples": "no"}, "samples"),
])
def test_a_bad_frame_names_the_field(body: dict[str, Any], field: str) -> None:
    with pytest.raises(FrameError) as caught:
        parse_frame(body)
    assert caught.value.column == field


def _wide_rows(n: int = 6) -> list[dict[str, Any]]:
    """A logger's wide rows, every key in every row, as a stream sends them."""
    return [{"vehicle_id": "GR86-1-2", "time": 1_750_000_000 + i * 0.05, "lap": 3,
             "speed_kph": 120.0 + i, "rpm": 6000 + i, "gear": 4} for i in range(n)]


def _one_bad(key: str, value: Any, drop: bool = False) -> dict[str, Any]:
    rows = _wide_rows()
    if drop:
        del rows[3][key]
    else:
        rows[3][key] = value
    return {"seq": 1, "samples": rows}


@pytest.mark.parametrize(("body", "field"), [
    (_one_bad("speed_kph", float("nan")), "samples[3].speed_kph"),
    (_one_bad("rpm", float("inf")), "samples[3].rpm"),
    (_one_bad("speed_kph", "fast"), "samples[3].speed_kph"),
    (_one_bad("speed_kph", [1.0]), "samples[3].speed_kph"),
    (_one_bad("vehicle_id", None), "samples[3].vehicle_id"),
    (_one_bad("time", None, drop=True), "samples[3].time"),
    (_one_bad("lap", 3.5), "samples[3].lap"),
    (_one_bad("speed_kph", 301.0), "samples.speed_kph"),
    (_one_bad("rpm", -1.0), "samples.rpm"),
])
def test_one_bad_value_among_good_rows_is_named(body: dict[str, Any], field: str) -> None:
    """The columnar check vouches for a whole frame at once; one value it cannot vouch
    for sends the frame to the row-by-row check, which names it."""
    with pytest.raises(FrameError) as caught:
        parse_frame(body)
    assert caught.value.column == field


def test_rows_with_differing_keys_read_as_the_same_rows_with_nulls() -> None:
    uniform = _wide_rows()
    for row in uniform[::2]:
        row["rpm"] = None
    ragged = copy.deepcopy(uniform)
    for row in ragged[::2]:
        del row["rpm"]
    one, other = parse_frame({"seq": 0, "samples": uniform}), parse_frame(
        {"seq": 0, "samples": ragged})
    assert one.samples.equals(other.samples)
    assert one.samples["rpm"].null_count() == 3 and one.samples["speed_kph"].null_count() == 0
    assert one.samples.schema["rpm"] == pl.Float64 and one.samples.schema["lap"] == pl.Int32
    swapped = _wide_rows()  # as many keys in every row, one row with another key
    del swapped[1]["rpm"]
    swapped[1]["accx_g"] = 0.5
    samples = parse_frame({"seq": 0, "samples": swapped}).samples
    assert samples["rpm"].is_null().to_list() == [False, True, False, False, False, False]
    assert samples["accx_g"].to_list() == [None, 0.5, None, None, None, None]


def test_long_rows_become_samples_on_the_ecu_clock() -> None:
    """The logger's own rows: one channel per row, the ECU clock a day behind and the
    batch received late; the sample lands at the least lag seen."""
    ecu = dt.datetime(2025, 4, 25, 3, 0, tzinfo=dt.UTC)
    rows = []
    for i, lag in enumerate((2.5, 0.4, 1.0)):
        stamp = ecu + dt.timedelta(seconds=0.043 * i)
        for name, value in (("speed", 120.0 + i), ("nmot", 6000 + i), ("aps", 100)):
            rows.append({"vehicle_id": "GR86-004-78", "lap": 3, "telemetry_name": name,
                         "telemetry_value": value, "timestamp": stamp.isoformat(),
                         "meta_time": (stamp + dt.timedelta(seconds=lag)).isoformat()})
    rows.append({"vehicle_id": "GR86-004-78", "lap": 3, "telemetry_name": "unknown_x",
                 "telemetry_value": 1.0, "timestamp": ecu.isoformat(),
                 "meta_time": ecu.isoformat()})
    frame = parse_frame({"seq": 0, "samples": rows})
    assert frame.samples.height == 3
    assert frame.samples["speed_kph"].to_list() == [120.0, 121.0, 122.0]
    assert frame.samples["rpm"].to_list() == [6000.0, 6001.0, 6002.0]
    # the third sample was placed with the least lag seen by then (0.4 s), and the first
    # unknown-channel row (lag 0) only names a sample; it shrinks the offset later on
    assert frame.samples["time"][2] == ecu + dt.timedelta(seconds=0.086 + 0.4)


@pytest.fixture(scope="module")
def live_models(lake: Lake) -> dict[str, Model]:
    """laptime, fuel and pitloss fitted on the other races of the small season."""
    from cognirace.training import all_tasks, task_examples

    tasks = [all_tasks()[name] for name in ("laptime", "fuel", "pitloss")]
    examples = task_examples(lake, tasks)
    return {task.name: task.model().fit(examples[task.name]) for task in tasks}


def test_the_models_answer_each_lap_as_in_batch(lake: Lake, telemetry_race: str,
                                                 live_models: dict[str, Model]) -> None:
    """The answer kept on each car is the batch model's answer to the batch feature row
    of that car's last lap: the live path runs the training code."""
    from cognirace.features import feature_table

    info = race_info(lake, telemetry_race, duration_s=TINY_RACE_S)
    engine = RaceEngine(info, live_models.get)
    for body in race_frames(lake, telemetry_race, frame_s=5.0):
        engine.apply(parse_frame(body))
    batch = feature_table(lake, [telemetry_race], race_duration_s=TINY_RACE_S)
    checked = 0
    for car in engine.tower.cars.values():
        if "laptime" not in car.predictions:
            continue
        row = batch.filter((pl.col("car_number") == car.car_number)
                           & (pl.col("lap") == car.laps))
        want = live_models["laptime"].predict(row).row(0, named=True)
        assert car.predictions["laptime"] == want
        checked += 1
    assert checked >= 5
    fuel = [c.fuel_used_l for c in engine.tower.cars.values() if "fuel" in c.predictions]
    assert fuel and all(f > 0 for f in fuel)
    stops = [c.predictions["pitloss"] for c in engine.tower.cars.values()
             if "pitloss" in c.predictions]
    track = engine.info.track
    for caution in (False, True):
        ask = pl.DataFrame({"track": [track], "caution": [caution], "tire_change": [True],
                            "repair": [False]})
        want = live_models["pitloss"].predict(ask)["pit_loss_pred_s"][0]
        key = "pit_loss_caution_s" if caution else "pit_loss_green_s"
        assert stops and all(s[key] == want for s in stops)


def test_cautions_are_found_without_flags(lake: Lake) -> None:
    """With no flags feed and no flag on the crossings, the field's pace tells a caution:
    the caution laps found match the timing's within a lap."""
    races = lake.laps.group_by("race_id").agg((pl.col("flag") == "FCY").sum().alias("n"))
    race = races.filter(pl.col("n") > 0).sort("n", descending=True)["race_id"][0]
    engine = RaceEngine(race_info(lake, race, duration_s=TINY_RACE_S))
    found: set[int] = set()
    for body in race_frames(lake, race, frame_s=10.0, telemetry=False):
        body.pop("flags", None)
        for lap in body.get("laps", []):
            lap["flag"] = None
        engine.apply(parse_frame(body))
        if engine.tower.flag == "FCY":
            found.add(engine.tower.leader_laps)
    truth = set(lake.laps.filter((pl.col("race_id") == race) & (pl.col("flag") == "FCY"))
                ["lap"].to_list())
    assert engine.tower.flag_source in ("pace", "none")
    assert found, "no caution found"
    assert all(any(abs(lap - t) <= 1 for t in truth) for lap in found)
    starts = {t for t in truth if t - 1 not in truth}  # each caution, by its first lap
    assert all(any(abs(lap - t) <= 1 for lap in found) for t in starts), (starts, found)


def test_the_tower_keeps_each_loggers_newest_sample_whatever_the_rows_order(
        lake: Lake, telemetry_race: str) -> None:
    """Within a frame the newest sample of a logger wins, not the last row; of two
    samples at one time, the later row; a frame older than the one applied changes
    nothing."""
    engine = RaceEngine(race_info(lake, telemetry_race, duration_s=TINY_RACE_S))

    def sample(vehicle: str, second: int, speed: float) -> dict[str, Any]:
        return {"vehicle_id": vehicle, "time": f"2025-04-06T15:00:0{second}Z", "lap": 1,
                "speed_kph": speed, "lap_dist_m": 10.0 * second}

    engine.apply(parse_frame({"seq": 0, "samples": [
        sample("GR86-999-4321", 3, 130.0), sample("GR86-999-4321", 5, 150.0),
        sample("GR86-888-77", 4, 90.0), sample("GR86-999-4321", 4, 140.0),
        sample("GR86-888-77", 4, 95.0)]}))
    first, second = engine.car("4321"), engine.car("77")
    assert first is not None and second is not None
    assert (first["speed_kph"], first["lap_dist_m"]) == (150.0, 50.0)
    assert second["speed_kph"] == 95.0
    engine.apply(parse_frame({"seq": 1, "samples": [sample("GR86-999-4321", 1, 80.0)]}))
    assert engine.car("4321")["speed_kph"] == 150.0  # type: ignore[index]


def test_a_sample_of_an_unknown_logger_registers_its_car(lake: Lake,
                                                         telemetry_race: str) -> None:
    engine = RaceEngine(race_info(lake, telemetry_race, duration_s=TINY_RACE_S))
    sample = {"vehicle_id": "GR86-999-4321", "time": "2025-04-06T15:00:00Z", "lap": 1,
              "speed_kph": 150.0, "lap_dist_m": 120.0}
    engine.apply(parse_frame({"seq": 0, "samples": [sample]}))
    car = engine.car("4321")
    assert car is not None and car["vehicle_id"] == "GR86-999-4321"
    assert car["speed_kph"] == 150.0 and car["laps"] == 0
    # a second logger claiming the same number is not merged into that car
    other = dict(sample, vehicle_id="GR86-555-4321", speed_kph=90.0)
    engine.apply(parse_frame({"seq": 1, "samples": [other]}))
    assert engine.car("4321")["speed_kph"] == 150.0  # type: ignore[index]
    assert "GR86-555-4321" not in engine.tower.vehicles
