/**
 * A {@link RateLimiter} whose budget is shared by every concurrent Lambda copy, kept in DynamoDB.
 *
 * Algorithm — a sliding window made of `slots` fixed sub-windows (default 10: 2 s slots for Fxiaoke's
 * 100 calls / 20 s):
 * - each slot is one counter item, incremented with a conditional `ADD` (atomic; concurrent callers are
 *   serialised by DynamoDB on that one item);
 * - a call at time `t` is admitted when the calls counted in every slot that overlaps `[t − window, t]` —
 *   the `slots` previous slots *entirely*, plus the current one — stay below the limit; the condition on
 *   the current slot's counter makes the check-and-count atomic;
 * - otherwise the caller sleeps until the earliest slot boundary at which enough old calls drop out.
 *
 * Accuracy (docs/state.md, "Rate limiter"): counting the oldest overlapping slot entirely is conservative,
 * so no interval of `window` length ever holds more than `calls` admissions (measured on the limiter's
 * clocks). The price is throughput: with calls spread evenly, about `calls × slots / (slots + 1)` per window
 * (≈ 91 of 100 with 10 slots). A plain fixed window would instead allow up to 2× the limit across a window
 * boundary. Remaining error sources: clock skew between Lambda hosts (NTP-disciplined; small against 2 s
 * slots) and the request latency between reading the slot counters and counting.
 *
 * Closed slots never change (apart from stragglers with skewed clocks), so each process caches their counts
 * once they are `settleMs` old: a typical `acquire` costs one BatchGetItem and one UpdateItem.
 *
 * Stragglers: the conditional write guards only the current slot. A caller that read the counters just
 * before a slot boundary and whose increment lands just after it (tens to hundreds of milliseconds under
 * load — measured by the benchmark) is not seen by a caller that read the previous slot in between, so a
 * saturated budget can admit a call or two over the limit per boundary; and the vendor counts arrivals,
 * which trail admissions. `reserve` keeps that many calls of every window unused (the sync runtime keeps
 * 5 % for Fxiaoke, whose 101st call in 20 s is refused with 14001).
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { z } from 'zod';
import { type Clock, systemClock } from '../credentials.ts';
import { InvalidInputError } from '../errors.ts';
import { type Logger, silentLogger } from '../log.ts';
import { type RateLimit, type RateLimiter, realSleep, type Sleep } from '../rate-limit.ts';
import { StateError } from './errors.ts';
import { StateTable } from './table.ts';
import { PURGE_AT_ATTRIBUTE } from './tables.ts';

export const DEFAULT_RATE_LIMIT_SLOTS = 10;
/** A slot's count is cached as final this long after it ended (allowance for clock skew between hosts). */
export const DEFAULT_RATE_LIMIT_SETTLE_MS = 1_000;
/** BatchGetItem takes ≤ 100 keys; slots + 1 keys are read per call. */
const MAX_SLOTS = 50;
const MAX_BUCKET_LENGTH = 512;
/** Counter items are kept an hour past their last use, then TTL removes them. */
const PURGE_GRACE_SEC = 3_600;

export interface DynamoRateLimiterOptions {
  client: DynamoDBClient;
  /** The coordination table (`STATE_TABLE_COORDINATION`). */
  tableName: string;
  /** The limit of every bucket, or a function choosing the limit per bucket. */
  limit: RateLimit | ((bucket: string) => RateLimit);
  /** Sub-windows per window (1–50). More slots: closer to the full budget, more items read per call. */
  slots?: number;
  /**
   * Calls of every window kept unused, against stragglers and arrival skew (see the module comment):
   * a number, or a function of the bucket's limit. Default 0. At least one call per window stays admissible.
   */
  reserve?: number | ((limit: RateLimit) => number);
  /** Longest a caller waits before failing with `RATE_LIMIT_WAIT_EXCEEDED`. Default: window + two slots. */
  maxWaitMs?: number;
  settleMs?: number;
  clock?: Clock;
  sleep?: Sleep;
  /** Jitter source in [0, 1); injected by tests. */
  random?: () => number;
  logger?: Logger;
}

const counterSchema = z.object({ pk: z.string(), count: z.number() });

