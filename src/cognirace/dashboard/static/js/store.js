// The page's picture of the race, built from the stream's messages.
//
// Panels read it and redraw on the next animation frame when the parts they show
// changed (`dirty`). Laps and events arrive once each (discrete messages); ticks carry
// only the cars whose row changed; a snapshot replaces the race's state outright.

export const MAX_FEED = 400;

export class RaceStore {
  constructor() {
    this.race = null;        // header: clock, lap, flag, time_left_s, laps_left, speed_x, fcy
    this.meta = null;        // race_id, track, session, watched, models
    this.cars = new Map();   // car_number -> tower row
    this.laps = new Map();   // car_number -> Map(lap -> lap message)
    this.cautionLaps = new Set();
    this.events = [];        // newest last
    this.strategy = new Map();
    this.outline = null;
    this.health = null;
    this.lastAtMs = null;
    this.seqs = [];          // the last seqs seen, for the page's own checks
    this.dirty = new Set(["all"]);
  }

  mark(...parts) {
    for (const part of parts) this.dirty.add(part);
  }

  take(part) {
    const due = this.dirty.has(part) || this.dirty.has("all");
    return due;
  }

  apply(message) {
    if (message.at_ms != null) this.lastAtMs = message.at_ms;
    this.seqs.push([message.type, message.seq]);
    if (this.seqs.length > 4000) this.seqs.splice(0, 2000);
    const handler = HANDLERS[message.type];
    if (handler) handler(this, message);
  }
}

const HANDLERS = {
  snapshot(store, m) {
    store.meta = {
      race_id: m.race_id, track: m.track, session: m.session, duration_s: m.duration_s,
      length_m: m.length_m,
      watched: m.watched || [], models: m.models || {}, models_missing: m.models_missing || [],
    };
    store.race = m.race;
    store.cars = new Map(m.cars.map((car) => [car.car_number, car]));
    store.strategy = new Map(Object.entries(m.strategy || {}));
    if (m.outline) store.outline = m.outline;
    store.health = m.health;
    store.mark("all");
  },
  tick(store, m) {
    store.race = m.race;
    for (const car of m.cars) store.cars.set(car.car_number, car);
    store.mark("race", "cars");
  },
  lap(store, m) {
    let laps = store.laps.get(m.car_number);
    if (!laps) store.laps.set(m.car_number, (laps = new Map()));
    laps.set(m.lap, m);
    if (m.flag === "FCY") store.cautionLaps.add(m.lap);
    store.mark("laps", `lap:${m.car_number}`);
  },
  event(store, m) {
    store.events.push(m.event);
    if (store.events.length > MAX_FEED) store.events.splice(0, store.events.length - MAX_FEED);
    store.mark("events");
  },
  flag(store, m) {
    if (store.race) store.race = { ...store.race, flag: m.flag, flag_source: m.source };
    store.mark("race");
  },
  strategy(store, m) {
    store.strategy.set(m.car_number, m.strategy);
    store.mark("strategy", `strategy:${m.car_number}`);
  },
  track(store, m) {
    store.outline = m.outline;
    store.mark("outline");
  },
  health(store, m) {
    store.health = m;
    store.mark("health");
  },
};
