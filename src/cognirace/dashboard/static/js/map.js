// The track map: the outline from GPS (drawn once per track by the service), every car
// as a dot that moves, and the selected car's rejoin ghost: where it would come out if
// it pitted now (the strategy's rejoin estimate, placed behind the car it would rejoin
// behind by the estimated gap).

import { svg } from "./format.js";

const W = 400;
const H = 300;
const PAD = 14;

export class TrackMap {
  constructor(root, note) {
    this.root = root;
    this.note = note;
    this.outline = null;
    this.points = null;      // projected outline points [x, y]
    this.dots = new Map();
    this.layer = svg("g");
    this.ghost = svg("g", { class: "ghost", visibility: "hidden" });
    this.ghost.append(svg("circle", { r: 6 }), svg("text", { dx: 8, dy: -6 }));
    this.path = svg("path", { class: "outline" });
    root.append(this.path, this.layer, this.ghost);
    this.note.textContent = "waiting for a lap with GPS";
  }

  setOutline(outline) {
    if (!outline || this.outline === outline) return;
    this.outline = outline;
    const lat0 = outline.lat.reduce((a, b) => a + b, 0) / outline.lat.length;
    const k = Math.cos((lat0 * Math.PI) / 180);
    const xs = outline.lon.map((v) => v * k);
    const ys = outline.lat.map((v) => -v);
    const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
    const scale = Math.min((W - 2 * PAD) / (x1 - x0 || 1), (H - 2 * PAD) / (y1 - y0 || 1));
    const ox = (W - scale * (x1 - x0)) / 2;
    const oy = (H - scale * (y1 - y0)) / 2;
    this.project = (lat, lon) => [ox + scale * (lon * k - x0), oy + scale * (-lat - y0)];
    this.points = outline.lat.map((lat, i) => this.project(lat, outline.lon[i]));
    this.path.setAttribute("d", `M${this.points.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join("L")}Z`);
    this.note.textContent = `${outline.track}, ${(outline.length_m / 1000).toFixed(2)} km`;
  }

  // Where a car is: its GPS when it sends one, else its lap distance along the outline.
  place(car) {
    if (this.project && car.lat != null && car.lon != null) return this.project(car.lat, car.lon);
    if (car.lap_dist_m == null) return null;
    return this.atDistance(car.lap_dist_m);
  }

  atDistance(distanceM) {
    const length = this.outline ? this.outline.length_m : this.lengthM;
    if (!length) return null;
    let f = (distanceM / length) % 1;
    if (f < 0) f += 1;
    if (!this.points) {  // no outline yet: a circle by lap distance
      const a = 2 * Math.PI * f - Math.PI / 2;
      return [W / 2 + 110 * Math.cos(a), H / 2 + 110 * Math.sin(a)];
    }
    const at = f * (this.points.length - 1);
    const i = Math.floor(at);
    const [xa, ya] = this.points[i];
    const [xb, yb] = this.points[Math.min(i + 1, this.points.length - 1)];
    return [xa + (xb - xa) * (at - i), ya + (yb - ya) * (at - i)];
  }

  dot(number) {
    let dot = this.dots.get(number);
    if (!dot) {
      dot = svg("g", { class: "dot", "data-car": number });
      dot.append(svg("circle", { r: 5 }), svg("text", { dx: 6, dy: 3 }));
      dot.lastChild.textContent = number;
      this.layer.append(dot);
      this.dots.set(number, dot);
    }
    return dot;
  }

  render(store, selected) {
    this.lengthM = store.meta?.length_m ?? null;
    this.setOutline(store.outline);
    for (const car of store.cars.values()) {
      const dot = this.dot(car.car_number);
      const at = this.place(car);
      if (!at) continue;
      dot.setAttribute("transform", `translate(${at[0].toFixed(1)},${at[1].toFixed(1)})`);
      dot.dataset.x = at[0].toFixed(1);
      dot.dataset.y = at[1].toFixed(1);
      dot.classList.toggle("sel", car.car_number === selected);
      dot.classList.toggle("pit", Boolean(car.in_pit));
    }
    if (selected) this.layer.append(this.dot(selected));  // the selected car on top
    this.renderGhost(store, selected);
  }

  renderGhost(store, selected) {
    const strategy = selected ? store.strategy.get(selected) : null;
    const pitNow = strategy?.candidates?.find((c) => c.kind === "pit_now");
    const rejoin = pitNow?.rejoin;
    const at = rejoin ? this.ghostAt(store, selected, rejoin) : null;
    this.ghost.setAttribute("visibility", at ? "visible" : "hidden");
    if (!at) return;
    this.ghost.setAttribute("transform", `translate(${at[0].toFixed(1)},${at[1].toFixed(1)})`);
    this.ghost.lastChild.textContent = `pit now: P${rejoin.position}`;
    this.ghost.dataset.position = rejoin.position;
  }

  ghostAt(store, selected, rejoin) {
    const others = [...store.cars.values()]
      .filter((c) => c.car_number !== selected && c.lap_dist_m != null)
      .sort((a, b) => (a.position ?? 1e6) - (b.position ?? 1e6));
    const length = this.outline ? this.outline.length_m : null;
    if (!others.length || !length) return null;
    const ahead = others[rejoin.position - 2];
    const ref = ahead ?? others[0];
    const lapS = ref.last_lap_s || ref.best_lap_s;
    if (!lapS) return null;
    const mps = length / lapS;
    const offsetS = ahead ? -(rejoin.gap_ahead_s ?? 0) : (rejoin.gap_behind_s ?? 0);
    return this.atDistance(ref.lap_dist_m + offsetS * mps);
  }
}
