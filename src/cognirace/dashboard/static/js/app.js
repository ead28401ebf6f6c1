// The dashboard page: one stream per page and race, panels redrawn on animation frames.
//
// Hooks for tests and tools: every tower row carries data-car="<car number>",
// <body data-stream="open"> while the stream is up, /dashboard?race=<race_id> opens a
// race directly, window.cognirace exposes the store and the stream, and
// window.cognirace.freeze() stops the page taking messages (for a still picture).

import { clock, el } from "./format.js";
import { Feed } from "./feed.js";
import { Gauges } from "./gauges.js";
import { LapChart } from "./lapchart.js";
import { TrackMap } from "./map.js";
import { StrategyCard } from "./strategy.js";
import { RaceStore } from "./store.js";
import { getJson, RaceStream } from "./stream.js";
import { Tower } from "./tower.js";
import { Traces } from "./traces.js";

const KEY_ITEM = "cognirace.api_key";
const AGE_EVERY_MS = 250;
const $ = (id) => document.getElementById(id);

class Dashboard {
  constructor(raceId, key) {
    this.raceId = raceId;
    this.key = key;
    this.store = new RaceStore();
    this.selected = null;
    this.compared = new Set();
    this.asked = new Map();       // what was last fetched for the selected car, by kind
    this.fetched = { traces: null, car: null, strategy: null };
    this.tower = new Tower($("tower"), (car, add) => this.pick(car, add));
    this.map = new TrackMap($("map"), $("map-note"));
    this.traces = new Traces($("traces"), $("traces-note"));
    this.laps = new LapChart($("lapchart"), $("laps-note"));
    this.card = new StrategyCard($("strategy"), $("strategy-car"));
    this.feed = new Feed($("feed"), $("feed-filter"));
    this.gauges = new Gauges($("caution-gauge"), $("car-card"), $("health-card"));
    this.ageShownAt = 0;
    this.frozen = false;
    this.stream = new RaceStream(raceId, {
      key,
      onMessage: (m) => {
        if (!this.frozen) this.store.apply(m);
      },
      onStatus: (status, code) => this.status(status, code),
    });
    window.addEventListener("resize", () => {
      this.traces.resize();
      this.laps.resize();
    });
  }

  start() {
    this.stream.run();
    const frame = (now) => {
      this.render(now);
      requestAnimationFrame(frame);
    };
    requestAnimationFrame(frame);
  }

  // Stop taking the stream's messages, for a still picture of the page (tests compare it
  // pixel by pixel); what was fetched before still draws.
  freeze() {
    this.frozen = true;
    this.stream.stop();
    document.body.dataset.frozen = "";
    document.body.dataset.stream = "closed";
    $("stream-status").dataset.ageMs = "";
    $("stream-status").textContent = "stream frozen";
  }

  status(status, code) {
    if (this.frozen) return;
    document.body.dataset.stream = status;
    if (status === "auth") {
      const why = !this.key ? "an API key is needed"
        : code === 403 ? "this key lacks the predict scope" : "this key is not accepted";
      $("stream-status").textContent = `stream stopped: ${why} (${code})`;
      showKeyGate(why);
    }
  }

  pick(car, add) {
    if (add && this.selected && car !== this.selected) {
      if (this.compared.has(car)) this.compared.delete(car); else if (this.compared.size < 3) this.compared.add(car);
    } else {
      this.selected = car;
      this.compared.delete(car);
      this.asked.clear();
    }
    this.store.mark("all");
  }

  render(now) {
    const store = this.store;
    if (!this.selected && store.cars.size) {
      const watched = store.meta?.watched?.find((n) => store.cars.has(n));
      const leader = [...store.cars.values()].find((c) => c.position === 1);
      this.selected = watched ?? leader?.car_number ?? null;
      store.mark("all");
    }
    if (!this.frozen && now - this.ageShownAt > AGE_EVERY_MS) {
      this.ageShownAt = now;
      this.renderAge();
    }
    if (!store.dirty.size) return;
    if (store.take("race") || store.take("cars")) this.renderSession();
    if (store.take("cars") || store.take("race")) {
      this.tower.render(store, this.selected, this.compared);
      this.map.render(store, this.selected);
      this.gauges.renderCaution(store.race);
    }
    if (store.take("outline")) this.map.render(store, this.selected);
    if (store.take("laps")) this.laps.render(store, this.chartCars());
    if (store.take("events") || store.take("cars")) this.feed.render(store);
    if (store.take("health")) this.gauges.renderHealth(store.meta, store.health);
    this.follow();
    store.dirty.clear();
  }

  chartCars() {
    return this.selected ? [this.selected, ...this.compared] : [];
  }