/** The budget of a bucket stays used up for longer than the caller may wait. */
export class RateLimitWaitError extends StateError {
  constructor(bucket: string, retryAfterMs: number) {
    super(
      `调用频率已达上限：${bucket}，约 ${Math.ceil(retryAfterMs / 1000)} 秒后重试 / Rate limit reached for ${bucket}; retry in about ${Math.ceil(retryAfterMs / 1000)} s`,
      { kind: 'throttled', fault: 'theirs', code: 'RATE_LIMIT_WAIT_EXCEEDED', retryAfterMs },
    );
  }
}

/**
 * The shared rate limiter (see the module comment). The constructor throws InvalidInputError for `slots`
 * outside 1–50.
 */
export class DynamoRateLimiter implements RateLimiter {
  readonly #table: StateTable;
  readonly #limit: (bucket: string) => RateLimit;
  readonly #slots: number;
  readonly #maxWaitMs: number | undefined;
  readonly #reserve: (limit: RateLimit) => number;
  readonly #settleMs: number;
  readonly #clock: Clock;
  readonly #sleep: Sleep;
  readonly #random: () => number;
  readonly #logger: Logger;
  /** Final counts of closed slots: `<bucket>#<slotMs>` → slot number → count. */
  readonly #settled = new Map<string, Map<number, number>>();

