/**
 * The event inbox: every received change event by its `messageId`, so a redelivered push is acknowledged
 * without being processed twice.
 *
 * States: `received` (recorded) → optionally `queued` (the queue accepted it; the webhook skips this write,
 * see lib/sync/webhook.ts) → optionally `processed` / `failed` (the sync log keeps the per-attempt detail).
 *
 * The one subtle case is a crash between "recorded" and "queued": if a redelivery of such an event were
 * simply acknowledged as a duplicate, the change would be lost. So a redelivery of an event still in
 * `received` answers `'unqueued'`, and the webhook queues it (again). Sending the same event twice is
 * harmless: the FIFO queue de-duplicates on `MessageDeduplicationId = messageId` for 5 minutes, and the
 * pipeline re-reads the record and skips versions it has already synced.
 *
 * Items expire after the retention (TTL attribute `purgeAtSec`); since DynamoDB deletes expired items
 * lazily (up to days later, never on dynalite), every read and every condition treats an expired item as
 * absent.
 *
 * Pending reads: change events are thin, so every event costs a re-read of its record from Fxiaoke, whose
 * rate limit (100 calls / 20 s per interface) a burst of imports would exhaust one `get` at a time. A new
 * event is therefore also listed as a *pending read* of its apiName (sparse GSI `pendingReads`, keyed by
 * `pendingReadApiName` + `receivedAtMs`), so that a worker that has to call Fxiaoke anyway can take up to 100
 * ids of other not-yet-read events of the same apiName into the same `getMany` call
 * ({@link EventInbox.listPendingReads}, {@link EventInbox.claimPendingRead}). The entry leaves the index
 * when its read is claimed or the event is done.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { z } from 'zod';
import { type Clock, systemClock } from '../credentials.ts';
import { InvalidInputError } from '../errors.ts';
import { type Logger, silentLogger } from '../log.ts';
import { corruptItemError, StateError } from './errors.ts';
import { StateTable } from './table.ts';
import { INBOX_INDEX, PURGE_AT_ATTRIBUTE } from './tables.ts';

/**
 * Default retention: far longer than the 15-minute replay window of change pushes (`FXIAOKE_PUSH_MAX_AGE_MS`),
 * so every redelivery Fxiaoke may still send is recognised, and long enough to investigate a week-old event.
 */
export const DEFAULT_INBOX_RETENTION_MS = 7 * 86_400_000;

/** DynamoDB allows 2048 bytes for a partition key; Fxiaoke's message ids are 33 hex characters. */
const MAX_MESSAGE_ID_LENGTH = 512;

export const inboxEventSchema = z.object({
  messageId: z.string().min(1).max(MAX_MESSAGE_ID_LENGTH),
  apiName: z.string().min(1).max(256),
  dataId: z.string().min(1).max(256),
  eventType: z.string().max(64),
  tenantId: z.string().max(64).optional(),
  changedAtMs: z.number().optional(),
  retryTimes: z.number().int().nonnegative().optional(),
  via: z.string().max(32).optional(),
});

/** What the inbox keeps of a change event (a `CrmChangeEvent` from `lib/fxiaoke/push-crypto.ts` fits). */
export type InboxEvent = z.input<typeof inboxEventSchema>;

export type InboxState = 'received' | 'queued' | 'processed' | 'failed';

/**
 * - `new`: first delivery — queue it, then {@link EventInbox.markQueued};
 * - `duplicate`: already queued (or done) — acknowledge, do nothing;
 * - `unqueued`: seen before but never confirmed queued (the earlier delivery failed or is still under way)
 *   — queue it (again), then mark it queued.
 */
export type InboxReceipt = 'new' | 'duplicate' | 'unqueued';

/** The attribute that lists an event in the `pendingReads` index (removed once its record was read). */
const PENDING_READ_ATTRIBUTE = 'pendingReadApiName';

/** One event still waiting for its record to be re-read (from the `pendingReads` index). */
export interface PendingRead {
  messageId: string;
  dataId: string;
  receivedAtMs: number;
}

