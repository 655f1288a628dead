/**
 * The coalescing CRM re-read: how every change event gets a fresh copy of its record while a burst of
 * events stays inside Fxiaoke's rate limit (about 100 calls per 20 s per interface).
 *
 * Events are thin, so each one needs its record re-read. One `get` per event would turn an import of 1 000
 * customers into 1 000 calls (200 s of budget); one `getMany` per SQS batch (10 messages, the FIFO maximum)
 * still costs 100 calls. Instead, a worker that must call Fxiaoke anyway fills the call:
 *
 * 1. Snapshots first: a record another worker fetched *after this event was received* already contains the
 *    announced change — use it, no call.
 * 2. Otherwise take the ids of other events of the same apiName that nobody has read yet from the inbox's
 *    `pendingReads` index (claiming each, so two workers never spend a call on the same event), up to 100
 *    ids per `getMany` — Fxiaoke's page size. When the shared query budget is spent, wait for it first
 *    (`whenQueryAvailable`), then fill: the call goes out as full as the events received by then allow.
 * 3. Fetch them in one call and store every record as a snapshot with `fetchedAtMs` = the moment the call
 *    started, so the workers of those events find it in step 1.
 *
 * Steps 2–3 run under a read lease (one per apiName, in the coordination table): one coalescing read of an
 * object in flight across every copy. The others wait with their events unclaimed, so the lease holder's
 * call carries them, and the events that arrive during a read go into the next one — full — instead of ten
 * workers each spending calls on what had arrived when they started. Measured with `npm run bench`: 1 000
 * orders of three lines 88 → 52 query calls, 1 000 customers 25 → 11.
 *
 * For 1 000 events of one apiName the reads cost about 10 query calls (one per 100 ids) plus whatever a
 * worker fetches before the others' events are listed. Sales orders also fetch their lines (one `IN` query
 * per 100 orders, paged) and prefetch the products of those lines as snapshots, which the material
 * resolution then reuses. Freshness rests on one comparison, `snapshot.fetchedAtMs ≥ event.receivedAtMs`,
 * between the clocks of two hosts: Lambda hosts are NTP-disciplined to milliseconds, far below the time
 * between a change and its push.
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { Clock } from '../credentials.ts';
import type { FxiaokeClient } from '../fxiaoke/client.ts';
import {
  type CrmRecord,
  type CrmRecordWithDetails,
  crmRecordSchema,
  readCrmString,
} from '../fxiaoke/records.ts';
import { type Logger, silentLogger } from '../log.ts';
import type { EventInbox } from '../state/inbox.ts';
import type { SnapshotStore } from '../state/snapshots.ts';

/** Fxiaoke's query page size, hence the ids one `getMany` call reads (spec §4.1: limit ≤ 100). */
export const IDS_PER_READ = 100;
/** Pending reads older than this are not taken into a call (a crashed event's entry must not linger). */
const PENDING_WINDOW_MS = 60 * 60_000;
/**
 * When another worker has claimed this event's read, its snapshot is on the way (one Fxiaoke round trip):
 * wait this long for it before reading the record ourselves (a worker that died mid-read costs only this).
 */
export const DEFAULT_CLAIMED_READ_WAIT_MS = 5_000;
const CLAIMED_READ_POLL_MS = 50;
/**
 * A claimed read normally lands within a round trip or two; one still missing after this long is checked
 * against the inbox once (see `#stillRecorded`), so an event whose entry was not written yet is not kept
 * waiting for the whole {@link DEFAULT_CLAIMED_READ_WAIT_MS}.
 */
const UNRECORDED_CHECK_MS = 250;
/**
 * The read lease (one read of an apiName in flight): held at most this long — longer than a read waiting
 * out a spent query budget (the limiter waits at most a window and two slots, ~24 s) — so a holder that
 * died blocks the others for no longer.
 */
const READ_LEASE_MS = 30_000;
/** A reader waits this long for the lease before reading on its own. */
const READ_LEASE_WAIT_MS = READ_LEASE_MS;
const READ_LEASE_FIRST_POLL_MS = 25;
const READ_LEASE_MAX_POLL_MS = 500;
/**
 * Other events' reads are claimed this many at a time. When fewer than half of a round are won, another
 * worker is sweeping the same part of the list, and going on would mostly buy failed conditional writes
 * (measured by the benchmark: 3.5 claim attempts per event with unbounded rounds, ~1.3 with these).
 */
