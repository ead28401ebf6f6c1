// The selected car's last lap against its best, by lap distance: speed, throttle, brake,
// rpm and gear with one cursor for all, and the delta strip (time lost along the lap,
// s). Both traces end at the line at their lap times, so the delta there is exactly the
// difference of the two lap times.

import uPlot from "../vendor/uplot/uPlot.esm.js";
import { el, signed } from "./format.js";

const CHANNELS = [
  ["speed_kph", "speed km/h", 70],
  ["throttle_pct", "throttle %", 46],
  ["brake_bar", "brake bar", 46],
  ["rpm", "rpm", 46],
  ["gear", "gear", 40],
];
const DELTA_H = 60;

// Time lost by `last` against `best` at each of last's distances, s.
export function delta(last, best) {
  return last.x_m.map((x, i) => last.t_s[i] - interp(x, best.x_m, best.t_s));
}

function interp(x, xs, ys) {
  if (x <= xs[0]) return ys[0];
  if (x >= xs[xs.length - 1]) return ys[ys.length - 1];
  let lo = 0;
  let hi = xs.length - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (xs[mid] <= x) lo = mid; else hi = mid;
  }
  const f = (x - xs[lo]) / (xs[hi] - xs[lo] || 1);
  return ys[lo] + f * (ys[hi] - ys[lo]);
}

export class Traces {
  constructor(root, note) {
    this.root = root;
    this.note = note;
    this.plots = [];
    this.key = null;
    this.readout = el("div", { id: "delta-readout" });
  }

  width() {
    return Math.max(240, this.root.clientWidth - 4);
  }

  build(series2) {
    this.root.replaceChildren();
    this.plots = [];
    const sync = uPlot.sync("traces");
    const cursor = { sync: { key: sync.key }, drag: { x: false, y: false } };
    const common = (height, label) => ({
      width: this.width(), height, cursor, legend: { show: false },
      scales: { x: { time: false } },
      axes: [{ show: false }, { stroke: "#8a96a3", size: 44, grid: { stroke: "#2a313b" }, label, labelSize: 10 }],
    });
    for (const [name, label, height] of CHANNELS) {
      const opts = {
        ...common(height, label),
        series: [{}, { label: "best", stroke: "#8a96a3", width: 1 },
          { label: "last", stroke: "#56ccf2", width: 1.5 }],
      };
      const holder = el("div", { "data-channel": name });
      this.root.append(holder);
      this.plots.push(new uPlot(opts, series2[name], holder));
    }
    const deltaOpts = {
      ...common(DELTA_H, "delta s"),
      axes: [{ stroke: "#8a96a3", grid: { stroke: "#2a313b" }, size: 24 },
        { stroke: "#8a96a3", size: 44, grid: { stroke: "#2a313b" }, label: "delta s", labelSize: 10 }],
      series: [{}, { label: "delta", stroke: "#f2994a", width: 1.5, fill: "rgba(242,153,74,.15)" }],
    };
    const holder = el("div", { id: "delta" });
    this.root.append(holder, this.readout);
    this.plots.push(new uPlot(deltaOpts, series2.delta, holder));
    this.deltaHolder = holder;
  }

  render(payload) {
    const last = payload?.last;
    const best = payload?.best;
    if (!last || !best) {
      this.root.replaceChildren(el("p", { class: "muted", text: "no lap with telemetry yet" }));
      this.plots = [];
      this.key = null;
      this.note.textContent = payload ? `car ${payload.car_number}` : "select a car";
      return;
    }
    const key = `${payload.car_number}:${last.lap}:${best.lap}`;
    if (key === this.key) return;
    this.key = key;
    const data = {};
    for (const [name] of CHANNELS) {
      data[name] = [last.x_m, last.x_m.map((x) => interpOrNull(x, best.x_m, best[name])), last[name]];
    }
    const d = delta(last, best);
    data.delta = [last.x_m, d];
    if (this.plots.length) {
      CHANNELS.forEach(([name], i) => this.plots[i].setData(data[name]));
      this.plots[this.plots.length - 1].setData(data.delta);
    } else {
      this.build(data);
    }
    const atLine = d[d.length - 1];
    this.deltaHolder.dataset.lastLap = String(last.lap);
    this.deltaHolder.dataset.bestLap = String(best.lap);
    this.deltaHolder.dataset.deltaAtLine = atLine.toFixed(3);
    this.deltaHolder.dataset.lapDifference = (last.lap_time_s - best.lap_time_s).toFixed(3);
    this.readout.textContent = `lap ${last.lap} (${last.lap_time_s.toFixed(3)} s) against best lap ${best.lap} (${best.lap_time_s.toFixed(3)} s): ${signed(atLine, 3)} s at the line`;
    this.note.textContent = `car ${payload.car_number}`;
  }

  resize() {
    for (const plot of this.plots) plot.setSize({ width: this.width(), height: plot.height });
  }
}

function interpOrNull(x, xs, ys) {
  if (!ys) return null;
  const v = interp(x, xs, ys.map((y) => (y == null ? NaN : y)));
  return Number.isFinite(v) ? v : null;
}
