// Number and time formats shared by the panels: units as the API gives them.

export const dash = "–";

export function secs(value, digits = 3) {
  return value == null ? dash : value.toFixed(digits);
}

export function lapTime(value) {
  if (value == null) return dash;
  const m = Math.floor(value / 60);
  const s = value - 60 * m;
  return m ? `${m}:${s.toFixed(3).padStart(6, "0")}` : s.toFixed(3);
}

export function clock(seconds) {
  if (seconds == null) return "--:--";
  const s = Math.max(0, Math.round(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

export function pct(p, digits = 0) {
  return p == null ? dash : `${(100 * p).toFixed(digits)}%`;
}

export function signed(value, digits = 2) {
  if (value == null) return dash;
  return `${value > 0 ? "+" : ""}${value.toFixed(digits)}`;
}

export function gap(car) {
  if (car.laps_down > 0) return `+${car.laps_down} lap${car.laps_down > 1 ? "s" : ""}`;
  if (car.position === 1) return "leader";
  return car.gap_s == null ? dash : `+${car.gap_s.toFixed(3)}`;
}

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value == null || value === false) continue;
    if (name === "class") node.className = value;
    else if (name === "text") node.textContent = value;
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children) {
    if (child != null) node.append(child);
  }
  return node;
}

const SVG = "http://www.w3.org/2000/svg";

export function svg(tag, attrs = {}) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
  return node;
}
