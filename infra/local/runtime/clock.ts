/**
 * Time for the local runtime: the queue service (visibility timeouts, delays, retention, the dedupe window)
 * and the scheduler read the time and set timers only through a {@link RuntimeClock}, so tests move time
 * forward with a {@link ManualClock} instead of sleeping.
 */

export interface TimerHandle {
  cancel(): void;
}

export interface RuntimeClock {
  /** Epoch milliseconds. */
  now(): number;
  /**
   * Call `fn` once after `delayMs`. Timers never keep the process alive on their own (the servers do), so a
   * forgotten timer cannot hang shutdown.
   */
  setTimer(fn: () => void, delayMs: number): TimerHandle;
}

/** Node's largest timer delay (2^31 − 1 ms ≈ 24.8 days); longer waits are re-armed in steps. */
const MAX_TIMER_DELAY_MS = 2_147_483_647;

export const systemClock: RuntimeClock = {
  now: () => Date.now(),
  setTimer(fn, delayMs) {
    let timer: NodeJS.Timeout | undefined;
    const deadline = Date.now() + Math.max(0, delayMs);
    const arm = (): void => {
      const remaining = deadline - Date.now();
      timer = setTimeout(remaining > MAX_TIMER_DELAY_MS ? arm : fn, Math.min(MAX_TIMER_DELAY_MS, remaining));
      timer.unref();
    };
    arm();
    return { cancel: () => clearTimeout(timer) };
  },
};

interface PendingTimer {
  at: number;
  seq: number;
  fn: () => void;
  cancelled: boolean;
}

/**
 * A clock that only moves when told to. `advance(ms)` runs every timer that falls due, in time order, with
 * `now()` set to each timer's due time while it runs.
 */
export class ManualClock implements RuntimeClock {
  #now: number;
  #seq = 0;
  #timers: PendingTimer[] = [];

  constructor(startMs = Date.UTC(2026, 0, 5, 9, 0, 0)) {
    this.#now = startMs;
  }

  now(): number {
    return this.#now;
  }

  setTimer(fn: () => void, delayMs: number): TimerHandle {
    const timer: PendingTimer = {
      at: this.#now + Math.max(0, delayMs),
      seq: this.#seq++,
      fn,
      cancelled: false,
    };
    this.#timers.push(timer);
    return {
      cancel: () => {
        timer.cancelled = true;
      },
    };
  }

  /** Timers waiting to fire (not cancelled). */
  get pendingTimers(): number {
    return this.#timers.filter((t) => !t.cancelled).length;
  }

  /** Move time forward by `ms`, firing due timers (including timers they set that also fall due). */
  advance(ms: number): void {
    const target = this.#now + ms;
    for (;;) {
      this.#timers = this.#timers.filter((t) => !t.cancelled);
      let next: PendingTimer | undefined;
      for (const timer of this.#timers) {
        if (
          timer.at <= target &&
          (!next || timer.at < next.at || (timer.at === next.at && timer.seq < next.seq))
        ) {
          next = timer;
        }
      }
      if (!next) break;
      next.cancelled = true;
      this.#now = Math.max(this.#now, next.at);
      next.fn();
    }
    this.#now = target;
  }

  /** Move to an absolute time (never backwards). */
  advanceTo(epochMs: number): void {
    if (epochMs > this.#now) this.advance(epochMs - this.#now);
  }
}
