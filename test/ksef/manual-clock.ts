/**
 * A virtual clock for limiter tests: time moves only when a test calls advance()/runUntilIdle(),
 * sleepers wake in time order. No wall-clock in assertions.
 */
import type { Clock } from '../../src/ksef/index.js';

interface Timer {
  at: number;
  resolve: () => void;
}

export class ManualClock implements Clock {
  private t: number;
  private timers: Timer[] = [];
  constructor(start = Date.UTC(2026, 1, 2, 10, 0, 0)) {
    this.t = start;
  }
  now(): number {
    return this.t;
  }
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const timer = { at: this.t + Math.max(0, ms), resolve };
      this.timers.push(timer);
      signal?.addEventListener('abort', () => {
        this.timers = this.timers.filter((x) => x !== timer);
        reject(signal.reason);
      });
    });
  }
  get pending(): number {
    return this.timers.length;
  }
  /** Moves time forward by ms, waking sleepers in order. */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      await flush();
      this.timers.sort((a, b) => a.at - b.at);
      const next = this.timers[0];
      if (!next || next.at > end) break;
      this.timers.shift();
      this.t = Math.max(this.t, next.at);
      next.resolve();
    }
    this.t = end;
    await flush();
  }
  /** Wakes sleepers one by one (jumping time) until nobody sleeps; returns the time reached. */
  async runUntilIdle(maxSteps = 100_000): Promise<number> {
    for (let i = 0; i < maxSteps; i++) {
      await flush();
      this.timers.sort((a, b) => a.at - b.at);
      const next = this.timers.shift();
      if (!next) return this.t;
      this.t = Math.max(this.t, next.at);
      next.resolve();
    }
    throw new Error('clock did not become idle');
  }
}

async function flush(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
  await new Promise<void>((r) => setImmediate(r));
}