const CLAIM_ROUND = 20;

export interface ReadRequest {
  id: string;
  /** The copy must have been fetched at or after this time (the event's receive time). */
  notBeforeMs: number;
  /** Inbox messageIds of the events asking (their pending reads are claimed by this read). */
  inboxMessageIds?: readonly string[];
}

export type CrmRead =
  | { found: true; record: CrmRecord; details: Record<string, CrmRecord[]>; fetchedAtMs: number }
  /** The record did not come back: deleted, invalidated and hidden, or not visible to the sync's user. */
  | { found: false; fetchedAtMs: number };

const payloadSchema = z.object({
  record: crmRecordSchema,
  details: z.record(z.string(), z.array(crmRecordSchema)),
});

/** Objects whose records come with detail rows, and the objects their rows reference (prefetched). */
const MASTERS: Readonly<Record<string, { companions: readonly { field: string; apiName: string }[] }>> = {
  SalesOrderObj: { companions: [{ field: 'product_id', apiName: 'ProductObj' }] },
};

export interface CrmReaderOptions {
  fx: FxiaokeClient;
  inbox: EventInbox;
  snapshots: SnapshotStore;
  clock: Clock;
  logger?: Logger;
  /** Default {@link DEFAULT_CLAIMED_READ_WAIT_MS}. */
  claimedReadWaitMs?: number;
  /** Default a real timer. */
  sleep?: (ms: number) => Promise<void>;
  /** Where in the pending list a worker starts; default `Math.random`. */
  random?: () => number;
}

/** See the module comment. One instance per runtime. */
export class CrmReader {
  readonly #fx: FxiaokeClient;
  readonly #inbox: EventInbox;
  readonly #snapshots: SnapshotStore;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #claimedReadWaitMs: number;
  readonly #sleep: (ms: number) => Promise<void>;
  readonly #random: () => number;

  constructor(options: CrmReaderOptions) {
    this.#fx = options.fx;
    this.#inbox = options.inbox;
    this.#snapshots = options.snapshots;
    this.#clock = options.clock;
    this.#logger = (options.logger ?? silentLogger).child({ component: 'sync.reader' });
    this.#claimedReadWaitMs = options.claimedReadWaitMs ?? DEFAULT_CLAIMED_READ_WAIT_MS;
    this.#sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.#random = options.random ?? Math.random;
  }

