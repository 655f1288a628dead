/**
 * Client-side rate limiting, so we stay inside a vendor's published limits instead of discovering them
 * through errors (Fxiaoke: 100 calls per 20 s per interface).
 *
 * One interface, two implementations: {@link SlidingWindowRateLimiter} for one process (the local stack,
 * tests), and the DynamoDB-backed limiter in `lib/state` that shares one budget across every concurrent
 * Lambda copy.
 */
import type { Clock } from './credentials.ts';
import { systemClock } from './credentials.ts';

export interface RateLimiter {
  /**
   * Wait until one call in `bucket` (e.g. `fxiaoke:/cgi/crm/v2/data/query`) may be made, then count it.
   * Resolves immediately while the budget lasts.
   */
  acquire(bucket: string): Promise<void>;
  /**
   * Wait until a call in `bucket` would be admitted now, without counting one — for a caller that can make
   * its call worth more while it waits (fill it with more ids). Best effort: another caller may take the
   * capacity first, and `acquire` still decides. Returns at once while the budget lasts.
   */
  whenAvailable?(bucket: string): Promise<void>;
}

export interface RateLimit {
  calls: number;
  windowMs: number;
}

export type Sleep = (ms: number) => Promise<void>;

export const realSleep: Sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Exact sliding window: at most `calls` acquisitions in any `windowMs` interval, per bucket. Waiters are
 * served in arrival order.
 */
export class SlidingWindowRateLimiter implements RateLimiter {
  readonly #limit: RateLimit;
  readonly #clock: Clock;
  readonly #sleep: Sleep;
  readonly #history = new Map<string, number[]>();
  readonly #tails = new Map<string, Promise<void>>();

  constructor(limit: RateLimit, options: { clock?: Clock; sleep?: Sleep } = {}) {
    this.#limit = limit;
    this.#clock = options.clock ?? systemClock;
    this.#sleep = options.sleep ?? realSleep;
  }

  acquire(bucket: string): Promise<void> {
    // Chain per bucket so that concurrent callers are admitted one at a time, in order.
    const previous = this.#tails.get(bucket) ?? Promise.resolve();
    const next = previous.then(() => this.#admit(bucket));
    this.#tails.set(
      bucket,
      next.catch(() => {}),
    );
    return next;
  }

  async whenAvailable(bucket: string): Promise<void> {
    // Behind the callers already queued for this bucket, then until the window has room.
    await (this.#tails.get(bucket) ?? Promise.resolve());
    const stamps = this.#history.get(bucket) ?? [];
    for (;;) {
      const now = this.#clock();
      while (stamps.length > 0 && (stamps[0] ?? 0) <= now - this.#limit.windowMs) stamps.shift();
      if (stamps.length < this.#limit.calls) return;
      const oldest = stamps[0] ?? now;
      await this.#sleep(Math.max(1, oldest + this.#limit.windowMs - now));
    }
  }

  async #admit(bucket: string): Promise<void> {
    const stamps = this.#history.get(bucket) ?? [];
    this.#history.set(bucket, stamps);
    for (;;) {
      const now = this.#clock();
      while (stamps.length > 0 && (stamps[0] ?? 0) <= now - this.#limit.windowMs) stamps.shift();
      if (stamps.length < this.#limit.calls) {
        stamps.push(now);
        return;
      }
      const oldest = stamps[0] ?? now;
      await this.#sleep(Math.max(1, oldest + this.#limit.windowMs - now));
    }
  }
}

/** A limiter that never waits (for tests of other behaviour, and for vendors without a published limit). */
export const unlimited: RateLimiter = { acquire: async () => {} };
