// The caution gauge (the fcy model's chance of a full-course yellow in the next laps),
// the selected car's tire and fuel card, and the models' health.

import { dash, el, pct, svg } from "./format.js";

const HORIZON = 3;

// Chance of a caution starting within the next `laps` leader laps.
export function cautionWithin(hazard, laps = HORIZON) {
  if (!hazard) return null;
  let clear = 1;
  for (const p of hazard.slice(0, laps)) clear *= 1 - (p ?? 0);
  return 1 - clear;
}

export class Gauges {
  constructor(gauge, carCard, healthCard) {
    this.carCard = carCard;
    this.healthCard = healthCard;
    const root = svg("svg", { viewBox: "0 0 140 120", class: "gauge", width: "140", height: "120" });
    root.append(svg("path", { class: "arc-bg", d: arc(1) }));
    this.arc = svg("path", { class: "arc", d: arc(0) });
    this.value = svg("text", { x: 70, y: 62 });
    this.label = svg("text", { x: 70, y: 78, class: "lbl" });
    this.label.textContent = `caution in ${HORIZON} laps`;
    this.bars = svg("g", { class: "bars" });
    root.append(this.arc, this.value, this.label, this.bars);
    gauge.append(root);
    this.root = root;
  }

  renderCaution(race) {
    const hazard = race?.fcy_hazard;
    const p = cautionWithin(hazard);
    this.arc.setAttribute("d", arc(p ?? 0));
    this.value.textContent = p == null ? dash : pct(p);
    this.root.dataset.p = p == null ? "" : p.toFixed(4);
    this.bars.replaceChildren();
    (hazard || []).forEach((h, i) => {
      const height = Math.min(30, 300 * (h ?? 0));
      this.bars.append(svg("rect", { x: 22 + 16 * i, y: 116 - height, width: 12, height }));
    });
  }

  renderCar(car, predictions) {
    if (!car) {
      this.carCard.replaceChildren(el("p", { class: "muted", text: "Select a car." }));
      return;
    }
    const tire = predictions?.tire;
    const fuel = predictions?.fuel;
    this.carCard.replaceChildren(el("dl", {},
      ...pair("car", `#${car.car_number}`),
      ...pair("tire age", `${car.tire_age_laps} laps (stint ${car.stint})`),
      ...pair("wear", tire ? `${tire.deg_s_per_lap.toFixed(3)} s/lap` : dash),
      ...pair("loss P50", tire ? `${tire.loss_p50_s.toFixed(2)} s` : dash),
      ...pair("fuel left", car.fuel_left_l == null ? "unknown (no start fill)" : `${car.fuel_left_l.toFixed(1)} l`),
      ...pair("burn", fuel ? `${fuel.fuel_used_pred_l.toFixed(2)} l/lap` : dash),
      ...pair("stops", String(car.stops))));
  }

  renderHealth(meta, health) {
    const models = meta?.models || {};
    const missing = meta?.models_missing || [];
    const skips = Object.entries(health?.model_skips || {}).sort((a, b) => b[1] - a[1]).slice(0, 3);
    this.healthCard.replaceChildren(el("dl", {},
      ...pair("models", listed(Object.entries(models).map(([n, v]) => `${n} ${v}`), "none loaded")),
      ...pair("missing", missing.join(", ") || "none"),
      ...pair("frame ms", health?.apply_ms_p50 == null ? dash
        : `p50 ${health.apply_ms_p50} · p99 ${health.apply_ms_p99}`),
      ...pair("frames", health ? `${health.frames} (${health.seq_gaps} missing)` : dash),
      ...pair("skips", skips.map(([n, c]) => `${n} ${c}`).join(", ") || "none")));
  }
}

function pair(term, value) {
  return [el("dt", { text: term }), typeof value === "string" ? el("dd", { text: value })
    : el("dd", {}, ...value)];
}

// A list of names, each kept whole on its line (a long list wraps between names only).
function listed(items, none) {
  if (!items.length) return none;
  return items.flatMap((item, i) => [i ? ", " : null, el("span", { class: "item", text: item })])
    .filter(Boolean);
}

// A half-ring filled to `p` (0..1), centred at (70, 66).
function arc(p) {
  const r = 52;
  const a0 = Math.PI;
  const a1 = Math.PI + Math.PI * Math.max(0.0001, Math.min(1, p));
  const [x0, y0] = [70 + r * Math.cos(a0), 66 + r * Math.sin(a0)];
  const [x1, y1] = [70 + r * Math.cos(a1), 66 + r * Math.sin(a1)];
  return `M${x0.toFixed(2)},${y0.toFixed(2)} A${r},${r} 0 0 1 ${x1.toFixed(2)},${y1.toFixed(2)}`;
}