  /**
   * Current copies of `requests` (by id), each at least as new as its `notBeforeMs`.
   *
   * @throws {FxiaokeError} when Fxiaoke fails (retryable kinds mean: try the whole batch again later);
   *   {@link StateError} when the snapshot store fails.
   */
  async read(apiName: string, requests: readonly ReadRequest[]): Promise<Map<string, CrmRead>> {
    const wanted = new Map<string, { notBeforeMs: number; inbox: Set<string> }>();
    for (const request of requests) {
      const entry = wanted.get(request.id) ?? { notBeforeMs: 0, inbox: new Set<string>() };
      entry.notBeforeMs = Math.max(entry.notBeforeMs, request.notBeforeMs);
      for (const messageId of request.inboxMessageIds ?? []) entry.inbox.add(messageId);
      wanted.set(request.id, entry);
    }
    const results = new Map<string, CrmRead>();
    if (wanted.size === 0) return results;

    // 1. Snapshots at least as new as each request.
    let needed = await this.#fromSnapshots(apiName, wanted, [...wanted.keys()], results);
    if (needed.length === 0) return results;

    // One read of an apiName in flight at a time, across every copy: while another worker reads, our
    // events stay unclaimed, so its call can carry them; the events that arrive during a read go into the
    // next one, full, instead of into many small calls (the query budget is 100 calls / 20 s).
    const owner = randomUUID();
    const lease = await this.#awaitReadLease(apiName, owner, wanted, needed, results);
    needed = lease.needed;
    if (needed.length === 0) return results;
    try {
      return await this.#readNeeded(apiName, wanted, needed, results);
    } finally {
      if (lease.held) {
        await this.#snapshots.releaseReadLease(apiName, owner).catch((error: unknown) => {
          // It expires by itself; the next reader waits at most READ_LEASE_MS.
          this.#logger.warn('sync.reader.lease-release-failed', { apiName, error });
        });
      }
    }
  }

  /**
   * Wait for the read lease of `apiName` (see `read`), answering from snapshots meanwhile. Returns the ids
   * still to read and whether the lease is ours; without it after {@link READ_LEASE_WAIT_MS} (a holder that
   * died) or when the lease table fails, the read goes ahead on its own.
   */
  async #awaitReadLease(
    apiName: string,
    owner: string,
    wanted: ReadonlyMap<string, { notBeforeMs: number; inbox: ReadonlySet<string> }>,
    initial: readonly string[],
    results: Map<string, CrmRead>,
  ): Promise<{ held: boolean; needed: string[] }> {
    let needed = [...initial];
    const deadline = this.#clock() + READ_LEASE_WAIT_MS;
    let delayMs = READ_LEASE_FIRST_POLL_MS;
    for (;;) {
      let held: boolean;
      try {
        held = await this.#snapshots.tryReadLease(apiName, owner, READ_LEASE_MS);
      } catch (error) {
        this.#logger.warn('sync.reader.lease-failed', { apiName, error });
        return { held: false, needed };
      }
      if (held) {
        // The previous holder may have read our events.
        needed = await this.#fromSnapshots(apiName, wanted, needed, results);
        if (needed.length === 0) {
          await this.#snapshots.releaseReadLease(apiName, owner).catch(() => {});
          return { held: false, needed };
        }
        return { held: true, needed };
      }
      if (this.#clock() >= deadline) {
        this.#logger.warn('sync.reader.lease-wait-exceeded', { apiName, waitedMs: READ_LEASE_WAIT_MS });
        return { held: false, needed };
      }
      await this.#sleep(delayMs);
      delayMs = Math.min(READ_LEASE_MAX_POLL_MS, delayMs * 2);
      needed = await this.#fromSnapshots(apiName, wanted, needed, results);
      if (needed.length === 0) return { held: false, needed };
    }
  }

  /** Steps 2 and 3 of the module comment for the ids no snapshot answered. */
  async #readNeeded(
    apiName: string,
    wanted: ReadonlyMap<string, { notBeforeMs: number; inbox: ReadonlySet<string> }>,
    initial: readonly string[],
    results: Map<string, CrmRead>,
  ): Promise<Map<string, CrmRead>> {
    let needed = [...initial];

    // Our own events' pending reads are taken now, so nobody else adds them to their calls. An event whose
    // read another worker already took is in that worker's call right now: wait for its snapshot.
    const claimedElsewhere: string[] = [];
    await Promise.all(
      needed.map(async (id) => {
        const messageIds = [...(wanted.get(id)?.inbox ?? [])];
        if (messageIds.length === 0) return;
        const wins = await Promise.all(
          messageIds.map((messageId) => this.#inbox.claimPendingRead(messageId).catch(() => true)),
        );
        if (!wins.some(Boolean)) claimedElsewhere.push(id);
      }),
    );
    if (claimedElsewhere.length > 0) {
      const startedAt = this.#clock();
      const deadline = startedAt + this.#claimedReadWaitMs;
      let waiting = claimedElsewhere;
      let checkedRecorded = false;
      while (waiting.length > 0 && this.#clock() < deadline) {
        await this.#sleep(CLAIMED_READ_POLL_MS);
        waiting = await this.#fromSnapshots(apiName, wanted, waiting, results);
        if (!checkedRecorded && waiting.length > 0 && this.#clock() - startedAt >= UNRECORDED_CHECK_MS) {
          // A claim also fails when the event is not in the inbox yet — the webhook writes a first delivery's
          // inbox entry and queue message at once, and the message can win. Nobody reads those for us.
          checkedRecorded = true;
          waiting = await this.#stillRecorded(waiting, wanted);
        }
      }
      needed = needed.filter((id) => !results.has(id));
      if (needed.length === 0) return results;
    }

    // 2. Fill the last call with other events' ids.
    const chunks: string[][] = [];
    for (let start = 0; start < needed.length; start += IDS_PER_READ) {
      chunks.push(needed.slice(start, start + IDS_PER_READ));
    }
    const last = chunks.at(-1) ?? [];
    if (last.length < IDS_PER_READ) {
      // When the query budget is spent, the call would wait in the limiter anyway: wait before filling it,
      // so that it carries the events that arrive meanwhile (in a burst of orders, a spent budget makes
      // every call full instead of each carrying what had arrived when its worker started waiting).
      const waitStartedAt = this.#clock();
      try {
        await this.#fx.whenQueryAvailable(apiName);
      } catch (error) {
        this.#logger.warn('sync.reader.budget-check-failed', { apiName, error });
      }
      const waitedMs = this.#clock() - waitStartedAt;
      if (waitedMs >= 100) this.#logger.info('sync.reader.waited-for-budget', { apiName, waitedMs });
    }
    const taken = await this.#takePendingReads(apiName, IDS_PER_READ - last.length, new Set(needed));
    const others = taken.ids;
    last.push(...others);
    // Records these masters reference (an order's products) need copies at least as new as the newest
    // event this read serves; a copy another read fetched since then is as good as a new call.
    let companionsNotBeforeMs = taken.newestReceivedAtMs;
    for (const id of needed) {
      companionsNotBeforeMs = Math.max(companionsNotBeforeMs, wanted.get(id)?.notBeforeMs ?? 0);
    }

    // 3. Fetch, store snapshots, answer.
    for (const ids of chunks) {
      const fetched = await this.#fetch(apiName, ids, companionsNotBeforeMs);
      for (const id of ids) {
        const read = fetched.get(id);
        if (read && wanted.has(id)) results.set(id, read);
      }
    }
    this.#logger.info('sync.reader.fetched', {
      apiName,
      forCaller: needed.length,
      forOthers: others.length,
      fromSnapshotsOrOthers: wanted.size - needed.length,
      calls: chunks.length,
    });
    return results;
  }

  /** The ids among `ids` whose events are in the inbox (so some worker really holds their read). */
  async #stillRecorded(
    ids: readonly string[],
    wanted: ReadonlyMap<string, { inbox: ReadonlySet<string> }>,
  ): Promise<string[]> {
    const recorded = await Promise.all(
      ids.map(async (id) => {
        const messageIds = [...(wanted.get(id)?.inbox ?? [])];
        const entries = await Promise.all(
          messageIds.map((messageId) => this.#inbox.get(messageId).catch(() => 'unknown' as const)),
        );
        return entries.some((entry) => entry !== undefined);
      }),
    );
    const unrecorded = ids.filter((_, index) => !recorded[index]);
    if (unrecorded.length > 0) this.#logger.info('sync.reader.unrecorded', { count: unrecorded.length });
    return ids.filter((_, index) => recorded[index]);
  }

  /** Answer what fresh snapshots can; returns the ids still without an answer. */
  async #fromSnapshots(
    apiName: string,
    wanted: ReadonlyMap<string, { notBeforeMs: number }>,
    ids: readonly string[],
    results: Map<string, CrmRead>,
  ): Promise<string[]> {
    const snapshots = await this.#snapshots.getMany(apiName, ids);
    const missing: string[] = [];
    for (const id of ids) {
      const snapshot = snapshots.get(id);
      const notBeforeMs = wanted.get(id)?.notBeforeMs ?? 0;
      const read = snapshot && snapshot.fetchedAtMs >= notBeforeMs ? fromSnapshot(snapshot) : undefined;
      if (read) results.set(id, read);
      else missing.push(id);
    }
    return missing;
  }

  /**
   * Up to `capacity` ids of other events of `apiName` whose reads this worker could claim. Concurrent
   * workers see the same oldest entries; each starts at a random point of the list and keeps claiming
   * further entries when others win, so together they cover as many events as their calls can hold.
   * Returns the claimed records' ids, and when the newest of their events was received.
   */
  async #takePendingReads(
    apiName: string,
    capacity: number,
    exclude: ReadonlySet<string>,
  ): Promise<{ ids: string[]; newestReceivedAtMs: number }> {
    if (capacity <= 0) return { ids: [], newestReceivedAtMs: 0 };
    let pending: Awaited<ReturnType<EventInbox['listPendingReads']>>;
    try {
      pending = await this.#inbox.listPendingReads(apiName, {
        // Room for entries other workers claim first, and for several events of one record.
        limit: Math.min(500, capacity * 4 + 20),
        sinceMs: this.#clock() - PENDING_WINDOW_MS,
      });
    } catch (error) {
      // Coalescing is an optimisation: without it this read still serves its own events.
      this.#logger.warn('sync.reader.pending-list-failed', { apiName, error });
      return { ids: [], newestReceivedAtMs: 0 };
    }
    const byRecord = new Map<string, string[]>();
    const receivedAt = new Map<string, number>();
    for (const entry of pending) {
      if (exclude.has(entry.dataId)) continue;
      const messages = byRecord.get(entry.dataId);
      if (messages) messages.push(entry.messageId);
      else byRecord.set(entry.dataId, [entry.messageId]);
      receivedAt.set(entry.dataId, Math.max(receivedAt.get(entry.dataId) ?? 0, entry.receivedAtMs));
    }
    const all = [...byRecord];
    const offset = all.length === 0 ? 0 : Math.floor(this.#random() * all.length);
    const candidates = [...all.slice(offset), ...all.slice(0, offset)];
    const taken: string[] = [];
    let next = 0;
    while (taken.length < capacity && next < candidates.length) {
      const round = candidates.slice(next, next + Math.min(CLAIM_ROUND, capacity - taken.length));
      next += round.length;
      const won = await Promise.all(
        round.map(async ([dataId, messageIds]) => {
          const wins = await Promise.all(
            messageIds.map((messageId) => this.#inbox.claimPendingRead(messageId).catch(() => false)),
          );
          return wins.some(Boolean) ? dataId : undefined;
        }),
      );
      const wonNow = won.filter((dataId) => dataId !== undefined);
      taken.push(...wonNow);
      if (wonNow.length * 2 < round.length) break;
    }
    let newestReceivedAtMs = 0;
    for (const dataId of taken)
      newestReceivedAtMs = Math.max(newestReceivedAtMs, receivedAt.get(dataId) ?? 0);
    return { ids: taken, newestReceivedAtMs };
  }

  async #fetch(
    apiName: string,
    ids: readonly string[],
    companionsNotBeforeMs: number,
  ): Promise<Map<string, CrmRead>> {
    const fetchedAtMs = this.#clock();
    const master = MASTERS[apiName];
    const records: Map<string, CrmRecordWithDetails> = master
      ? await this.#fx.getManyWithDetails(apiName, ids)
      : new Map(
          [...(await this.#fx.getMany(apiName, ids))].map(([id, record]) => [id, { record, details: {} }]),
        );
    const reads = new Map<string, CrmRead>();
    for (const id of ids) {
      const found = records.get(id);
      reads.set(id, found ? { found: true, ...found, fetchedAtMs } : { found: false, fetchedAtMs });
    }
    await this.#snapshots.putMany(
      apiName,
      ids.map((id) => {
        const found = records.get(id);
        return { id, fetchedAtMs, found: found !== undefined, payload: found };
      }),
    );
    for (const companion of master?.companions ?? []) {
      const companionIds = new Set<string>();
      for (const { details } of records.values()) {
        for (const rows of Object.values(details)) {
          for (const row of rows) {
            const id = readCrmString(row, companion.field);
            if (id) companionIds.add(id);
          }
        }
      }
      await this.#prefetch(companion.apiName, [...companionIds], companionsNotBeforeMs);
    }
    return reads;
  }

  /**
   * Read records referenced by fetched masters and keep them as snapshots only — those without a snapshot
   * fetched at or after `notBeforeMs` (in a burst of orders of a few products, most reads find them all).
   */
  async #prefetch(apiName: string, all: readonly string[], notBeforeMs: number): Promise<void> {
    if (all.length === 0) return;
    let ids = all;
    try {
      const snapshots = await this.#snapshots.getMany(apiName, all);
      ids = all.filter((id) => (snapshots.get(id)?.fetchedAtMs ?? -1) < notBeforeMs);
    } catch (error) {
      // Reuse is an optimisation: without the snapshots, fetch them all.
      this.#logger.warn('sync.reader.snapshot-check-failed', { apiName, error });
    }
    if (ids.length === 0) return;
    const fetchedAtMs = this.#clock();
    const records = await this.#fx.getMany(apiName, ids);
    await this.#snapshots.putMany(
      apiName,
      ids.map((id) => {
        const record = records.get(id);
        return {
          id,
          fetchedAtMs,
          found: record !== undefined,
          payload: record ? { record, details: {} } : undefined,
        };
      }),
    );
  }
}

function fromSnapshot(snapshot: {
  fetchedAtMs: number;
  found: boolean;
  payload: unknown;
}): CrmRead | undefined {
  if (!snapshot.found) return { found: false, fetchedAtMs: snapshot.fetchedAtMs };
  const parsed = payloadSchema.safeParse(snapshot.payload);
  // An unreadable snapshot (written by another version) is simply not used.
  if (!parsed.success) return undefined;
  return { found: true, ...parsed.data, fetchedAtMs: snapshot.fetchedAtMs };
}