const pendingReadSchema = z.object({
  messageId: z.string(),
  dataId: z.string(),
  receivedAtMs: z.number(),
  purgeAtSec: z.number(),
});

/** GSI queries return at most this many entries per call (a getMany takes 100 ids). */
const MAX_PENDING_READS = 500;

const entrySchema = z.object({
  messageId: z.string(),
  apiName: z.string(),
  dataId: z.string(),
  eventType: z.string(),
  tenantId: z.string().optional(),
  changedAtMs: z.number().optional(),
  retryTimes: z.number().optional(),
  via: z.string().optional(),
  state: z.enum(['received', 'queued', 'processed', 'failed']),
  receivedAtMs: z.number(),
  lastDeliveryAtMs: z.number(),
  deliveries: z.number().int(),
  queuedAtMs: z.number().optional(),
  queueMessageId: z.string().optional(),
  doneAtMs: z.number().optional(),
  detail: z.string().optional(),
  pendingReadApiName: z.string().optional(),
  readClaimedAtMs: z.number().optional(),
  purgeAtSec: z.number(),
});

export type InboxEntry = z.output<typeof entrySchema>;

export interface EventInboxOptions {
  client: DynamoDBClient;
  /** The inbox table (`STATE_TABLE_INBOX`). */
  tableName: string;
  /** How long an event is remembered. Default {@link DEFAULT_INBOX_RETENTION_MS}. */
  retentionMs?: number;
  clock?: Clock;
  logger?: Logger;
}

const MAX_DETAIL_LENGTH = 2_000;
/** A record→expire→re-record race can repeat only if the item keeps expiring under us; two rounds suffice. */
const RECORD_ATTEMPTS = 3;

/** The event inbox (see the module comment). The constructor throws InvalidInputError for a retention under 1 s. */
export class EventInbox {
  readonly #table: StateTable;
  readonly #retentionMs: number;
  readonly #clock: Clock;
  readonly #logger: Logger;

