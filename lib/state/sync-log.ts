/**
 * The sync log: one entry per attempt to sync one record — what was tried, what happened, and, on failure,
 * our explanation next to the ERP/CRM message verbatim. It is what an implementer reads when a customer
 * asks "why is this order not in the ERP?", and what the CLI's replay selects from.
 *
 * Access patterns (table `sync-log`):
 * - by record: partition `pk = <system>#<type>#<id>` of the source record, sort key `sk = <ISO time>#<entryId>`;
 * - by flow and time range: GSI `byFlow` (`flow`, `sk`);
 * - failed attempts by time: sparse GSI `failed` (`failedPk = "failed"`, `sk`) — only failed entries carry
 *   `failedPk`, so the index holds nothing else. Failures are rare and bounded by the vendors' rate limits,
 *   far below one partition's write capacity, so one partition serves "what failed since yesterday?".
 *
 * Entries expire after the retention (TTL `purgeAtSec`); reads skip expired entries not yet deleted.
 */
import { randomUUID } from 'node:crypto';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { z } from 'zod';
import { type Clock, systemClock } from '../credentials.ts';
import { InvalidInputError, SyncError } from '../errors.ts';
import { type Logger, redactString, silentLogger } from '../log.ts';
import { corruptItemError } from './errors.ts';
import { type Item, StateTable } from './table.ts';
import { PURGE_AT_ATTRIBUTE, SYNC_LOG_INDEX } from './tables.ts';

/** Default retention: a quarter, enough to answer questions about last month's orders. */
export const DEFAULT_SYNC_LOG_RETENTION_MS = 90 * 86_400_000;

export type SyncOutcome = 'succeeded' | 'failed' | 'skipped';

const FAILED_PARTITION = 'failed';
const MAX_REMOTE_MESSAGES = 20;
const DEFAULT_PAGE_SIZE = 50;
const MAX_PAGE_SIZE = 500;

const typePattern = /^[A-Za-z0-9_.-]{1,128}$/;

const recordRefSchema = z.object({
  system: z.enum(['crm', 'erp']),
  /** CRM apiName or ERP formId. */
  type: z.string().regex(typePattern, 'must be an apiName/formId (letters, digits, _ . -)'),
  id: z.string().min(1).max(256),
});

export type RecordRef = z.output<typeof recordRefSchema>;

const entryInputSchema = z.object({
  /** Flow name, e.g. `account-to-customer`. */
  flow: z.string().regex(typePattern, 'must be a flow name (letters, digits, _ . -)'),
  /** The record the attempt was about (what the event or the poll named). */
  source: recordRefSchema,
  /** The record(s) written or meant to be written, as far as known. */
  target: z
    .object({
      system: z.enum(['crm', 'erp']),
      type: z.string().regex(typePattern),
      ids: z.array(z.string().max(256)).max(100).optional(),
      number: z.string().max(256).optional(),
    })
    .optional(),
  sourceVersion: z.number().optional(),
  messageId: z.string().max(512).optional(),
  correlationId: z.string().min(1).max(256),
  attempt: z.number().int().min(1),
  outcome: z.enum(['succeeded', 'failed', 'skipped']),
  /** Why it was skipped (`stale`, `duplicate`, `unchanged`, …) or a short note. */
  reason: z.string().max(256).optional(),
  durationMs: z.number().nonnegative(),
  /** When the attempt started (epoch ms). Default: now. */
  atMs: z.number().optional(),
  /** The remote operations performed, e.g. `["Save","Submit","Audit"]`. */
  operations: z.array(z.string().max(64)).max(20).optional(),
});

export type SyncLogEntryInput = z.input<typeof entryInputSchema> & {
  /** The failure, for `failed` (a SyncError keeps kind/fault/code and the remote messages verbatim). */
  error?: unknown;
};

const storedErrorSchema = z.object({
  name: z.string(),
  kind: z.string(),
  fault: z.string(),
  code: z.string(),
  message: z.string(),
  remoteMessages: z.array(z.string()),
});

export type SyncLogError = z.output<typeof storedErrorSchema>;

const entrySchema = entryInputSchema.extend({
  entryId: z.string(),
  atMs: z.number(),
  error: storedErrorSchema.optional(),
  purgeAtSec: z.number(),
});

