// One race's stream, read with fetch (an EventSource cannot send X-API-Key).
//
// Messages are newline-delimited JSON. The page keeps the seq of the last message it
// got and reconnects after a drop with ?after=<seq>: the server sends what it missed
// and a fresh snapshot. Reconnects back off from 0.5 s, doubling to 60 s, with jitter;
// a connection that delivered a message resets the backoff.

export const FIRST_DELAY_S = 0.5;
export const MAX_DELAY_S = 60;

export class RaceStream {
  constructor(raceId, { key, onMessage, onStatus }) {
    this.raceId = raceId;
    this.key = key;
    this.onMessage = onMessage;
    this.onStatus = onStatus;
    this.lastSeq = 0;
    this.delayS = FIRST_DELAY_S;
    this.connects = 0;
    this.controller = null;
    this.stopped = false;
  }

  headers() {
    return this.key ? { "X-API-Key": this.key } : {};
  }

  async run() {
    while (!this.stopped) {
      this.onStatus(this.connects ? "reconnecting" : "connecting");
      let delivered = false;
      try {
        delivered = await this.connect();
      } catch (error) {
        if (error && error.auth) {
          this.onStatus("auth", error.status);
          return;
        }
      }
      if (this.stopped) return;
      if (delivered) this.delayS = FIRST_DELAY_S;
      this.onStatus("reconnecting");
      const wait = this.delayS * (0.5 + 0.5 * Math.random());
      this.delayS = Math.min(MAX_DELAY_S, this.delayS * 2);
      await new Promise((resolve) => setTimeout(resolve, wait * 1000));
    }
  }

  async connect() {
    this.controller = new AbortController();
    const url = `/v1/races/${encodeURIComponent(this.raceId)}/dashboard/stream?after=${this.lastSeq}`;
    const response = await fetch(url, {
      headers: this.headers(), cache: "no-store", signal: this.controller.signal,
    });
    if (response.status === 401 || response.status === 403) {
      throw Object.assign(new Error("key refused"), { auth: true, status: response.status });
    }
    if (!response.ok || !response.body) return false;
    this.connects += 1;
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    let delivered = false;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return delivered;
      buffer += decoder.decode(value, { stream: true });
      let end = buffer.indexOf("\n");
      while (end >= 0) {
        const line = buffer.slice(0, end);
        buffer = buffer.slice(end + 1);
        if (line) {
          const message = JSON.parse(line);
          if (message.seq != null) this.lastSeq = Math.max(this.lastSeq, message.seq);
          if (!delivered) this.onStatus("open");
          delivered = true;
          this.onMessage(message);
        }
        end = buffer.indexOf("\n");
      }
    }
  }

  stop() {
    this.stopped = true;
    if (this.controller) this.controller.abort();
  }
}

export async function getJson(url, key) {
  const response = await fetch(url, { headers: key ? { "X-API-Key": key } : {}, cache: "no-store" });
  let body = null;
  try {
    body = await response.json();
  } catch (_) {
    body = null;
  }
  return { status: response.status, ok: response.ok, body };
}