  constructor(options: EventInboxOptions) {
    this.#table = new StateTable(options.client, options.tableName);
    this.#retentionMs = options.retentionMs ?? DEFAULT_INBOX_RETENTION_MS;
    if (!Number.isFinite(this.#retentionMs) || this.#retentionMs < 1_000) {
      throw new InvalidInputError(
        '收件箱保留时间至少 1 秒 / Inbox retention must be at least 1 s',
        'STATE_BAD_OPTION',
      );
    }
    this.#clock = options.clock ?? systemClock;
    this.#logger = (options.logger ?? silentLogger).child({ component: 'state.inbox' });
  }

  /**
   * Record a received event unless it is already known (conditional put on `messageId`).
   *
   * @throws {InvalidInputError} for an event without a usable messageId/apiName/dataId;
   *   {@link StateError} when DynamoDB fails.
   */
  async recordIfNew(event: InboxEvent): Promise<InboxReceipt> {
    const parsed = inboxEventSchema.safeParse(event);
    if (!parsed.success) {
      throw new InvalidInputError(
        `变更事件无效 / Invalid change event: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
        'INBOX_BAD_EVENT',
      );
    }
    const ev = parsed.data;
    for (let attempt = 0; attempt < RECORD_ATTEMPTS; attempt += 1) {
      const now = this.#clock();
      const nowSec = Math.floor(now / 1000);
      const created = await this.#table.put(
        {
          ...ev,
          state: 'received',
          receivedAtMs: now,
          lastDeliveryAtMs: now,
          deliveries: 1,
          [PENDING_READ_ATTRIBUTE]: ev.apiName,
          [PURGE_AT_ATTRIBUTE]: Math.ceil((now + this.#retentionMs) / 1000),
        },
        {
          // An expired item that TTL has not removed yet counts as absent.
          condition: 'attribute_not_exists(#id) OR #purge <= :nowSec',
          names: { '#id': 'messageId', '#purge': PURGE_AT_ATTRIBUTE },
          values: { ':nowSec': nowSec },
        },
      );
      if (created) return 'new';
      const seen = await this.#table.update({
        key: { messageId: ev.messageId },
        update: 'SET #last = :now ADD #deliveries :one',
        condition: 'attribute_exists(#id) AND #purge > :nowSec',
        names: {
          '#id': 'messageId',
          '#purge': PURGE_AT_ATTRIBUTE,
          '#last': 'lastDeliveryAtMs',
          '#deliveries': 'deliveries',
        },
        values: { ':now': now, ':nowSec': nowSec, ':one': 1 },
        returnValues: 'ALL_NEW',
      });
      if (seen.ok) {
        const state = seen.attributes?.state;
        const receipt: InboxReceipt = state === 'received' ? 'unqueued' : 'duplicate';
        this.#logger.info('state.inbox.redelivered', { messageId: ev.messageId, receipt });
        return receipt;
      }
      // The item expired between our two writes: record it afresh.
    }
    throw new StateError(
      `无法记录事件 ${ev.messageId} / Could not record event ${ev.messageId} (it kept expiring while being written)`,
      { kind: 'transient', fault: 'ours', code: 'STATE_INTERNAL' },
    );
  }

  /**
   * Note that the queue accepted the event. Returns false when the event is unknown (expired) or already
   * past `queued`, in which case nothing changes.
   *
   * @throws {InvalidInputError} for an empty or oversized messageId; {@link StateError} when DynamoDB fails.
   */
  async markQueued(messageId: string, options: { queueMessageId?: string } = {}): Promise<boolean> {
    checkMessageId(messageId);
    const now = this.#clock();
    const result = await this.#table.update({
      key: { messageId },
      update:
        options.queueMessageId === undefined
          ? 'SET #state = :queued, #queuedAt = :now'
          : 'SET #state = :queued, #queuedAt = :now, #queueMessageId = :qid',
      condition: 'attribute_exists(#id) AND #purge > :nowSec AND #state IN (:received, :queued)',
      names: {
        '#id': 'messageId',
        '#state': 'state',
        '#queuedAt': 'queuedAtMs',
        '#purge': PURGE_AT_ATTRIBUTE,
        ...(options.queueMessageId === undefined ? {} : { '#queueMessageId': 'queueMessageId' }),
      },
      values: {
        ':queued': 'queued',
        ':received': 'received',
        ':now': now,
        ':nowSec': Math.floor(now / 1000),
        ...(options.queueMessageId === undefined ? {} : { ':qid': options.queueMessageId }),
      },
    });
    return result.ok;
  }

  /**
   * Record the final state of an event (optional; the sync log has the per-attempt detail). Returns false
   * when the event is unknown or expired.
   *
   * @throws {InvalidInputError} for an empty or oversized messageId; {@link StateError} when DynamoDB fails.
   */
  async markDone(messageId: string, state: 'processed' | 'failed', detail?: string): Promise<boolean> {
    checkMessageId(messageId);
    const now = this.#clock();
    const result = await this.#table.update({
      key: { messageId },
      update:
        detail === undefined
          ? 'SET #state = :state, #doneAt = :now REMOVE #pending'
          : 'SET #state = :state, #doneAt = :now, #detail = :detail REMOVE #pending',
      condition: 'attribute_exists(#id) AND #purge > :nowSec',
      names: {
        '#id': 'messageId',
        '#state': 'state',
        '#doneAt': 'doneAtMs',
        '#purge': PURGE_AT_ATTRIBUTE,
        '#pending': PENDING_READ_ATTRIBUTE,
        ...(detail === undefined ? {} : { '#detail': 'detail' }),
      },
      values: {
        ':state': state,
        ':now': now,
        ':nowSec': Math.floor(now / 1000),
        ...(detail === undefined ? {} : { ':detail': detail.slice(0, MAX_DETAIL_LENGTH) }),
      },
    });
    return result.ok;
  }

  /**
   * Events of `apiName` whose record nobody has re-read yet, oldest first (GSI `pendingReads`: eventually
   * consistent — a hint for coalescing reads, never a decision). Events received before `sinceMs` are left
   * out, so entries stranded by a crash cannot crowd out live ones; expired entries too.
   *
   * @throws {InvalidInputError} for an empty apiName or a bad limit; {@link StateError} when DynamoDB fails.
   */
  async listPendingReads(
    apiName: string,
    options: { limit: number; sinceMs?: number },
  ): Promise<PendingRead[]> {
    if (apiName.length === 0 || apiName.length > 256) {
      throw new InvalidInputError(
        'apiName 必须为 1–256 个字符 / apiName must be 1–256 characters',
        'INBOX_BAD_EVENT',
      );
    }
    if (!Number.isInteger(options.limit) || options.limit < 1 || options.limit > MAX_PENDING_READS) {
      throw new InvalidInputError(
        `limit 必须为 1–${MAX_PENDING_READS} / limit must be 1–${MAX_PENDING_READS}`,
        'INBOX_BAD_QUERY',
      );
    }
    const nowSec = Math.floor(this.#clock() / 1000);
    const page = await this.#table.query({
      index: INBOX_INDEX.pendingReads,
      keyCondition: '#pending = :apiName AND #received >= :since',
      filter: '#purge > :nowSec',
      names: {
        '#pending': PENDING_READ_ATTRIBUTE,
        '#received': 'receivedAtMs',
        '#purge': PURGE_AT_ATTRIBUTE,
      },
      values: { ':apiName': apiName, ':since': options.sinceMs ?? 0, ':nowSec': nowSec },
      limit: options.limit,
      forward: true,
    });
    const reads: PendingRead[] = [];
    for (const item of page.items) {
      const parsed = pendingReadSchema.safeParse(item);
      if (!parsed.success)
        throw corruptItemError(this.#table.name, String(item.messageId), parsed.error.message);
      reads.push({
        messageId: parsed.data.messageId,
        dataId: parsed.data.dataId,
        receivedAtMs: parsed.data.receivedAtMs,
      });
    }
    return reads;
  }

  /**
   * Take an event's pending read (remove it from the `pendingReads` index). Exactly one of any number of
   * concurrent callers gets true, so two workers do not spend Fxiaoke calls on the same event; false when
   * someone else took it, the event is done, or it is unknown.
   *
   * @throws {InvalidInputError} for an empty or oversized messageId; {@link StateError} when DynamoDB fails.
   */
  async claimPendingRead(messageId: string): Promise<boolean> {
    checkMessageId(messageId);
    const now = this.#clock();
    const result = await this.#table.update({
      key: { messageId },
      update: 'SET #claimed = :now REMOVE #pending',
      condition: 'attribute_exists(#pending) AND #purge > :nowSec',
      names: {
        '#claimed': 'readClaimedAtMs',
        '#pending': PENDING_READ_ATTRIBUTE,
        '#purge': PURGE_AT_ATTRIBUTE,
      },
      values: { ':now': now, ':nowSec': Math.floor(now / 1000) },
    });
    return result.ok;
  }

  /**
   * The stored entry, or undefined when unknown or past its retention.
   *
   * @throws {InvalidInputError} for an empty or oversized messageId; {@link StateError} when DynamoDB fails
   *   or the item is malformed.
   */
  async get(messageId: string): Promise<InboxEntry | undefined> {
    checkMessageId(messageId);
    const raw = await this.#table.get({ messageId }, true);
    if (raw === undefined) return undefined;
    const parsed = entrySchema.safeParse(raw);
    if (!parsed.success) throw corruptItemError(this.#table.name, messageId, parsed.error.message);
    if (parsed.data.purgeAtSec <= Math.floor(this.#clock() / 1000)) return undefined;
    return parsed.data;
  }
}

function checkMessageId(messageId: string): void {
  if (messageId.length === 0 || messageId.length > MAX_MESSAGE_ID_LENGTH) {
    throw new InvalidInputError(
      `messageId 必须为 1–${MAX_MESSAGE_ID_LENGTH} 个字符 / messageId must be 1–${MAX_MESSAGE_ID_LENGTH} characters`,
      'INBOX_BAD_EVENT',
    );
  }
}
