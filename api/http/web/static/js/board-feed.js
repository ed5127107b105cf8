// Drivers' reports, live: polls the day-wide feed (`GET /events/feed`) every few seconds
// with the last cursor and ETag, so a quiet day costs a 304 per poll. Polling rather than
// server-sent events: it passes every proxy, survives a server restart without a reconnect
// dance, and the board is one of a handful of clients per region.

import { api } from "./api.js";

const EVERY_MS = 2500;

export class EventFeed {
  /** `onEvent(event)` for each new event, oldest first. */
  constructor(onEvent) {
    this.onEvent = onEvent;
    this.timer = null;
    this.key = null;
  }

  start(day, region) {
    const key = `${day}|${region}`;
    if (this.key === key && this.timer) return;
    this.stop();
    this.key = key;
    this.day = day;
    this.region = region;
    this.cursor = 0;
    this.etag = null;
    this.poll();
  }

  stop() {
    clearTimeout(this.timer);
    this.timer = null;
    this.key = null;
  }

  async poll() {
    const key = this.key;
    try {
      for (;;) {
        const url = `/events/feed?date=${this.day}&region=${encodeURIComponent(this.region)}&after=${this.cursor}&limit=500`;
        const answer = await api(url, { etag: this.etag });
        if (key !== this.key) return;
        if (answer.notModified) break;
        this.etag = answer.etag;
        for (const event of answer.items) this.onEvent(event);
        this.cursor = answer.cursor;
        if (!answer.more) break;
      }
    } catch {
      // a lost connection: the next poll catches up from the same cursor
    }
    if (key === this.key) this.timer = setTimeout(() => this.poll(), EVERY_MS);
  }
}
