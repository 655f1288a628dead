/**
 * Short-lived snapshots of remote records, shared by every worker: what the coalescing re-read
 * (`lib/sync/reader.ts`) fetched from Fxiaoke, so that the workers of the other events it covered use the
 * copy instead of calling Fxiaoke again.
 *
 * A snapshot is only as good as its `fetchedAtMs`: a worker uses one only when it was fetched after the
 * worker's event was received (so it contains at least the change the event announced). Every snapshot is
 * the record *as of its own* `fetchedAtMs`, so an older copy overwriting a newer one can never be mistaken
 * for fresh — at worst a later reader finds it too old and reads again. {@link SnapshotStore.put} still
 * refuses to go backwards; {@link SnapshotStore.putMany} writes a whole read with BatchWriteItem (25 items
 * per request, no conditions), which is what a coalesced read of 100 records needs to stay cheap.
 *
 * Items live in the coordination table (`pk = snapshot#<kind>#<id>`) and expire after `ttlMs` (TTL attribute
 * `purgeAtSec`; reads ignore expired items, as everywhere in lib/state). A snapshot is a cache: losing one
 * costs one more read, never correctness.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { z } from 'zod';
import { type Clock, systemClock } from '../credentials.ts';
import { InvalidInputError } from '../errors.ts';
import { type Logger, silentLogger } from '../log.ts';
import { corruptItemError } from './errors.ts';
import { StateTable } from './table.ts';
import { PURGE_AT_ATTRIBUTE } from './tables.ts';

/**
 * Default lifetime: long enough for the queue to reach the events a read covered (a burst of 1 000 events
 * drains in well under a minute), short enough that nothing stale lingers. Freshness is decided by
 * `fetchedAtMs`, not by this TTL.
 */
export const DEFAULT_SNAPSHOT_TTL_MS = 10 * 60_000;

/** Kinds are object apiNames (`AccountObj`); `#` is refused so keys stay unambiguous. */
const KIND_PATTERN = /^[A-Za-z0-9_.-]{1,128}$/;
const MAX_ID_LENGTH = 256;

export interface Snapshot {
  kind: string;
  id: string;
  /** When the read that produced it started (epoch ms). */
  fetchedAtMs: number;
  /** false: the record did not come back (deleted, invalid, not visible) at `fetchedAtMs`. */
  found: boolean;
  /** The record as read (JSON); undefined when not found. Callers validate it. */
  payload: unknown;
}

export interface SnapshotInput {
  id: string;
  fetchedAtMs: number;
  found: boolean;
  payload?: unknown;
}

const itemSchema = z.object({
  pk: z.string(),
  kind: z.string(),
  id: z.string(),
  fetchedAtMs: z.number(),
  found: z.boolean(),
  payload: z.string().optional(),
  purgeAtSec: z.number(),
});

export interface SnapshotStoreOptions {
  client: DynamoDBClient;
  /** The coordination table (`STATE_TABLE_COORDINATION`). */
  tableName: string;
  /** Default {@link DEFAULT_SNAPSHOT_TTL_MS}. */
  ttlMs?: number;
  clock?: Clock;
  logger?: Logger;
}

/** Shared, forward-only snapshots (see the module comment). */
export class SnapshotStore {
  readonly #table: StateTable;
  readonly #ttlMs: number;
  readonly #clock: Clock;
  readonly #logger: Logger;

