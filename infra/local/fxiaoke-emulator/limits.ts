/**
 * Server-side limits and switchable faults: the per-interface window (spec §2.5: 100 calls / 20 s → 14001),
 * the token endpoint's 10 calls/min, the daily resource pack (30002), and the fault triggers of
 * `FxiaokeFaultSpec`. All time comes from the injected clock.
 */
import type { FxiaokeFaultSpec, FxiaokeFaultTrigger } from './api.ts';

export interface WindowLimit {
  calls: number;
  windowMs: number;
}

/**
 * Exact sliding window per key: at most `calls` admissions in any `windowMs`. Refused calls are not counted,
 * so a client pacing itself with the same rule (lib/rate-limit.ts) is never refused.
 */
export class SlidingWindowCounter {
  readonly #limit: WindowLimit;
  readonly #clock: () => number;
  readonly #stamps = new Map<string, number[]>();

  constructor(limit: WindowLimit, clock: () => number) {
    this.#limit = limit;
    this.#clock = clock;
  }

  /** Count one call for `key` if the window has room; false when it must be refused. */
  tryAcquire(key: string): boolean {
    const now = this.#clock();
    let stamps = this.#stamps.get(key);
    if (!stamps) {
      stamps = [];
      this.#stamps.set(key, stamps);
    }
    while (stamps.length > 0 && (stamps[0] ?? 0) <= now - this.#limit.windowMs) stamps.shift();
    if (stamps.length >= this.#limit.calls) return false;
    stamps.push(now);
    return true;
  }

  reset(): void {
    this.#stamps.clear();
  }
}

const DAY_MS = 86_400_000;
const GMT8_OFFSET_MS = 8 * 3_600_000;

/** Daily call budget of the tenant's Open API resource pack; resets at 00:00 GMT+8 (spec §2.5, §7). */
export class DailyQuota {
  readonly #quota: number;
  readonly #clock: () => number;
  #day = -1;
  #used = 0;

  constructor(quota: number, clock: () => number) {
    this.#quota = quota;
    this.#clock = clock;
  }

  tryAcquire(): boolean {
    const day = Math.floor((this.#clock() + GMT8_OFFSET_MS) / DAY_MS);
    if (day !== this.#day) {
      this.#day = day;
      this.#used = 0;
    }
    if (this.#used >= this.#quota) return false;
    this.#used += 1;
    return true;
  }
}

export type FaultName =
  | 'systemBusy'
  | 'serviceError'
  | 'dailyQuotaExceeded'
  | 'perSecondThrottle'
  | 'dropResponseAfterCommit';

export const FAULT_NAMES: readonly FaultName[] = [
  'systemBusy',
  'serviceError',
  'dailyQuotaExceeded',
  'perSecondThrottle',
  'dropResponseAfterCommit',
];

interface ArmedTrigger {
  paths: readonly string[] | undefined;
  remaining: number | undefined;
  probability: number;
}

/** CRM data paths (the default scope of a fault trigger). */
export function isCrmDataPath(path: string): boolean {
  return path.startsWith('/cgi/crm/');
}

/** The active fault spec, with `times` counting down as faults fire. */
export class FaultState {
  #armed = new Map<FaultName, ArmedTrigger>();
  #spec: FxiaokeFaultSpec = {};
  readonly #fired = new Map<string, number>();
  readonly #random: () => number;

  constructor(random: () => number = Math.random) {
    this.#random = random;
  }

  /** Replace the active faults (`{}` clears them). */
  set(spec: FxiaokeFaultSpec): void {
    this.#spec = spec;
    this.#armed = new Map();
    for (const name of FAULT_NAMES) {
      const trigger: FxiaokeFaultTrigger | undefined = spec[name];
      if (!trigger) continue;
      this.#armed.set(name, {
        paths: trigger.paths,
        remaining: trigger.times,
        probability: trigger.probability ?? 1,
      });
    }
  }

  get spec(): FxiaokeFaultSpec {
    return this.#spec;
  }

  get latencyMs(): number {
    return this.#spec.latencyMs ?? 0;
  }

  get noQuotaPurchased(): boolean {
    return this.#spec.noQuotaPurchased === true;
  }

  /** Whether fault `name` fires for a request to `path` (consumes one of its `times`). */
  fires(name: FaultName, path: string): boolean {
    const trigger = this.#armed.get(name);
    if (!trigger) return false;
    const inScope = trigger.paths ? trigger.paths.includes(path) : isCrmDataPath(path);
    if (!inScope) return false;
    if (trigger.remaining !== undefined && trigger.remaining <= 0) return false;
    if (trigger.probability < 1 && this.#random() >= trigger.probability) return false;
    if (trigger.remaining !== undefined) trigger.remaining -= 1;
    this.#fired.set(name, (this.#fired.get(name) ?? 0) + 1);
    return true;
  }

  /** Count a fault that is not trigger-based (noQuotaPurchased, expireTokens). */
  countFired(name: string): void {
    this.#fired.set(name, (this.#fired.get(name) ?? 0) + 1);
  }

  fired(): Record<string, number> {
    return Object.fromEntries(this.#fired);
  }

  resetCounts(): void {
    this.#fired.clear();
  }
}
