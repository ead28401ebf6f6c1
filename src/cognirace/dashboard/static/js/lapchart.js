// Lap times of the selected cars, with caution laps and the first car's pit laps as
// bands, and the laptime model's P10-P90 of its next lap as a bar one lap ahead.

import uPlot from "../vendor/uplot/uPlot.esm.js";

const COLOURS = ["#f2994a", "#56ccf2", "#bb6bd9", "#2fbf71"];
// Laps are whole: the x axis steps by these only (uPlot would pick 0.5 on a short race).
const LAP_STEPS = [1, 2, 5, 10, 20, 50, 100];

export class LapChart {
  constructor(root, note) {
    this.root = root;
    this.note = note;
    this.plot = null;
    this.cars = "";
    this.bands = { caution: [], pit: [], next: null };
  }

  data(store, cars) {
    let maxLap = 1;
    for (const number of cars) {
      for (const lap of store.laps.get(number)?.keys() ?? []) maxLap = Math.max(maxLap, lap);
    }
    const xs = Array.from({ length: maxLap + 1 }, (_, i) => i + 1);
    const series = cars.map((number) => {
      const laps = store.laps.get(number);
      return xs.map((lap) => laps?.get(lap)?.lap_time_s ?? null);
    });
    const first = store.laps.get(cars[0]);
    const lastLap = first ? Math.max(...first.keys()) : null;
    const next = lastLap != null ? first.get(lastLap)?.next_lap : null;
    this.bands = {
      caution: [...store.cautionLaps],
      pit: first ? [...first.values()].filter((m) => m.in_pit).map((m) => m.lap) : [],
      next: next && next.p10 != null ? { lap: lastLap + 1, ...next } : null,
    };
    return [xs, ...series];
  }

  build(cars, data) {
    this.root.replaceChildren();
    const opts = {
      width: Math.max(240, this.root.clientWidth - 4), height: 220,
      scales: { x: { time: false }, y: { range: (u, lo, hi) => yRange(u, lo, hi, this.bands.next) } },
      legend: { show: true },
      axes: [{ stroke: "#8a96a3", grid: { stroke: "#2a313b" }, label: "lap", labelSize: 12,
        incrs: LAP_STEPS, values: (u, splits) => splits.map((lap) => String(lap)) },
        { stroke: "#8a96a3", grid: { stroke: "#2a313b" }, size: 50 }],
      series: [{ label: "lap" }, ...cars.map((number, i) => ({
        label: `#${number}`, stroke: COLOURS[i % COLOURS.length], width: 1.5, spanGaps: false,
        points: { size: 4 },
      }))],
      hooks: { drawClear: [(u) => this.drawBands(u)], draw: [(u) => this.drawNext(u)] },
    };
    this.plot = new uPlot(opts, data, this.root);
  }

  render(store, cars) {
    if (!cars.length) return;
    const data = this.data(store, cars);
    const key = cars.join(",");
    if (!this.plot || key !== this.cars) {
      this.cars = key;
      if (this.plot) this.plot.destroy();
      this.build(cars, data);
    } else {
      this.plot.setData(data);
    }
    const next = this.bands.next;
    this.root.dataset.nextLap = next ? String(next.lap) : "";
    this.note.textContent = next
      ? `#${cars[0]} next lap P10-P90 ${next.p10.toFixed(2)}-${next.p90.toFixed(2)} s` : "";
  }

  drawBands(u) {
    const ctx = u.ctx;
    const { top, height } = u.bbox;
    const band = (lap, colour) => {
      const x0 = u.valToPos(lap - 0.5, "x", true);
      const x1 = u.valToPos(lap + 0.5, "x", true);
      ctx.fillStyle = colour;
      ctx.fillRect(x0, top, x1 - x0, height);
    };
    ctx.save();
    for (const lap of this.bands.caution) band(lap, "rgba(242,201,76,.18)");
    for (const lap of this.bands.pit) band(lap, "rgba(138,150,163,.25)");
    ctx.restore();
  }

  drawNext(u) {
    const next = this.bands.next;
    if (!next) return;
    const ctx = u.ctx;
    const x = u.valToPos(next.lap, "x", true);
    const y10 = u.valToPos(next.p10, "y", true);
    const y90 = u.valToPos(next.p90, "y", true);
    const y50 = u.valToPos(next.p50, "y", true);
    ctx.save();
    ctx.fillStyle = "rgba(242,153,74,.35)";
    ctx.fillRect(x - 5, y90, 10, y10 - y90);
    ctx.fillStyle = "#f2994a";
    ctx.fillRect(x - 7, y50 - 1, 14, 2);
    ctx.restore();
  }

  resize() {
    if (this.plot) this.plot.setSize({ width: Math.max(240, this.root.clientWidth - 4), height: 220 });
  }
}

// Keep the y axis on racing laps: slow in- and caution laps would flatten the rest.
function yRange(u, lo, hi, next) {
  const values = u.data.slice(1).flat().filter((v) => v != null).sort((a, b) => a - b);
  if (!values.length) return [lo, hi];
  const median = values[Math.floor(values.length / 2)];
  let top = Math.min(hi, median * 1.12);
  let bottom = lo;
  if (next) {
    top = Math.max(top, next.p90);
    bottom = Math.min(bottom, next.p10);
  }
  return [bottom - 0.3, top + 0.3];
}
