/**
 * Watermarks of the scheduled ERP → CRM polls: per flow, the (modify time, id) of the last row handled.
 *
 * Scheduled runs can overlap (a slow run is still paging when EventBridge starts the next one), so the
 * watermark only ever moves forward: `advance` is a conditional update that refuses a watermark that is not
 * greater than the stored one, comparing (modifiedAtMs, id) as a pair. The pair matters because many rows
 * share one modify time (a batch audit touches hundreds of bills in the same second); paging by time alone
 * would skip or repeat them. Runs still query with an overlap (see docs/state.md) and rely on links to
 * skip what they have already synced.
 *
 * K3Cloud's `FModifyDate` is a local-time text without zone (k3cloud-webapi.md); the flow converts it to
 * epoch ms with the ERP server's configured zone before calling `advance`.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { z } from 'zod';
import { type Clock, systemClock } from '../credentials.ts';
import { InvalidInputError } from '../errors.ts';
import { type Logger, silentLogger } from '../log.ts';
import { corruptItemError, StateError } from './errors.ts';
import { type Item, StateTable } from './table.ts';

export interface Watermark {
  /** Modify time of the last handled row (epoch ms). */
  modifiedAtMs: number;
  /** Its id (K3 FID, CRM `_id`): the tie-breaker among rows with the same modify time. */
  id: string;
}

export interface Cursor {
  flow: string;
  watermark: Watermark;
  updatedAtMs: number;
  /** The run that last moved it (diagnostics). */
  runId: string | undefined;
  advances: number;
}

export type AdvanceResult =
  | { status: 'advanced'; cursor: Cursor }
  /** The stored watermark is the same: nothing to do. */
  | { status: 'unchanged'; cursor: Cursor }
  /** The stored watermark is ahead (an overlapping run got further): kept as it is. */
  | { status: 'stale'; cursor: Cursor };

const FLOW_PATTERN = /^[A-Za-z0-9_.-]{1,128}$/;
const MAX_ID_LENGTH = 256;
/** Numeric ids (K3 FID is a 64-bit integer: ≤ 19 digits) are compared as numbers by zero-padding. */
const NUMERIC_ID = /^\d{1,20}$/;
const WRITE_ATTEMPTS = 3;

/**
 * Text that sorts like the id: numeric ids by value (`9` < `10`), others as text, numeric before text.
 * Used inside the conditional update, where DynamoDB can only compare strings or numbers.
 */
export function watermarkIdKey(id: string): string {
  return NUMERIC_ID.test(id) ? `n${id.padStart(20, '0')}` : `s${id}`;
}

/** Negative when `a` comes before `b`, 0 when equal, positive when after. */
export function compareWatermarks(a: Watermark, b: Watermark): number {
  if (a.modifiedAtMs !== b.modifiedAtMs) return a.modifiedAtMs < b.modifiedAtMs ? -1 : 1;
  const ka = watermarkIdKey(a.id);
  const kb = watermarkIdKey(b.id);
  return ka === kb ? 0 : ka < kb ? -1 : 1;
}

const itemSchema = z.object({
  pk: z.string(),
  flow: z.string(),
  modifiedAtMs: z.number(),
  id: z.string(),
  updatedAtMs: z.number(),
  runId: z.string().optional(),
  advances: z.number().int().optional(),
});

export interface CursorStoreOptions {
  client: DynamoDBClient;
  /** The coordination table (`STATE_TABLE_COORDINATION`). */
  tableName: string;
  clock?: Clock;
  logger?: Logger;
}

/** Forward-only watermarks of the scheduled polls (see the module comment). */
export class CursorStore {
  readonly #table: StateTable;
  readonly #clock: Clock;
  readonly #logger: Logger;

  constructor(options: CursorStoreOptions) {
    this.#table = new StateTable(options.client, options.tableName);
    this.#clock = options.clock ?? systemClock;
    this.#logger = (options.logger ?? silentLogger).child({ component: 'state.cursors' });
  }

  /**
   * The flow's cursor (consistent read), or undefined before its first run.
   *
   * @throws {InvalidInputError} for a malformed flow name; {@link StateError} when DynamoDB fails or the
   *   item is malformed.
   */
  async get(flow: string): Promise<Cursor | undefined> {
    checkFlow(flow);
    const raw = await this.#table.get({ pk: itemKey(flow) }, true);
    return raw === undefined ? undefined : this.#toCursor(flow, raw);
  }

