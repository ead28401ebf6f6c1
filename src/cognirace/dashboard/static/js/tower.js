// The timing tower: one row per car (`data-car`), in running order.

import { dash, el, gap, lapTime, secs } from "./format.js";

const NO_NAME = "no driver or team named in the race's entry list";

// The driver as the entry list names them, else the team; where neither is named (the
// anonymized timing files most tracks publish name none), the car's chassis, greyed, so
// the cell still tells the car apart and never reads as a name.
function who(car) {
  if (car.driver) return car.driver;
  if (car.team) return car.team;
  return car.chassis ? `chassis ${car.chassis}` : dash;
}

// The cell's title: the driver and the team, as far as they are named.
function whoTitle(car) {
  const named = [car.driver, car.team].filter(Boolean);
  return named.length ? named.join(" · ") : NO_NAME;
}

const COLUMNS = [
  ["position", (c) => (c.position == null ? dash : String(c.position))],
  ["car", (c) => c.car_number],
  ["who", who],
  ["laps", (c) => String(c.laps)],
  ["gap", gap],
  ["interval", (c) => (c.interval_s == null ? dash : `+${c.interval_s.toFixed(3)}`)],
  ["last", (c) => lapTime(c.last_lap_s)],
  ["best", (c) => lapTime(c.best_lap_s)],
  ["s1", (c) => secs(c.sectors_s?.[0], 2)],
  ["s2", (c) => secs(c.sectors_s?.[1], 2)],
  ["s3", (c) => secs(c.sectors_s?.[2], 2)],
  ["tire", (c) => `${c.tire_age_laps}`],
  ["fuel", (c) => (c.fuel_left_l == null ? dash : c.fuel_left_l.toFixed(1))],
  ["pit", (c) => (c.in_pit ? "IN PIT" : String(c.stops))],
  ["gained", (c) => (c.places_gained == null ? dash
    : c.places_gained > 0 ? `+${c.places_gained}` : String(c.places_gained))],
];

export class Tower {
  constructor(table, onPick) {
    this.body = table.tBodies[0];
    this.rows = new Map();
    this.order = "";
    this.body.addEventListener("click", (event) => {
      const row = event.target.closest("tr[data-car]");
      if (row) onPick(row.dataset.car, event.shiftKey || event.ctrlKey || event.metaKey);
    });
  }

  row(number) {
    let row = this.rows.get(number);
    if (!row) {
      row = el("tr", { "data-car": number });
      for (const [name] of COLUMNS) row.append(el("td", { class: name === "who" ? "l" : null }));
      this.rows.set(number, row);
      this.body.append(row);
    }
    return row;
  }

  render(store, selected, compared) {
    const cars = [...store.cars.values()].sort(
      (a, b) => (a.position ?? 1e6) - (b.position ?? 1e6));
    const fastest = Math.min(...cars.map((c) => c.best_lap_s ?? Infinity));
    for (const car of cars) {
      const row = this.row(car.car_number);
      COLUMNS.forEach(([name, format], i) => {
        const text = format(car);
        const cell = row.cells[i];
        if (cell.textContent !== text) cell.textContent = text;
        if (name === "who") {
          cell.classList.toggle("none", !car.driver && !car.team);
          const title = whoTitle(car);
          if (cell.title !== title) cell.title = title;
        }
        if (name === "interval") cell.classList.toggle("closing", Boolean(car.closing));
        if (name === "best") cell.classList.toggle("best", car.best_lap_s === fastest);
        if (name === "gained") {
          cell.classList.toggle("gain", car.places_gained > 0);
          cell.classList.toggle("loss", car.places_gained < 0);
        }
      });
      row.classList.toggle("sel", car.car_number === selected);
      row.classList.toggle("cmp", compared.has(car.car_number));
      row.classList.toggle("pit", Boolean(car.in_pit));
    }
    const order = cars.map((c) => c.car_number).join(",");
    if (order !== this.order) {
      this.order = order;
      for (const car of cars) this.body.append(this.rows.get(car.car_number));
    }
  }
}