  constructor(options: DynamoRateLimiterOptions) {
    this.#table = new StateTable(options.client, options.tableName);
    const limit = options.limit;
    this.#limit = typeof limit === 'function' ? limit : () => limit;
    this.#slots = options.slots ?? DEFAULT_RATE_LIMIT_SLOTS;
    if (!Number.isInteger(this.#slots) || this.#slots < 1 || this.#slots > MAX_SLOTS) {
      throw new InvalidInputError(
        `slots 必须为 1–${MAX_SLOTS} / slots must be 1–${MAX_SLOTS}`,
        'STATE_BAD_OPTION',
      );
    }
    this.#maxWaitMs = options.maxWaitMs;
    const reserve = options.reserve ?? 0;
    this.#reserve = typeof reserve === 'function' ? reserve : () => reserve;
    this.#settleMs = options.settleMs ?? DEFAULT_RATE_LIMIT_SETTLE_MS;
    this.#clock = options.clock ?? systemClock;
    this.#sleep = options.sleep ?? realSleep;
    this.#random = options.random ?? Math.random;
    this.#logger = (options.logger ?? silentLogger).child({ component: 'state.rate-limiter' });
  }

  /**
   * Wait until one call in `bucket` fits the shared budget, then count it.
   *
   * @throws {RateLimitWaitError} when the wait would exceed `maxWaitMs` (carries `retryAfterMs`);
   *   {@link InvalidInputError} for an empty bucket or an invalid limit; {@link StateError} when DynamoDB fails.
   */
  async acquire(bucket: string): Promise<void> {
    await this.#admit(bucket, true);
  }

  /**
   * Wait until a call in `bucket` would be admitted now, without counting one (see RateLimiter). Best
   * effort: returns when there is room, or when waiting longer would pass the wait limit (`acquire` then
   * reports it).
   *
   * @throws {InvalidInputError} for an empty bucket or an invalid limit; {@link StateError} when DynamoDB fails.
   */
  async whenAvailable(bucket: string): Promise<void> {
    await this.#admit(bucket, false);
  }

  async #admit(bucket: string, count: boolean): Promise<void> {
    if (bucket.length === 0 || bucket.length > MAX_BUCKET_LENGTH) {
      throw new InvalidInputError(
        `限流桶名必须为 1–${MAX_BUCKET_LENGTH} 个字符 / Rate-limit bucket must be 1–${MAX_BUCKET_LENGTH} characters`,
        'STATE_BAD_BUCKET',
      );
    }
    const configured = this.#limit(bucket);
    if (
      !Number.isInteger(configured.calls) ||
      configured.calls < 1 ||
      !Number.isFinite(configured.windowMs)
    ) {
      throw new InvalidInputError(`限流配置无效 / Invalid rate limit for ${bucket}`, 'STATE_BAD_OPTION');
    }
    const reserved = Math.floor(this.#reserve(configured));
    const limit = {
      calls:
        Number.isFinite(reserved) && reserved > 0
          ? Math.max(1, configured.calls - reserved)
          : configured.calls,
      windowMs: configured.windowMs,
    };
    const slotMs = Math.ceil(limit.windowMs / this.#slots);
    if (slotMs < 1)
      throw new InvalidInputError(
        `限流窗口过短 / Rate-limit window too short for ${bucket}`,
        'STATE_BAD_OPTION',
      );
    // The longest a lone caller can have to wait is one window plus the slot it started in.
    const deadlineMs = this.#clock() + (this.#maxWaitMs ?? limit.windowMs + 2 * slotMs);

    for (;;) {
      const now = this.#clock();
      const current = Math.floor(now / slotMs);
      const counts = await this.#counts(bucket, slotMs, current, now);
      const used = counts.reduce((sum, n) => sum + n, 0);
      const currentCount = counts[counts.length - 1] ?? 0;
      if (used < limit.calls) {
        if (!count) return;
        const allowedInCurrent = limit.calls - (used - currentCount);
        if (await this.#count(bucket, slotMs, current, allowedInCurrent, limit.windowMs)) return;
        // Others took the remaining budget between our read and our write: look again.
        continue;
      }
      // Earliest slot boundary at which the oldest slots drop out far enough to admit one more call.
      let remaining = used;
      let slotsToWait = 1;
      for (const oldest of counts) {
        remaining -= oldest;
        if (remaining < limit.calls) break;
        slotsToWait += 1;
      }
      const freeAtMs = (current + slotsToWait) * slotMs;
      // Jitter spreads the waiters of all Lambda copies so they do not hit the counter in one burst.
      const delayMs = freeAtMs - now + Math.floor(this.#random() * Math.min(slotMs * 0.1, 100));
      if (freeAtMs > deadlineMs) {
        if (!count) return;
        this.#logger.warn('state.rate-limit.wait-exceeded', { bucket, retryAfterMs: freeAtMs - now });
        throw new RateLimitWaitError(bucket, freeAtMs - now);
      }
      await this.#sleep(Math.max(1, delayMs));
    }
  }

  /** Counts of slots `current - slots … current` (oldest first); closed ones from the cache when settled. */
  async #counts(bucket: string, slotMs: number, current: number, now: number): Promise<number[]> {
    const first = current - this.#slots;
    const cacheKey = `${bucket}#${slotMs}`;
    const settled = this.#settled.get(cacheKey) ?? new Map<number, number>();
    this.#settled.set(cacheKey, settled);
    for (const slot of settled.keys()) if (slot < first) settled.delete(slot);

    const slots: number[] = [];
    for (let slot = first; slot <= current; slot += 1) slots.push(slot);
    const missing = slots.filter((slot) => !settled.has(slot));
    const fetched = new Map<string, number>();
    if (missing.length > 0) {
      const items = await this.#table.batchGet(
        missing.map((slot) => ({ pk: counterKey(bucket, slotMs, slot) })),
        true,
      );
      for (const item of items) {
        const parsed = counterSchema.safeParse(item);
        if (parsed.success) fetched.set(parsed.data.pk, parsed.data.count);
      }
    }
    return slots.map((slot) => {
      const cached = settled.get(slot);
      if (cached !== undefined) return cached;
      const count = fetched.get(counterKey(bucket, slotMs, slot)) ?? 0;
      if ((slot + 1) * slotMs + this.#settleMs <= now) settled.set(slot, count);
      return count;
    });
  }

  async #count(
    bucket: string,
    slotMs: number,
    slot: number,
    allowed: number,
    windowMs: number,
  ): Promise<boolean> {
    const result = await this.#table.update({
      key: { pk: counterKey(bucket, slotMs, slot) },
      update: 'ADD #count :one SET #purge = :purge, #kind = :kind',
      condition: 'attribute_not_exists(#count) OR #count < :allowed',
      names: { '#count': 'count', '#purge': PURGE_AT_ATTRIBUTE, '#kind': 'kind' },
      values: {
        ':one': 1,
        ':allowed': allowed,
        ':purge': Math.ceil(((slot + 1) * slotMs + windowMs) / 1000) + PURGE_GRACE_SEC,
        ':kind': 'rate-limit',
      },
    });
    return result.ok;
  }
}

/** One counter item per bucket, slot size and slot number. */
function counterKey(bucket: string, slotMs: number, slot: number): string {
  return `rate#${bucket}#${slotMs}#${slot}`;
}
