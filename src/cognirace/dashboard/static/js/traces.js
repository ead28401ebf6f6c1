// The selected car's last lap against its best, by lap distance: speed, throttle, brake,
// rpm and gear with one cursor for all, and the delta strip (time lost along the lap,
// s). Both traces end at the line at their lap times, so the delta there is exactly the
// difference of the two lap times.

import uPlot from "../vendor/uplot/uPlot.esm.js";
import { el, signed } from "./format.js";

// [field, name, unit, height px, y axis: a fixed range and its ticks, or null (auto)]
const CHANNELS = [
  ["speed_kph", "speed", "km/h", 70, null],
  ["throttle_pct", "throttle", "%", 46, { range: [0, 100], splits: [0, 50, 100] }],
  ["brake_bar", "brake", "bar", 46, null],
  ["rpm", "rpm", "", 46, null],
  ["gear", "gear", "", 40, { range: [0.5, 6.5], splits: [1, 6] }],
];
const DELTA_H = 60;
const X_AXIS_H = 24;
// The y gutter, px: the channel's name and unit written across, left, and the tick
// values right-aligned against the plot. A label written along a 46 px tall axis
// (uPlot's own) is cut to its middle letters ("rake"), so none is drawn that way.
const GUTTER = 72;
const TICK_FONT = "10px 'Liberation Sans', Arial, sans-serif";
// The same inner padding for every plot, so one lap distance is at one x in all of them
// (uPlot pads a plot with an x axis on the right by itself otherwise); 6 px above and
// below holds half a tick value at the plot's top and bottom.
const PADDING = [6, 14, 6, 0];

// Short tick values, so they stay clear of the name in the gutter: 7500 rpm reads 7.5k.
function tickValues(u, splits) {
  return splits.map((v) => (v == null ? "" : Math.abs(v) >= 1000
    ? `${+(v / 1000).toFixed(1)}k` : String(+v.toFixed(2))));
}

// The delta strip's y range, s: zero always in view, and at least 0.2 s tall (uPlot
// would stretch a lap against itself, all zeros, to 0-100).
function deltaRange(lo, hi) {
  let bottom = Math.min(lo ?? 0, 0);
  let top = Math.max(hi ?? 0, 0);
  if (top - bottom < 0.2) {
    const mid = (top + bottom) / 2;
    [bottom, top] = [mid - 0.1, mid + 0.1];
  }
  const pad = 0.1 * (top - bottom);
  return [bottom - pad, top + pad];
}

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
    const yAxis = { stroke: "#8a96a3", size: GUTTER, gap: 3, space: 16, font: TICK_FONT,
      ticks: { stroke: "#2a313b", size: 4 }, grid: { stroke: "#2a313b" }, values: tickValues };
    const common = (height) => ({
      width: this.width(), height, cursor, legend: { show: false }, padding: PADDING,
    });
    for (const [name, label, unit, height, fixed] of CHANNELS) {
      const opts = {
        ...common(height),
        scales: { x: { time: false }, y: fixed ? { range: () => fixed.range } : {} },
        axes: [{ show: false }, fixed ? { ...yAxis, splits: () => fixed.splits } : yAxis],
        series: [{}, { label: "best", stroke: "#8a96a3", width: 1 },
          { label: "last", stroke: "#56ccf2", width: 1.5 }],
      };
      const holder = el("div", { class: "trace", "data-channel": name });
      this.root.append(holder);
      this.plots.push(new uPlot(opts, series2[name], holder));
      holder.append(axisLabel(label, unit, "y"));
    }
    const deltaOpts = {
      ...common(DELTA_H),
      scales: { x: { time: false }, y: { range: (u, lo, hi) => deltaRange(lo, hi) } },
      axes: [{ stroke: "#8a96a3", grid: { stroke: "#2a313b" }, size: X_AXIS_H, font: TICK_FONT,
        ticks: { stroke: "#2a313b", size: 4 }, gap: 2 }, yAxis],
      series: [{}, { label: "delta", stroke: "#f2994a", width: 1.5, fill: "rgba(242,153,74,.15)" }],
    };
    const holder = el("div", { id: "delta", class: "trace", "data-channel": "delta" });
    this.root.append(holder, this.readout);
    this.plots.push(new uPlot(deltaOpts, series2.delta, holder));
    holder.append(axisLabel("delta", "s", "y"), axisLabel("lap dist", "m", "x"));
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

// A channel's name and unit, written across in the plot's gutter (`axis` "y": beside the
// plot; "x": under it, left of the distance ticks).
function axisLabel(name, unit, axis) {
  const label = el("span", { class: `trace-label ${axis}`, "data-axis": axis },
    el("b", { text: name }));
  if (unit) label.append(el("i", { text: unit }));
  return label;
}

function interpOrNull(x, xs, ys) {
  if (!ys) return null;
  const v = interp(x, xs, ys.map((y) => (y == null ? NaN : y)));
  return Number.isFinite(v) ? v : null;
}
