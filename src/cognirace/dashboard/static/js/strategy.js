// The strategy card: the selected car's candidates with expected finish, P(gain),
// P(lose) and the spread of finishing positions (P10, mean, P90), and the advised
// candidate's whole distribution of finishing places. Staying out is the
// normal answer and reads calmly; a call to pit stands out. "No advice yet" (the
// models cannot answer yet) looks different from an error (the service failed).

import { el, pct } from "./format.js";

export class StrategyCard {
  constructor(root, title) {
    this.root = root;
    this.title = title;
    this.shown = null;
  }

  // state: {kind: "advice", answer} | {kind: "none", reason} | {kind: "error", reason}
  render(car, state, nCars) {
    const key = JSON.stringify([car, state?.kind, state?.answer?.lap, state?.answer?.recommended,
      state?.reason, state?.answer?.n_sims, state?.answer?.candidates?.[0]?.p_gain]);
    if (key === this.shown) return;
    this.shown = key;
    this.title.textContent = car ? `car ${car}` : "";
    if (!car) {
      this.show("none", el("p", { class: "muted", text: "Select a car." }));
    } else if (!state) {
      this.show("none", el("p", { class: "muted", text: "Asking the strategy…" }));
    } else if (state.kind === "none") {
      this.show("none", el("p", { class: "muted" }, "No advice yet. ", el("span", { text: state.reason })));
    } else if (state.kind === "error") {
      this.show("error", el("p", {}, el("strong", { text: "Strategy unavailable: " }), state.reason));
    } else {
      this.advice(state.answer, nCars);
    }
  }

  show(kind, ...children) {
    this.root.dataset.state = kind;
    delete this.root.dataset.call;
    this.root.replaceChildren(...children);
  }

  advice(answer, nCars) {
    const recommended = answer.candidates.find((c) => c.label === answer.recommended);
    const stay = !recommended || recommended.kind === "stay_out";
    const held = answer.advice;
    const rows = shortlist(answer).map((c) => el("tr", { class: c.label === answer.recommended ? "rec" : null },
      el("td", { class: "l", text: c.label }),
      el("td", { text: c.expected_position.toFixed(2) }),
      el("td", {}, range(c, nCars || answer.position + 5)),
      el("td", { text: pct(c.p_gain) }),
      el("td", { text: pct(c.p_lose) }),
      el("td", { text: c.rejoin ? `P${c.rejoin.position}` : "" })));
    this.root.dataset.state = "advice";
    this.root.dataset.call = stay ? "stay" : "pit";
    this.root.replaceChildren(...[
      el("p", { class: "call", text: stay ? `Stay out (now P${answer.position})` : answer.recommended }),
      el("p", { class: "why", text: answer.why }),
      held ? el("p", { class: "muted", text: `in force: ${held.label}` }) : null,
      el("table", { class: "cands" },
        el("thead", {}, el("tr", {}, ...HEADINGS.map(([long, short], i) => el("th",
          { class: i ? null : "l", title: long }, el("span", { class: "long", text: long }),
          el("span", { class: "short", text: short }))))),
        el("tbody", {}, ...rows)),
      distribution(recommended),
      el("p", { class: "muted", text: `lap ${answer.lap}, ${answer.n_sims} simulations` })]
      .filter(Boolean));
  }
}

// Each column's heading and its short form, shown when the card is narrow (the full one
// stays in the heading's title).
const HEADINGS = [["candidate", "option"], ["E[pos]", "E[P]"], ["P10–P90", "P10–90"],
  ["P(gain)", "gain"], ["P(lose)", "lose"], ["rejoin", "rej."]];

// Staying out, the advice, pitting now, at the next caution and the best fixed laps:
// a strategist's short list (every pit-on-lap candidate would fill the card).
const SHORTLIST = 6;

function shortlist(answer) {
  const keep = answer.candidates.filter((c) => c.kind !== "pit_on_lap" || c.label === answer.recommended);
  const laps = answer.candidates.filter((c) => c.kind === "pit_on_lap" && c.label !== answer.recommended)
    .sort((a, b) => a.expected_position - b.expected_position);
  return [...keep, ...laps].slice(0, Math.max(SHORTLIST, keep.length));
}

// The advised candidate's finishing places as bars, P1 on the left, each as tall as its
// share of the runs (the tallest full height); the car's place now marked.
function distribution(c) {
  const share = c?.position_share || [];
  if (!share.length) return null;
  const top = Math.max(...share, 1e-9);
  const bars = share.map((p, i) => {
    const bar = el("i", { title: `P${i + 1}: ${pct(p)}`, "data-share": String(p) });
    bar.style.height = `${(100 * p) / top}%`;
    return bar;
  });
  return el("div", { class: "dist" },
    el("span", { class: "muted", text: `finish of “${c.label}”: P1` }),
    el("span", { class: "bars" }, ...bars),
    el("span", { class: "muted", text: `P${share.length}` }));
}

// The finishing positions' spread as a bar: P10 to P90, the mean marked.
function range(c, nCars) {
  const n = Math.max(nCars, c.position_p90, 2);
  const left = (100 * (c.position_p10 - 1)) / (n - 1);
  const width = Math.max(2, (100 * (c.position_p90 - c.position_p10)) / (n - 1));
  const mean = (100 * (c.expected_position - 1)) / (n - 1);
  const bar = el("span", { class: "range", title: `P${c.position_p10}–P${c.position_p90}` },
    el("i"), el("b"));
  bar.firstChild.style.left = `${left}%`;
  bar.firstChild.style.width = `${width}%`;
  bar.lastChild.style.left = `${mean}%`;
  return bar;
}
