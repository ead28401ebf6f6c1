// The engineer feed: the race's events, newest first, with their severity; filtered by car.

import { el } from "./format.js";

const SHOWN = 150;

export class Feed {
  constructor(list, filter) {
    this.list = list;
    this.filter = filter;
    this.cars = new Set();
    this.count = -1;
    this.car = "";
    filter.addEventListener("change", () => {
      this.car = filter.value;
      this.count = -1;
    });
  }

  render(store) {
    for (const number of store.cars.keys()) {
      if (!this.cars.has(number)) {
        this.cars.add(number);
        this.filter.append(el("option", { value: number, text: `#${number}` }));
      }
    }
    if (store.events.length === this.count) return;
    this.count = store.events.length;
    const shown = [];
    for (let i = store.events.length - 1; i >= 0 && shown.length < SHOWN; i -= 1) {
      const event = store.events[i];
      if (this.car && event.car_number !== this.car) continue;
      shown.push(el("li", { "data-seq": event.seq, "data-type": event.type, "data-severity": event.severity,
        "data-car": event.car_number },
        el("span", { class: "sev" }),
        el("span", { class: "meta", text: `L${event.lap ?? "–"} ${event.type}` }),
        el("span", { text: event.message })));
    }
    this.list.replaceChildren(...shown);
  }
}