  renderSession() {
    const { meta, race } = this.store;
    if (!meta || !race) return;
    $("race-name").textContent = `${meta.track} ${meta.session} · ${meta.race_id}`;
    $("race-clock").textContent = `${clock(race.time_left_s)} left · lap ${race.lap}`;
    $("laps-left").textContent = race.laps_left == null ? "laps left –" : `~${race.laps_left} laps left`;
    const flag = $("track-status");
    flag.dataset.flag = race.flag;
    flag.textContent = { GF: "GREEN", FCY: "FULL COURSE YELLOW", FF: "CHEQUERED" }[race.flag] ?? race.flag;
    $("replay-speed").textContent = race.speed_x == null ? "×–" : `×${race.speed_x.toFixed(1)}`;
  }

  renderAge() {
    if (document.body.dataset.stream === "auth") return;  // the refusal stays readable
    const status = $("stream-status");
    const at = this.store.lastAtMs;
    const age = at == null ? null : Math.max(0, Date.now() - at);
    status.dataset.ageMs = age == null ? "" : String(age);
    const state = document.body.dataset.stream;
    status.textContent = age == null ? `stream ${state}` : `stream ${state} · data ${(age / 1000).toFixed(1)} s old`;
  }

  // The selected car's traces, predictions and strategy: asked again on each of its laps.
  follow() {
    const car = this.selected;
    if (!car) {
      this.card.render(null, null, 0);
      this.gauges.renderCar(null, null);
      return;
    }
    const laps = this.store.laps.get(car);
    const lastLap = laps ? Math.max(0, ...laps.keys()) : 0;
    this.once("traces", `${car}:${lastLap}`, () => this.fetchTraces(car));
    this.once("car", `${car}:${lastLap}`, () => this.fetchCar(car));
    if (this.store.strategy.has(car)) {
      this.fetched.strategy = { car, state: { kind: "advice", answer: this.store.strategy.get(car) } };
    } else {
      this.once("strategy", `${car}:${lastLap}`, () => this.fetchStrategy(car));
    }
    const strategy = this.fetched.strategy?.car === car ? this.fetched.strategy.state : null;
    this.card.render(car, strategy, this.store.cars.size);
    const predictions = this.fetched.car?.car === car ? this.fetched.car.body?.predictions : null;
    this.gauges.renderCar(this.store.cars.get(car), predictions);
  }

  once(kind, key, run) {
    if (this.asked.get(kind) === key) return;
    this.asked.set(kind, key);
    run();
  }

  url(path) {
    return `/v1/races/${encodeURIComponent(this.raceId)}${path}`;
  }

  // A read that fails (the network dropped) is asked again on the car's next lap.
  async fetchTraces(car) {
    try {
      const answer = await getJson(this.url(`/cars/${encodeURIComponent(car)}/traces`), this.key);
      if (car === this.selected) this.traces.render(answer.ok ? answer.body : { car_number: car });
    } catch (_) {
      this.asked.delete("traces");
    }
  }

  async fetchCar(car) {
    try {
      const answer = await getJson(this.url(`/cars/${encodeURIComponent(car)}`), this.key);
      if (answer.ok) {
        this.fetched.car = { car, body: answer.body };
        this.store.mark("cars");
      }
    } catch (_) {
      this.asked.delete("car");
    }
  }

  async fetchStrategy(car) {
    let state;
    try {
      const answer = await getJson(this.url(`/dashboard/strategy/${encodeURIComponent(car)}`), this.key);
      if (answer.ok && answer.body.advice) state = { kind: "advice", answer: answer.body.advice };
      else if (answer.ok) state = { kind: "none", reason: answer.body.reason };
      else state = { kind: "error", reason: answer.body?.detail ?? `HTTP ${answer.status}` };
    } catch (error) {
      state = { kind: "error", reason: String(error) };
    }
    if (this.store.strategy.has(car)) return;  // a pushed answer came meanwhile
    this.fetched.strategy = { car, state };
    this.store.mark("strategy");
  }
}

function showKeyGate(why) {
  $("keygate").hidden = false;
  $("key-reason").textContent = why ? `The service answered: ${why}.` : "";
  $("key-save").onclick = () => {
    sessionStorage.setItem(KEY_ITEM, $("key-input").value.trim());
    window.location.reload();
  };
}

async function showPicker(key) {
  $("picker").hidden = false;
  const answer = await getJson("/v1/races", key);
  if (answer.status === 401 || answer.status === 403) {
    showKeyGate(!key ? "an API key is needed"
      : answer.status === 403 ? "this key lacks the predict scope" : "this key is not accepted");
    return;
  }
  const races = answer.body?.races ?? [];
  $("race-list").replaceChildren(...(races.length ? races.map((r) => el("li", {},
    el("a", { href: `/dashboard?race=${encodeURIComponent(r.race_id)}`, text: `${r.race_id}` }),
    ` ${r.track} ${r.session}, lap ${r.lap}, ${r.cars} cars`))
    : [el("li", { text: "none yet: declare one (PUT /v1/races/{id}) or run cognirace replay" })]));
}

const params = new URLSearchParams(window.location.search);
const key = sessionStorage.getItem(KEY_ITEM) || "";
const raceId = params.get("race");
if (raceId) {
  const dashboard = new Dashboard(raceId, key);
  window.cognirace = dashboard;
  dashboard.start();
} else {
  showPicker(key);
}
