/**
 * Short-lived snapshots of remote records, shared by every worker: what the coalescing re-read
 * (`lib/sync/reader.ts`) fetched from Fxiaoke, so that the workers of the other events it covered use the
 * copy instead of calling Fxiaoke again.
 *
 * A snapshot is only as good as its `fetchedAtMs`: a worker uses one only when it was fetched after the
 * worker's event was received (so it contains at least the change the event announced). Snapshots never go
 * backwards: a write carrying an older `fetchedAtMs` than the stored one is refused, so a slow reader cannot
 * overwrite a newer copy with an older one.
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
/** Parallel PutItems when many snapshots are written at once (keeps a Lambda's sockets in check). */
const PUT_CONCURRENCY = 16;

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
    return await this.#table.put(
      {
        pk: itemKey(kind, snapshot.id),
        kind,
        id: snapshot.id,
        fetchedAtMs: snapshot.fetchedAtMs,
        found: snapshot.found,
        ...(snapshot.found && snapshot.payload !== undefined
          ? { payload: JSON.stringify(snapshot.payload) }
          : {}),
        [PURGE_AT_ATTRIBUTE]: Math.ceil((now + this.#ttlMs) / 1000),
      },
      {
        condition: 'attribute_not_exists(#pk) OR #fetched < :fetched OR #purge <= :nowSec',
        names: { '#pk': 'pk', '#fetched': 'fetchedAtMs', '#purge': PURGE_AT_ATTRIBUTE },
        values: { ':fetched': snapshot.fetchedAtMs, ':nowSec': Math.floor(now / 1000) },
      },
    );
  }

  /**
   * Store many snapshots of one kind (in parallel, bounded). Failures of single items are logged and
   * skipped — a missing snapshot only costs a later reader one more call; the count of stored ones is
   * returned.
   *
   * @throws {InvalidInputError} for a malformed kind.
   */
  async putMany(kind: string, snapshots: readonly SnapshotInput[]): Promise<number> {
    checkKind(kind);
    let stored = 0;
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < snapshots.length) {
        const snapshot = snapshots[next];
        next += 1;
        if (snapshot === undefined) continue;
        try {
          if (await this.put(kind, snapshot)) stored += 1;
        } catch (error) {
          this.#logger.warn('state.snapshot.put-failed', { kind, id: snapshot.id, error });
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(PUT_CONCURRENCY, snapshots.length) }, worker));
    return stored;
  }
}

function itemKey(kind: string, id: string): string {
  return `snapshot#${kind}#${id}`;
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
