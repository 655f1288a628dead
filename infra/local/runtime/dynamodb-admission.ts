/**
 * Which request the embedded DynamoDB engine starts next (see dynamodb-thread.ts for why it matters).
 *
 * Priority requests (the webhook's) start at once. The others — the queue consumers' and scheduled flows' —
 * start in arrival order, at most `idle` at a time, and at most `busy` at a time while a priority request is
 * being served: every background request in flight adds its own trips through the engine's event loop and
 * LevelDB's thread pool to each of the priority request's. `busy` is at least 1, so the background never
 * stops, however long a push burst lasts (a stalled consumer would time out and its messages be redelivered).
 */
export interface AdmissionLimits {
  /** Background requests served at a time when no priority request is in flight (0 = no limit). */
  idle: number;
  /** … while one is (at least 1; capped by `idle` when that is set). */
  busy: number;
}

export class DynamoAdmission {
  readonly #limits: AdmissionLimits;
  readonly #waiting: (() => void)[] = [];
  #running = 0;
  #priority = 0;

  constructor(limits: AdmissionLimits) {
    if (!Number.isInteger(limits.busy) || limits.busy < 1) throw new RangeError('busy must be at least 1');
    this.#limits = limits;
  }

  /** Background requests started and not yet ended. */
  get running(): number {
    return this.#running;
  }

  /** Background requests waiting to start. */
  get waiting(): number {
    return this.#waiting.length;
  }

  /** A priority request starts now; call the returned function once when it has been answered. */
  priority(): () => void {
    this.#priority += 1;
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      this.#priority -= 1;
      this.#admit();
    };
  }

  /**
   * Queue a background request: `start` is called when it may start, with the function to call once it
   * has been answered.
   */
  background(start: (end: () => void) => void): void {
    this.#waiting.push(() => {
      this.#running += 1;
      let ended = false;
      start(() => {
        if (ended) return;
        ended = true;
        this.#running -= 1;
        this.#admit();
      });
    });
    this.#admit();
  }

  #limit(): number {
    const { idle, busy } = this.#limits;
    if (this.#priority === 0) return idle === 0 ? Number.POSITIVE_INFINITY : idle;
    return idle === 0 ? busy : Math.min(idle, busy);
  }

  #admit(): void {
    while (this.#running < this.#limit()) {
      const next = this.#waiting.shift();
      if (!next) return;
      next();
    }
  }
}