  /** @throws {InvalidInputError} for a TTL under one second. */
  constructor(options: SnapshotStoreOptions) {
    this.#table = new StateTable(options.client, options.tableName);
    this.#ttlMs = options.ttlMs ?? DEFAULT_SNAPSHOT_TTL_MS;
    if (!Number.isFinite(this.#ttlMs) || this.#ttlMs < 1_000) {
      throw new InvalidInputError(
        '快照保留时间至少 1 秒 / Snapshot TTL must be at least 1 s',
        'STATE_BAD_OPTION',
      );
    }
    this.#clock = options.clock ?? systemClock;
    this.#logger = (options.logger ?? silentLogger).child({ component: 'state.snapshots' });
  }

  /**
   * The live snapshots of `ids` (absent ids have none, or only an expired one).
   *
   * @throws {InvalidInputError} for a malformed kind or id; {@link StateError} when DynamoDB fails or an item
   *   is malformed.
   */
  async getMany(kind: string, ids: readonly string[]): Promise<Map<string, Snapshot>> {
    checkKind(kind);
    for (const id of ids) checkId(id);
    const unique = [...new Set(ids)];
    const found = new Map<string, Snapshot>();
    if (unique.length === 0) return found;
    const items = await this.#table.batchGet(unique.map((id) => ({ pk: itemKey(kind, id) })));
    const nowSec = Math.floor(this.#clock() / 1000);
    for (const raw of items) {
      const parsed = itemSchema.safeParse(raw);
      if (!parsed.success) throw corruptItemError(this.#table.name, String(raw.pk), parsed.error.message);
      const item = parsed.data;
      if (item.purgeAtSec <= nowSec) continue;
      let payload: unknown;
      if (item.payload !== undefined) {
        try {
          payload = JSON.parse(item.payload);
        } catch (error) {
          throw corruptItemError(this.#table.name, item.pk, `payload is not JSON: ${String(error)}`);
        }
      }
      found.set(item.id, { kind, id: item.id, fetchedAtMs: item.fetchedAtMs, found: item.found, payload });
    }
    return found;
  }

  /**
   * Take the read lease of `kind` for `leaseMs` unless another owner holds a live one: at most one
   * coalescing read of a kind in flight across every copy, so that the events arriving meanwhile go into
   * the next read instead of into many small ones. Returns whether `owner` holds it now.
   *
   * @throws {InvalidInputError} for a malformed kind or lease; {@link StateError} when DynamoDB fails.
   */
  async tryReadLease(kind: string, owner: string, leaseMs: number): Promise<boolean> {
    checkKind(kind);
    if (!Number.isFinite(leaseMs) || leaseMs < 1 || owner.length === 0) {
      throw new InvalidInputError('读租约参数无效 / Invalid read lease', 'STATE_BAD_OPTION');
    }
    const now = this.#clock();
    return await this.#table.put(
      {
        pk: leaseKey(kind),
        kind: 'read-lease',
        owner,
        untilMs: now + leaseMs,
        [PURGE_AT_ATTRIBUTE]: Math.ceil((now + leaseMs) / 1000) + 60,
      },
      {
        condition: 'attribute_not_exists(#pk) OR #until < :now OR #owner = :owner',
        names: { '#pk': 'pk', '#until': 'untilMs', '#owner': 'owner' },
        values: { ':now': now, ':owner': owner },
      },
    );
  }

  /**
   * Give the read lease of `kind` back (only `owner`'s; a lease that expired and was taken over stays).
   *
   * @throws {StateError} when DynamoDB fails (the lease then simply expires).
   */
  async releaseReadLease(kind: string, owner: string): Promise<void> {
    checkKind(kind);
    await this.#table.delete(
      { pk: leaseKey(kind) },
      { condition: '#owner = :owner', names: { '#owner': 'owner' }, values: { ':owner': owner } },
    );
  }

  /**
   * Store a snapshot unless a newer one (larger `fetchedAtMs`) is already stored. Returns false when the
   * stored one is newer or as new.
   *
   * @throws {InvalidInputError} for a malformed kind, id or time; {@link StateError} when DynamoDB fails
   *   (including an item over DynamoDB's 400 KB limit — callers treat snapshots as best effort).
   */
  async put(kind: string, snapshot: SnapshotInput): Promise<boolean> {
    checkKind(kind);
    checkId(snapshot.id);
    if (!Number.isFinite(snapshot.fetchedAtMs)) {
      throw new InvalidInputError(
        'fetchedAtMs 必须为数字 / fetchedAtMs must be a number',
        'STATE_BAD_OPTION',
      );
    }
    const now = this.#clock();
    return await this.#table.put(this.#item(kind, snapshot, Math.ceil((now + this.#ttlMs) / 1000)), {
      condition: 'attribute_not_exists(#pk) OR #fetched < :fetched OR #purge <= :nowSec',
      names: { '#pk': 'pk', '#fetched': 'fetchedAtMs', '#purge': PURGE_AT_ATTRIBUTE },
      values: { ':fetched': snapshot.fetchedAtMs, ':nowSec': Math.floor(now / 1000) },
    });
  }

  /**
   * Store the snapshots of one read (unconditionally, with BatchWriteItem: 25 per request, in parallel).
   * A failure is logged and swallowed — a missing snapshot only costs a later reader one more call; the
   * number of snapshots written is returned (0 after a failure).
   *
   * @throws {InvalidInputError} for a malformed kind, id or time.
   */
  async putMany(kind: string, snapshots: readonly SnapshotInput[]): Promise<number> {
    checkKind(kind);
    const purgeAtSec = Math.ceil((this.#clock() + this.#ttlMs) / 1000);
    const items = snapshots.map((snapshot) => {
      checkId(snapshot.id);
      if (!Number.isFinite(snapshot.fetchedAtMs)) {
        throw new InvalidInputError(
          'fetchedAtMs 必须为数字 / fetchedAtMs must be a number',
          'STATE_BAD_OPTION',
        );
      }
      return this.#item(kind, snapshot, purgeAtSec);
    });
    // Within one request DynamoDB refuses two items with the same key: keep the last of each id.
    const unique = [...new Map(items.map((item) => [item.pk, item])).values()];
    try {
      await this.#table.batchPut(unique);
      return unique.length;
    } catch (error) {
      this.#logger.warn('state.snapshot.put-failed', { kind, count: unique.length, error });
      return 0;
    }
  }

  #item(kind: string, snapshot: SnapshotInput, purgeAtSec: number): Record<string, unknown> & { pk: string } {
    return {
      pk: itemKey(kind, snapshot.id),
      kind,
      id: snapshot.id,
      fetchedAtMs: snapshot.fetchedAtMs,
      found: snapshot.found,
      ...(snapshot.found && snapshot.payload !== undefined
        ? { payload: JSON.stringify(snapshot.payload) }
        : {}),
      [PURGE_AT_ATTRIBUTE]: purgeAtSec,
    };
  }
}

function itemKey(kind: string, id: string): string {
  return `snapshot#${kind}#${id}`;
}

function leaseKey(kind: string): string {
  return `read-lease#${kind}`;
}

function checkKind(kind: string): void {
  if (!KIND_PATTERN.test(kind)) {
    throw new InvalidInputError(
      `快照类型无效："${kind}" / Invalid snapshot kind "${kind}" (letters, digits, _ . - only)`,
      'STATE_BAD_OPTION',
    );
  }
}

function checkId(id: string): void {
  if (id.length === 0 || id.length > MAX_ID_LENGTH) {
    throw new InvalidInputError(
      `快照 id 必须为 1–${MAX_ID_LENGTH} 个字符 / Snapshot id must be 1–${MAX_ID_LENGTH} characters`,
      'STATE_BAD_OPTION',
    );
  }
}