export type SyncLogEntry = z.output<typeof entrySchema>;

export interface SyncLogPage {
  entries: SyncLogEntry[];
  /** Pass back as `cursor` for the next page; undefined on the last page. */
  cursor: string | undefined;
}

export interface PageOptions {
  limit?: number;
  cursor?: string;
  /** Newest first (default true). */
  newestFirst?: boolean;
}

export interface RangeOptions extends PageOptions {
  fromMs: number;
  toMs: number;
}

export interface SyncLogOptions {
  client: DynamoDBClient;
  /** The sync-log table (`STATE_TABLE_SYNC_LOG`). */
  tableName: string;
  /** How long entries are kept. Default {@link DEFAULT_SYNC_LOG_RETENTION_MS}. */
  retentionMs?: number;
  clock?: Clock;
  logger?: Logger;
}

/** The per-attempt sync log. The constructor throws InvalidInputError for a retention under 1 s. */
export class SyncLog {
  readonly #table: StateTable;
  readonly #retentionMs: number;
  readonly #clock: Clock;
  readonly #logger: Logger;

  constructor(options: SyncLogOptions) {
    this.#table = new StateTable(options.client, options.tableName);
    this.#retentionMs = options.retentionMs ?? DEFAULT_SYNC_LOG_RETENTION_MS;
    if (!Number.isFinite(this.#retentionMs) || this.#retentionMs < 1_000) {
      throw new InvalidInputError(
        '同步日志保留时间至少 1 秒 / Sync log retention must be at least 1 s',
        'STATE_BAD_OPTION',
      );
    }
    this.#clock = options.clock ?? systemClock;
    this.#logger = (options.logger ?? silentLogger).child({ component: 'state.sync-log' });
  }

  /**
   * Append one attempt.
   *
   * @throws {InvalidInputError} for an entry missing flow/source/correlationId/attempt/outcome;
   *   {@link StateError} when DynamoDB fails.
   */
  async append(input: SyncLogEntryInput): Promise<SyncLogEntry> {
    const [entry, item] = this.#prepare(input);
    await this.#table.put(item);
    this.#noteFailure(entry);
    return entry;
  }

  /**
   * Append several attempts at once (one SQS batch's results): unconditional puts of unique keys, so they
   * go out as BatchWriteItem requests of 25 instead of one PutItem each. Every entry is validated before
   * anything is written.
   *
   * @throws {InvalidInputError} for any invalid entry (nothing written); {@link StateError} when DynamoDB
   *   fails (entries of other requests of the call may have been written).
   */
  async appendMany(inputs: readonly SyncLogEntryInput[]): Promise<SyncLogEntry[]> {
    const prepared = inputs.map((input) => this.#prepare(input));
    if (prepared.length === 1 && prepared[0]) await this.#table.put(prepared[0][1]);
    else if (prepared.length > 1) await this.#table.batchPut(prepared.map(([, item]) => item));
    for (const [entry] of prepared) this.#noteFailure(entry);
    return prepared.map(([entry]) => entry);
  }

  /** @throws {InvalidInputError} for an entry missing flow/source/correlationId/attempt/outcome. */
  #prepare(input: SyncLogEntryInput): [SyncLogEntry, Item] {
    const { error, ...rest } = input;
    const parsed = entryInputSchema.safeParse(rest);
    if (!parsed.success) {
      throw new InvalidInputError(
        `同步日志条目无效 / Invalid sync log entry: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
        'SYNC_LOG_BAD_ENTRY',
      );
    }
    const now = this.#clock();
    const atMs = parsed.data.atMs ?? now;
    const entry: SyncLogEntry = {
      ...parsed.data,
      entryId: randomUUID(),
      atMs,
      ...(error === undefined ? {} : { error: describeError(error) }),
      // Retention counts from the write, so a late write of an old attempt is still kept for the full period.
      purgeAtSec: Math.ceil((now + this.#retentionMs) / 1000),
    };
    const item: Item = {
      ...entry,
      pk: recordPartition(entry.source),
      sk: sortKey(atMs, entry.entryId),
      ...(entry.outcome === 'failed' ? { failedPk: FAILED_PARTITION } : {}),
    };
    return [entry, item];
  }

  #noteFailure(entry: SyncLogEntry): void {
    if (entry.outcome === 'failed') {
      this.#logger.info('state.sync-log.failed-attempt', {
        flow: entry.flow,
        source: entry.source,
        code: entry.error?.code,
        correlationId: entry.correlationId,
      });
    }
  }

  /**
   * Attempts for one source record.
   *
   * @throws {InvalidInputError} for a malformed record reference or cursor; {@link StateError} when
   *   DynamoDB fails.
   */
  async listByRecord(record: RecordRef, options: PageOptions = {}): Promise<SyncLogPage> {
    const ref = parseRef(record);
    return await this.#page(
      { keyCondition: '#pk = :pk', names: { '#pk': 'pk' }, values: { ':pk': recordPartition(ref) } },
      options,
    );
  }

  /**
   * The most recent attempt for a source record, or undefined.
   *
   * @throws {InvalidInputError} for a malformed record reference; {@link StateError} when DynamoDB fails.
   */
  async latestForRecord(record: RecordRef): Promise<SyncLogEntry | undefined> {
    // Expired entries are filtered after the Limit is applied, so read a few in case the newest expired.
    const page = await this.listByRecord(record, { limit: 5, newestFirst: true });
    return page.entries[0];
  }

  /**
   * Attempts of one flow in `[fromMs, toMs]`.
   *
   * @throws {InvalidInputError} for a malformed flow, range or cursor; {@link StateError} when DynamoDB fails.
   */
  async listByFlow(flow: string, options: RangeOptions): Promise<SyncLogPage> {
    if (!typePattern.test(flow))
      throw new InvalidInputError(`流程名无效 / Invalid flow name "${flow}"`, 'SYNC_LOG_BAD_QUERY');
    const range = timeRange(options);
    return await this.#page(
      {
        index: SYNC_LOG_INDEX.byFlow,
        keyCondition: '#flow = :flow AND #sk BETWEEN :from AND :to',
        names: { '#flow': 'flow', '#sk': 'sk' },
        values: { ':flow': flow, ...range },
      },
      options,
    );
  }

  /**
   * Failed attempts in `[fromMs, toMs]`, optionally of one flow. With `onlyUnresolved`, entries whose
   * record has a later succeeded/skipped attempt are dropped (what a replay should pick up).
   *
   * @throws {InvalidInputError} for a malformed flow, range or cursor; {@link StateError} when DynamoDB fails.
   */
  async listFailed(
    options: RangeOptions & { flow?: string; onlyUnresolved?: boolean },
  ): Promise<SyncLogPage> {
    const range = timeRange(options);
    const names: Record<string, string> = { '#failed': 'failedPk', '#sk': 'sk' };
    const values: Record<string, unknown> = { ':failed': FAILED_PARTITION, ...range };
    let filter: string | undefined;
    if (options.flow !== undefined) {
      if (!typePattern.test(options.flow)) {
        throw new InvalidInputError(`流程名无效 / Invalid flow name "${options.flow}"`, 'SYNC_LOG_BAD_QUERY');
      }
      filter = '#flow = :flow';
      names['#flow'] = 'flow';
      values[':flow'] = options.flow;
    }
    const page = await this.#page(
      {
        index: SYNC_LOG_INDEX.failed,
        keyCondition: '#failed = :failed AND #sk BETWEEN :from AND :to',
        ...(filter ? { filter } : {}),
        names,
        values,
      },
      options,
    );
    if (!options.onlyUnresolved) return page;
    const unresolved: SyncLogEntry[] = [];
    const latest = new Map<string, SyncLogEntry | undefined>();
    for (const entry of page.entries) {
      const key = recordPartition(entry.source);
      if (!latest.has(key)) latest.set(key, await this.latestForRecord(entry.source));
      const newest = latest.get(key);
      if (newest === undefined || newest.outcome === 'failed' || newest.atMs <= entry.atMs)
        unresolved.push(entry);
    }
    return { entries: unresolved, cursor: page.cursor };
  }

  async #page(
    query: {
      index?: string;
      keyCondition: string;
      filter?: string;
      names: Record<string, string>;
      values: Record<string, unknown>;
    },
    options: PageOptions,
  ): Promise<SyncLogPage> {
    const limit = options.limit ?? DEFAULT_PAGE_SIZE;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE_SIZE) {
      throw new InvalidInputError(
        `limit 必须在 1–${MAX_PAGE_SIZE} 之间 / limit must be 1–${MAX_PAGE_SIZE}`,
        'SYNC_LOG_BAD_QUERY',
      );
    }
    const notExpired = '#purge > :nowSec';
    const page = await this.#table.query({
      ...(query.index ? { index: query.index } : {}),
      keyCondition: query.keyCondition,
      filter: query.filter ? `(${query.filter}) AND ${notExpired}` : notExpired,
      names: { ...query.names, '#purge': PURGE_AT_ATTRIBUTE },
      values: { ...query.values, ':nowSec': Math.floor(this.#clock() / 1000) },
      limit,
      forward: !(options.newestFirst ?? true),
      ...(options.cursor ? { startKey: decodeCursor(options.cursor) } : {}),
    });
    return {
      entries: page.items.map((item) => this.#parse(item)),
      cursor: page.lastKey ? encodeCursor(page.lastKey) : undefined,
    };
  }

  #parse(raw: Item): SyncLogEntry {
    const parsed = entrySchema.safeParse(raw);
    if (!parsed.success) {
      throw corruptItemError(this.#table.name, `${String(raw.pk)}/${String(raw.sk)}`, parsed.error.message);
    }
    return parsed.data;
  }
}

/** The partition of a source record: `crm#AccountObj#<_id>`, `erp#SAL_DELIVERYNOTICE#100234`. */
export function recordPartition(ref: RecordRef): string {
  return `${ref.system}#${ref.type}#${ref.id}`;
}

/** ISO-8601 UTC sorts chronologically as text (fixed width until year 9999); the id keeps keys unique. */
function sortKey(atMs: number, entryId: string): string {
  return `${new Date(atMs).toISOString()}#${entryId}`;
}

function timeRange(options: RangeOptions): { ':from': string; ':to': string } {
  const { fromMs, toMs } = options;
  if (!Number.isFinite(fromMs) || !Number.isFinite(toMs) || fromMs > toMs || fromMs < 0) {
    throw new InvalidInputError(
      '时间范围无效（需要 0 ≤ fromMs ≤ toMs）/ Invalid time range (need 0 ≤ fromMs ≤ toMs)',
      'SYNC_LOG_BAD_QUERY',
    );
  }
  // `#` sorts before every id character and `~` after, so the bounds include the whole millisecond.
  return { ':from': `${new Date(fromMs).toISOString()}#`, ':to': `${new Date(toMs).toISOString()}#~` };
}

function parseRef(record: RecordRef): RecordRef {
  const parsed = recordRefSchema.safeParse(record);
  if (!parsed.success) {
    throw new InvalidInputError(
      `记录引用无效 / Invalid record reference: ${parsed.error.message}`,
      'SYNC_LOG_BAD_QUERY',
    );
  }
  return parsed.data;
}

const cursorSchema = z.record(z.string(), z.string());

function encodeCursor(lastKey: Item): string {
  return Buffer.from(JSON.stringify(lastKey), 'utf8').toString('base64url');
}

function decodeCursor(cursor: string): Item {
  try {
    return cursorSchema.parse(JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')));
  } catch (error) {
    throw new InvalidInputError('分页游标无效 / Invalid page cursor', 'SYNC_LOG_BAD_CURSOR', error);
  }
}

/** What the log keeps of a failure: our explanation plus the remote messages verbatim (secrets masked). */
export function describeError(error: unknown): SyncLogError {
  // redactString masks every registered secret and caps the text (2,000 characters, marked when cut).
  const clip = (text: string) => redactString(text);
  if (error instanceof SyncError) {
    return {
      name: error.name,
      kind: error.kind,
      fault: error.fault,
      code: error.code,
      message: clip(error.message),
      remoteMessages: error.remoteMessages.slice(0, MAX_REMOTE_MESSAGES).map(clip),
    };
  }
  return {
    name: error instanceof Error ? error.name : 'Error',
    kind: 'internal',
    fault: 'ours',
    code: 'INTERNAL',
    message: clip(error instanceof Error ? error.message : String(error)),
    remoteMessages: [],
  };
}