  /**
   * Move the watermark forward to `watermark`, unless the stored one is already there or beyond.
   *
   * @throws {InvalidInputError} for a malformed flow or watermark; {@link StateError} when DynamoDB fails.
   */
  async advance(
    flow: string,
    watermark: Watermark,
    options: { runId?: string } = {},
  ): Promise<AdvanceResult> {
    checkFlow(flow);
    checkWatermark(watermark);
    for (let attempt = 0; attempt < WRITE_ATTEMPTS; attempt += 1) {
      const written = await this.#write(flow, watermark, options.runId, true);
      if (written) return { status: 'advanced', cursor: written };
      const cursor = await this.get(flow);
      if (!cursor) continue;
      const order = compareWatermarks(watermark, cursor.watermark);
      if (order === 0) return { status: 'unchanged', cursor };
      if (order < 0) {
        this.#logger.info('state.cursor.stale-advance', {
          flow,
          stored: cursor.watermark,
          incoming: watermark,
        });
        return { status: 'stale', cursor };
      }
      // Stored value moved between the write and the read: try again.
    }
    throw new StateError(`游标 ${flow} 持续冲突 / Cursor ${flow} kept changing; retry later`, {
      kind: 'transient',
      fault: 'theirs',
      code: 'STATE_CONTENTION',
    });
  }

  /**
   * Set the watermark unconditionally (an operator re-running a backfill from an earlier point), or delete
   * the cursor with `undefined` (the next run starts from the flow's configured beginning).
   *
   * @throws {InvalidInputError} for a malformed flow or watermark; {@link StateError} when DynamoDB fails.
   */
  async reset(
    flow: string,
    watermark: Watermark | undefined,
    options: { runId?: string } = {},
  ): Promise<void> {
    checkFlow(flow);
    if (watermark === undefined) {
      await this.#table.delete({ pk: itemKey(flow) });
      return;
    }
    checkWatermark(watermark);
    await this.#write(flow, watermark, options.runId, false);
    this.#logger.warn('state.cursor.reset', { flow, watermark });
  }

  /** The cursor as written, or undefined when the forward-only condition refused the write. */
  async #write(
    flow: string,
    watermark: Watermark,
    runId: string | undefined,
    forwardOnly: boolean,
  ): Promise<Cursor | undefined> {
    const names: Record<string, string> = {
      '#flow': 'flow',
      '#ms': 'modifiedAtMs',
      '#id': 'id',
      '#idKey': 'idKey',
      '#updatedAt': 'updatedAtMs',
      '#advances': 'advances',
      '#kind': 'kind',
    };
    const values: Record<string, unknown> = {
      ':flow': flow,
      ':ms': watermark.modifiedAtMs,
      ':id': watermark.id,
      ':idKey': watermarkIdKey(watermark.id),
      ':now': this.#clock(),
      ':one': 1,
      ':kind': 'cursor',
    };
    let update =
      'SET #flow = :flow, #ms = :ms, #id = :id, #idKey = :idKey, #updatedAt = :now, #kind = :kind ADD #advances :one';
    if (runId !== undefined) {
      update = update.replace(' ADD', ', #runId = :runId ADD');
      names['#runId'] = 'runId';
      values[':runId'] = runId;
    } else {
      update = `${update} REMOVE #runId`;
      names['#runId'] = 'runId';
    }
    const result = await this.#table.update({
      key: { pk: itemKey(flow) },
      update,
      ...(forwardOnly
        ? { condition: 'attribute_not_exists(#ms) OR #ms < :ms OR (#ms = :ms AND #idKey < :idKey)' }
        : {}),
      names,
      values,
      returnValues: 'ALL_NEW',
    });
    return result.ok && result.attributes ? this.#toCursor(flow, result.attributes) : undefined;
  }

  #toCursor(flow: string, raw: Item): Cursor {
    const parsed = itemSchema.safeParse(raw);
    if (!parsed.success) throw corruptItemError(this.#table.name, itemKey(flow), parsed.error.message);
    const item = parsed.data;
    return {
      flow: item.flow,
      watermark: { modifiedAtMs: item.modifiedAtMs, id: item.id },
      updatedAtMs: item.updatedAtMs,
      runId: item.runId,
      advances: item.advances ?? 0,
    };
  }
}

function itemKey(flow: string): string {
  return `cursor#${flow}`;
}

function checkFlow(flow: string): void {
  if (!FLOW_PATTERN.test(flow)) {
    throw new InvalidInputError(
      `流程名无效："${flow}"（只允许字母、数字、_ . -）/ Invalid flow name "${flow}" (letters, digits, _ . - only)`,
      'CURSOR_BAD_FLOW',
    );
  }
}

function checkWatermark(watermark: Watermark): void {
  if (!Number.isFinite(watermark.modifiedAtMs) || watermark.modifiedAtMs < 0) {
    throw new InvalidInputError(
      '水位的 modifiedAtMs 必须为非负数 / Watermark modifiedAtMs must be a non-negative number',
      'CURSOR_BAD_WATERMARK',
    );
  }
  if (watermark.id.length === 0 || watermark.id.length > MAX_ID_LENGTH) {
    throw new InvalidInputError(
      `水位的 id 必须为 1–${MAX_ID_LENGTH} 个字符 / Watermark id must be 1–${MAX_ID_LENGTH} characters`,
      'CURSOR_BAD_WATERMARK',
    );
  }
}
