/**
 * The local SQS engine: queues and messages with the semantics of the cloud configuration, used in process
 * by the event-source runner and over HTTP (the real SQS JSON protocol, `sqs-server.ts`) by the handlers.
 *
 * Semantics kept from Amazon SQS (SQS Developer Guide, "Amazon SQS FIFO queues", "Visibility timeout",
 * "Using dead-letter queues"; SQS API Reference):
 * - FIFO: messages of one message group are delivered in send order, and no message of a group is delivered
 *   while an earlier one of that group is in flight. One receive returns as many messages of the same group
 *   as possible before moving on to other groups (oldest group first).
 * - Deduplication (FIFO): explicit `MessageDeduplicationId` or, with content-based deduplication, the
 *   SHA-256 of the body; a duplicate within 5 minutes of the first send is accepted (same MessageId and
 *   SequenceNumber answered) but not enqueued. Scope per queue or per message group.
 * - Visibility timeout per queue, per receive, and per ChangeMessageVisibility; delay (queue level, and per
 *   message on standard queues); retention (`MessageRetentionPeriod`) counted from the first send.
 * - Redrive: a message already received `maxReceiveCount` times is moved to the dead-letter queue when it
 *   would be received again (ReceiveCount would exceed maxReceiveCount), keeping its MessageId, body,
 *   attributes and SentTimestamp, with the `DeadLetterQueueSourceArn` system attribute.
 * - Receipt handles are per receive: deleting with an outdated handle succeeds without deleting (SQS
 *   DeleteMessage reference: "you must provide the most recently received ReceiptHandle … otherwise, the
 *   request succeeds, but the message will not be deleted").
 *
 * Time comes from an injected {@link RuntimeClock}; persistence from an optional {@link QueueJournal}.
 */
import { randomUUID } from 'node:crypto';
import { type Logger, silentLogger } from '../../../../lib/log.ts';
import { type RuntimeClock, systemClock, type TimerHandle } from '../clock.ts';
import {
  contentDeduplicationId,
  md5Hex,
  md5OfMessageAttributes,
  type WireMessageAttribute,
} from './checksums.ts';
import {
  type DedupeEntry,
  type JournalRecord,
  QueueJournal,
  type QueueSettings,
  type QueueSnapshot,
  type StoredMessage,
} from './queue-journal.ts';
import { SqsApiError } from './sqs-errors.ts';

export type { QueueSettings, StoredMessage } from './queue-journal.ts';

/** SQS defaults (CreateQueue reference). */
export const DEFAULT_QUEUE_SETTINGS: QueueSettings = {
  fifo: false,
  contentBasedDeduplication: false,
  deduplicationScope: 'queue',
  fifoThroughputLimit: 'perQueue',
  visibilityTimeoutSec: 30,
  messageRetentionSec: 345_600,
  delaySec: 0,
  receiveMessageWaitTimeSec: 0,
  maximumMessageSize: 262_144,
};

/** The FIFO deduplication interval (SQS: 5 minutes, fixed). */
export const DEDUPLICATION_WINDOW_MS = 5 * 60_000;
/** SQS limits (API Reference): at most 10 messages per receive/batch, 20 s long poll, 12 h visibility. */
export const MAX_MESSAGES_PER_RECEIVE = 10;
export const MAX_WAIT_TIME_SEC = 20;
export const MAX_VISIBILITY_TIMEOUT_SEC = 43_200;
export const MAX_DELAY_SEC = 900;
/** A second PurgeQueue within 60 s of the last one fails with PurgeQueueInProgress. */
export const PURGE_COOLDOWN_MS = 60_000;
/** Compact the journal once it holds this many lines, or 4 × the live messages if that is more. */
const MIN_JOURNAL_LINES_BEFORE_COMPACTION = 20_000;
/** ReceiveRequestAttemptId is honoured for 5 minutes (ReceiveMessage reference). */
const RECEIVE_ATTEMPT_WINDOW_MS = 5 * 60_000;
/** AWS sequence numbers are 128-bit decimal strings; ours count up from an arbitrary 20-digit base. */
const SEQUENCE_BASE = 18_000_000_000_000_000_000n;
const LOCAL_SENDER_ID = 'AIDALOCALSTACKSENDER0';

export interface SendInput {
  body: string;
  /** Per-message delay (standard queues only). */
  delaySec?: number | undefined;
  messageAttributes?: Readonly<Record<string, WireMessageAttribute>> | undefined;
  /** Only `AWSTraceHeader` exists (SendMessage reference). */
  systemAttributes?: Readonly<Record<string, WireMessageAttribute>> | undefined;
  groupId?: string | undefined;
  dedupId?: string | undefined;
}

export interface SendResult {
  messageId: string;
  md5OfBody: string;
  md5OfMessageAttributes: string | undefined;
  md5OfMessageSystemAttributes: string | undefined;
  sequenceNumber: string | undefined;
  /** True when FIFO deduplication swallowed the message (it was accepted but not enqueued again). */
  deduplicated: boolean;
}

export interface ReceiveOptions {
  /** 1–10. */
  maxMessages: number;
  /** Default: the queue's visibility timeout. */
  visibilityTimeoutSec?: number | undefined;
  /** Long polling: wait this long for a first message. Default 0 (return at once). */
  waitTimeMs?: number | undefined;
  /** FIFO only: a retried receive with the same id answers the same messages while they are in flight. */
  attemptId?: string | undefined;
  /** Ends a long poll early (shutdown). */
  signal?: AbortSignal | undefined;
}

export interface ReceivedMessage {
  queue: string;
  receiptHandle: string;
  /** A copy of the message at receive time. */
  message: Readonly<StoredMessage>;
}

export interface QueueCounts {
  /** ApproximateNumberOfMessages: ready to be received now. */
  visible: number;
  /** ApproximateNumberOfMessagesNotVisible: received, visibility timeout running. */
  inFlight: number;
  /** ApproximateNumberOfMessagesDelayed. */
  delayed: number;
}

export interface QueueInfo {
  name: string;
  arn: string;
  settings: QueueSettings;
  createdAtMs: number;
  lastModifiedAtMs: number;
}

interface QueueState {
  name: string;
  settings: QueueSettings;
  createdAtMs: number;
  lastModifiedAtMs: number;
  sequence: number;
  lastPurgeAtMs: number | undefined;
  /** In send order (Map iteration order is insertion order). */
  messages: Map<string, StoredMessage>;
  /** FIFO: message ids per group, in send order. */
  groups: Map<string, string[]>;
  dedupe: Map<string, DedupeEntry>;
  waiters: Set<() => void>;
  wake: { atMs: number; timer: TimerHandle } | undefined;
  attempts: Map<string, { expiresAtMs: number; handles: { id: string; nonce: string }[] }>;
}

export interface QueueEngineOptions {
  clock?: RuntimeClock;
  /** Persist queues here (created if missing); without it everything lives in memory. */
  dataDir?: string | undefined;
  region?: string;
  accountId?: string;
  logger?: Logger;
}

/** Why a message left its queue without being deleted by a consumer. */
export type MessageDisposal =
  | { kind: 'dead-lettered'; queue: string; deadLetterQueue: string; messageId: string; receiveCount: number }
  | { kind: 'expired'; queue: string; messageId: string };

function isFifoName(name: string): boolean {
  return name.endsWith('.fifo');
}

/** The queue name at the end of an SQS ARN (`arn:aws:sqs:<region>:<account>:<name>`). */
export function queueNameFromArn(arn: string): string | undefined {
  const parts = arn.split(':');
  return parts.length === 6 && parts[0] === 'arn' && parts[2] === 'sqs' ? parts[5] : undefined;
}

function encodeReceiptHandle(queue: string, messageId: string, nonce: string): string {
  return Buffer.from(`${queue}\n${messageId}\n${nonce}`, 'utf8').toString('base64url');
}

function decodeReceiptHandle(
  handle: string,
): { queue: string; messageId: string; nonce: string } | undefined {
  if (!/^[A-Za-z0-9_-]{8,1024}$/.test(handle)) return undefined;
  const parts = Buffer.from(handle, 'base64url').toString('utf8').split('\n');
  if (parts.length !== 3 || parts.some((part) => part === '')) return undefined;
  const [queue, messageId, nonce] = parts;
  return queue && messageId && nonce ? { queue, messageId, nonce } : undefined;
}

/**
 * In-process SQS. All state changes are synchronous (journaled before they become visible), so there is no
 * interleaving inside one operation; only long polls wait.
 */
export class QueueEngine {
  readonly region: string;
  readonly accountId: string;
  readonly #clock: RuntimeClock;
  readonly #logger: Logger;
  readonly #queues = new Map<string, QueueState>();
  readonly #journal: QueueJournal | undefined;
  readonly #disposalListeners = new Set<(event: MessageDisposal) => void>();
  #endpoint = 'http://127.0.0.1';
  #closed = false;

  constructor(options: QueueEngineOptions = {}) {
    this.#clock = options.clock ?? systemClock;
    this.#logger = options.logger ?? silentLogger;
    this.region = options.region ?? 'us-east-1';
    this.accountId = options.accountId ?? '000000000000';
    if (options.dataDir !== undefined) {
      this.#journal = new QueueJournal(options.dataDir, this.#logger);
      const loaded = this.#journal.load();
      for (const snapshot of loaded.snapshot) this.#restore(snapshot);
      for (const record of loaded.records) this.#apply(record);
      this.#journal.compact(this.#snapshots());
      const restored = [...this.#queues.values()].map((q) => ({ queue: q.name, messages: q.messages.size }));
      if (restored.length > 0) this.#logger.info('local.sqs.restored', { queues: restored });
    }
  }

  /** Set the origin queue URLs are built on (the HTTP server calls this once it listens). */
  setEndpoint(origin: string): void {
    this.#endpoint = origin.replace(/\/+$/, '');
  }

  get endpoint(): string {
    return this.#endpoint;
  }

  queueUrl(name: string): string {
    return `${this.#endpoint}/${this.accountId}/${name}`;
  }

  queueArn(name: string): string {
    return `arn:aws:sqs:${this.region}:${this.accountId}:${name}`;
  }

  /** Called when a message is moved to a dead-letter queue or dropped at the end of its retention. */
  onDisposal(listener: (event: MessageDisposal) => void): () => void {
    this.#disposalListeners.add(listener);
    return () => this.#disposalListeners.delete(listener);
  }

  /**
   * The queue named by a queue URL (any origin; the last path segment is the name, as in
   * `https://sqs.<region>.amazonaws.com/<account>/<name>`).
   *
   * @throws {SqsApiError} QueueDoesNotExist.
   */
  nameFromUrl(queueUrl: string): string {
    let path: string;
    try {
      path = new URL(queueUrl).pathname;
    } catch {
      throw new SqsApiError('InvalidAddress', `The address ${queueUrl} is not valid for this endpoint.`);
    }
    const name =
      path
        .split('/')
        .filter((part) => part !== '')
        .pop() ?? '';
    this.#queue(name);
    return name;
  }

  hasQueue(name: string): boolean {
    return this.#queues.has(name);
  }

  /**
   * Create a queue, or return the existing one when its settings are the same.
   *
   * @throws {SqsApiError} QueueNameExists when it exists with other settings; InvalidParameterValue for a bad
   *   name or a FIFO/standard mismatch.
   */
  createQueue(name: string, settings: QueueSettings): QueueInfo {
    this.#assertOpen();
    if (!/^[A-Za-z0-9_-]{1,80}$/.test(name.replace(/\.fifo$/, '')) || name.length > 80) {
      throw new SqsApiError(
        'InvalidParameterValue',
        'Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length',
      );
    }
    if (settings.fifo !== isFifoName(name)) {
      throw new SqsApiError(
        'InvalidParameterValue',
        settings.fifo
          ? 'The name of a FIFO queue can only include alphanumeric characters, hyphens, or underscores, must end with .fifo suffix and be 1 to 80 in length.'
          : 'Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length',
      );
    }
    const existing = this.#queues.get(name);
    if (existing) {
      const current: Record<string, unknown> = { ...existing.settings };
      const differing = Object.entries(settings).find(
        ([key, value]) => JSON.stringify(value) !== JSON.stringify(current[key]),
      )?.[0];
      if (differing) {
        throw new SqsApiError(
          'QueueNameExists',
          `A queue already exists with the same name and a different value for attribute ${differing}`,
        );
      }
      return this.#info(existing);
    }
    this.#commit([{ op: 'queue', q: name, settings, atMs: this.#clock.now() }]);
    return this.#info(this.#queue(name));
  }

  /**
   * Change settings of an existing queue (SetQueueAttributes).
   *
   * @throws {SqsApiError} QueueDoesNotExist; InvalidAttributeName when FifoQueue would change.
   */
  updateQueue(name: string, change: Partial<QueueSettings>): QueueInfo {
    this.#assertOpen();
    const queue = this.#queue(name);
    if (change.fifo !== undefined && change.fifo !== queue.settings.fifo) {
      throw new SqsApiError('InvalidAttributeName', 'Unknown Attribute FifoQueue.');
    }
    this.#commit([
      { op: 'queue', q: name, settings: { ...queue.settings, ...change }, atMs: this.#clock.now() },
    ]);
    this.#notify(queue);
    return this.#info(queue);
  }

  /** @throws {SqsApiError} QueueDoesNotExist. */
  queueInfo(name: string): QueueInfo {
    return this.#info(this.#queue(name));
  }

  listQueues(prefix = ''): QueueInfo[] {
    return [...this.#queues.values()].filter((q) => q.name.startsWith(prefix)).map((q) => this.#info(q));
  }

  /** @throws {SqsApiError} QueueDoesNotExist. */
  counts(name: string): QueueCounts {
    const queue = this.#queue(name);
    const now = this.#clock.now();
    this.#expire(queue, now);
    const counts: QueueCounts = { visible: 0, inFlight: 0, delayed: 0 };
    for (const message of queue.messages.values()) {
      if (message.visibleAtMs <= now) counts.visible++;
      else if (message.receiveCount > 0) counts.inFlight++;
      else counts.delayed++;
    }
    return counts;
  }

  /**
   * Enqueue one message.
   *
   * @throws {SqsApiError} QueueDoesNotExist, MissingParameter, InvalidParameterValue,
   *   InvalidMessageContents.
   */
  send(name: string, input: SendInput): SendResult {
    this.#assertOpen();
    const queue = this.#queue(name);
    const prepared = this.#prepareSend(queue, input);
    if ('duplicate' in prepared) return prepared.duplicate;
    this.#commit([prepared.record]);
    this.#notify(queue);
    return prepared.result;
  }

  /**
   * Enqueue several messages with one journal write; each entry succeeds or fails on its own, as in
   * SendMessageBatch.
   *
   * @throws {SqsApiError} QueueDoesNotExist (for the whole batch).
   */
  sendMany(name: string, inputs: readonly SendInput[]): (SendResult | SqsApiError)[] {
    this.#assertOpen();
    const queue = this.#queue(name);
    const results: (SendResult | SqsApiError)[] = [];
    for (const input of inputs) {
      try {
        const prepared = this.#prepareSend(queue, input);
        if ('duplicate' in prepared) {
          results.push(prepared.duplicate);
        } else {
          // Committed one by one so that a duplicate later in the same batch sees the earlier entry.
          this.#commit([prepared.record]);
          results.push(prepared.result);
        }
      } catch (error) {
        if (!(error instanceof SqsApiError)) throw error;
        results.push(error);
      }
    }
    this.#notify(queue);
    return results;
  }

  /**
   * Receive up to `maxMessages` messages, waiting up to `waitTimeMs` for the first one (long polling).
   * Received messages are in flight until deleted or until their visibility timeout ends.
   *
   * @throws {SqsApiError} QueueDoesNotExist, InvalidParameterValue.
   */
  async receive(name: string, options: ReceiveOptions): Promise<ReceivedMessage[]> {
    this.#assertOpen();
    const queue = this.#queue(name);
    if (!Number.isInteger(options.maxMessages) || options.maxMessages < 1 || options.maxMessages > 10) {
      throw new SqsApiError(
        'InvalidParameterValue',
        `Value ${options.maxMessages} for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and 10, if provided.`,
      );
    }
    const waitTimeMs = options.waitTimeMs ?? queue.settings.receiveMessageWaitTimeSec * 1000;
    const deadline = this.#clock.now() + waitTimeMs;
    for (;;) {
      const received = this.receiveNow(name, options);
      if (received.length > 0 || this.#closed || options.signal?.aborted) return received;
      const remaining = deadline - this.#clock.now();
      if (remaining <= 0) return [];
      await this.#waitForChange(queue, remaining, options.signal);
      if (this.#closed) return [];
    }
  }

  /**
   * Receive without waiting.
   *
   * @throws {SqsApiError} QueueDoesNotExist.
   */
  receiveNow(name: string, options: Omit<ReceiveOptions, 'waitTimeMs' | 'signal'>): ReceivedMessage[] {
    this.#assertOpen();
    const queue = this.#queue(name);
    const now = this.#clock.now();
    const repeated = this.#repeatAttempt(queue, options.attemptId, now);
    if (repeated) return repeated;
    this.#expire(queue, now);
    const visibilitySec = options.visibilityTimeoutSec ?? queue.settings.visibilityTimeoutSec;
    const max = Math.min(Math.max(1, options.maxMessages), MAX_MESSAGES_PER_RECEIVE);
    const chosen = queue.settings.fifo
      ? this.#chooseFifo(queue, max, now)
      : this.#chooseStandard(queue, max, now);
    if (chosen.length === 0) return [];
    const records: JournalRecord[] = chosen.map((message) => ({
      op: 'recv',
      q: queue.name,
      id: message.messageId,
      nonce: randomUUID().replaceAll('-', '').slice(0, 16),
      visibleAtMs: now + visibilitySec * 1000,
      receiveCount: message.receiveCount + 1,
      firstReceiveAtMs: message.firstReceiveAtMs ?? now,
    }));
    this.#commit(records);
    const received = chosen.map((message) => this.#received(queue, message));
    if (options.attemptId !== undefined && queue.settings.fifo) {
      queue.attempts.set(options.attemptId, {
        expiresAtMs: now + RECEIVE_ATTEMPT_WINDOW_MS,
        handles: chosen.map((m) => ({ id: m.messageId, nonce: m.receiptNonce ?? '' })),
      });
    }
    this.#armWake(queue);
    return received;
  }

  /**
   * Delete a received message. An outdated handle (the message was received again since) succeeds without
   * deleting; a handle of a message that is gone succeeds too (DeleteMessage is idempotent in SQS).
   *
   * @throws {SqsApiError} ReceiptHandleIsInvalid for a malformed handle or one of another queue.
   */
  delete(name: string, receiptHandle: string): void {
    this.#assertOpen();
    const queue = this.#queue(name);
    const message = this.#messageOfHandle(queue, receiptHandle);
    if (!message?.current) return;
    this.#commit([{ op: 'del', q: queue.name, id: message.message.messageId }]);
    if (queue.settings.fifo) this.#notify(queue);
  }

  /**
   * Set a received message's remaining visibility to `timeoutSec` from now (0 = visible at once).
   *
   * @throws {SqsApiError} ReceiptHandleIsInvalid, InvalidParameterValue (expired handle, message gone),
   *   MessageNotInflight.
   */
  changeVisibility(name: string, receiptHandle: string, timeoutSec: number): void {
    this.#assertOpen();
    const queue = this.#queue(name);
    if (!Number.isInteger(timeoutSec) || timeoutSec < 0 || timeoutSec > MAX_VISIBILITY_TIMEOUT_SEC) {
      throw new SqsApiError(
        'InvalidParameterValue',
        `Value ${timeoutSec} for parameter VisibilityTimeout is invalid. Reason: Must be between 0 and 43200, if provided.`,
      );
    }
    const found = this.#messageOfHandle(queue, receiptHandle);
    if (!found) {
      throw new SqsApiError(
        'InvalidParameterValue',
        `Value ${receiptHandle} for parameter ReceiptHandle is invalid. Reason: Message does not exist or is not available for visibility timeout change.`,
      );
    }
    if (!found.current) {
      throw new SqsApiError(
        'InvalidParameterValue',
        `Value ${receiptHandle} for parameter ReceiptHandle is invalid. Reason: The receipt handle has expired.`,
      );
    }
    const now = this.#clock.now();
    if (found.message.visibleAtMs <= now) {
      throw new SqsApiError('MessageNotInflight', 'The message referred to is not in flight.');
    }
    this.#commit([
      { op: 'vis', q: queue.name, id: found.message.messageId, visibleAtMs: now + timeoutSec * 1000 },
    ]);
    this.#notify(queue);
    this.#armWake(queue);
  }

  /**
   * Delete every message of the queue.
   *
   * @throws {SqsApiError} QueueDoesNotExist; PurgeQueueInProgress within 60 s of the previous purge.
   */
  purge(name: string): void {
    this.#assertOpen();
    const queue = this.#queue(name);
    const now = this.#clock.now();
    if (queue.lastPurgeAtMs !== undefined && now - queue.lastPurgeAtMs < PURGE_COOLDOWN_MS) {
      throw new SqsApiError(
        'PurgeQueueInProgress',
        `Only one PurgeQueue operation on ${name} is allowed every 60 seconds.`,
      );
    }
    this.#commit([{ op: 'purge', q: name, atMs: now }]);
  }

  /** Write a fresh snapshot now (also done at close and when the journal grows). */
  compact(): void {
    this.#journal?.compact(this.#snapshots());
  }

  /**
   * Stop: end long polls (they answer no messages), write the snapshot, close the journal. Messages keep
   * their state — in-flight ones become visible again when their timeout ends, after a restart too.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const queue of this.#queues.values()) {
      queue.wake?.timer.cancel();
      queue.wake = undefined;
      this.#notify(queue);
    }
    if (this.#journal) {
      this.#journal.compact(this.#snapshots());
      this.#journal.close();
    }
  }

  // ---- internals -------------------------------------------------------------------------------------

  #assertOpen(): void {
    if (this.#closed)
      throw new SqsApiError('ServiceUnavailable', 'The local queue service is shutting down.');
  }

  #queue(name: string): QueueState {
    const queue = this.#queues.get(name);
    if (!queue) throw new SqsApiError('QueueDoesNotExist', 'The specified queue does not exist.');
    return queue;
  }

  #info(queue: QueueState): QueueInfo {
    return {
      name: queue.name,
      arn: this.queueArn(queue.name),
      settings: { ...queue.settings },
      createdAtMs: queue.createdAtMs,
      lastModifiedAtMs: queue.lastModifiedAtMs,
    };
  }

  #prepareSend(
    queue: QueueState,
    input: SendInput,
  ): { duplicate: SendResult } | { record: JournalRecord; result: SendResult } {
    const { settings } = queue;
    const now = this.#clock.now();
    const bodyBytes = Buffer.byteLength(input.body, 'utf8');
    if (input.body.length === 0) {
      throw new SqsApiError('MissingParameter', 'The request must contain the parameter MessageBody.');
    }
    // Allowed characters: #x9 | #xA | #xD | #x20–#xD7FF | #xE000–#xFFFD | #x10000–#x10FFFF (SendMessage).
    if (/[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u.test(input.body)) {
      throw new SqsApiError(
        'InvalidMessageContents',
        'Invalid binary character in the message body. Only characters #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF are allowed.',
      );
    }
    const attributes = input.messageAttributes ?? {};
    const attributeBytes = Object.entries(attributes).reduce(
      (sum, [key, value]) =>
        sum +
        Buffer.byteLength(key) +
        Buffer.byteLength(value.DataType) +
        Buffer.byteLength(value.StringValue ?? '') +
        Buffer.from(value.BinaryValue ?? '', 'base64').length,
      0,
    );
    if (bodyBytes + attributeBytes > settings.maximumMessageSize) {
      throw new SqsApiError(
        'InvalidParameterValue',
        `One or more parameters are invalid. Reason: Message must be shorter than ${settings.maximumMessageSize} bytes.`,
      );
    }
    validateMessageAttributes(attributes);
    if (settings.fifo) {
      if (!input.groupId) {
        throw new SqsApiError('MissingParameter', 'The request must contain the parameter MessageGroupId.');
      }
      if (input.delaySec !== undefined && input.delaySec !== 0) {
        throw new SqsApiError(
          'InvalidParameterValue',
          `Value ${input.delaySec} for parameter DelaySeconds is invalid. Reason: The request include parameter that is not valid for this queue type.`,
        );
      }
      if (!input.dedupId && !settings.contentBasedDeduplication) {
        throw new SqsApiError(
          'InvalidParameterValue',
          'The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly',
        );
      }
    } else if (input.dedupId !== undefined) {
      throw new SqsApiError(
        'InvalidParameterValue',
        `Value ${input.dedupId} for parameter MessageDeduplicationId is invalid. Reason: The request includes a parameter that is not valid for this queue type.`,
      );
    }
    for (const [field, value] of [
      ['MessageGroupId', input.groupId],
      ['MessageDeduplicationId', input.dedupId],
    ] as const) {
      if (value !== undefined && !/^[\x21-\x7e]{1,128}$/.test(value)) {
        throw new SqsApiError(
          'InvalidParameterValue',
          `Value ${value} for parameter ${field} is invalid. Reason: ${field} can only include alphanumeric and punctuation characters. 1 to 128 in length.`,
        );
      }
    }
    const delaySec = input.delaySec ?? settings.delaySec;
    if (!Number.isInteger(delaySec) || delaySec < 0 || delaySec > MAX_DELAY_SEC) {
      throw new SqsApiError(
        'InvalidParameterValue',
        `Value ${delaySec} for parameter DelaySeconds is invalid. Reason: DelaySeconds must be >= 0 and <= 900.`,
      );
    }

    let dedupe: DedupeEntry | undefined;
    let sequenceNumber: string | undefined;
    const md5OfBody = md5Hex(input.body);
    const md5Attributes = md5OfMessageAttributes(attributes);
    const systemAttributes = input.systemAttributes ?? {};
    const md5System = md5OfMessageAttributes(systemAttributes);
    if (settings.fifo) {
      this.#pruneDedupe(queue, now);
      const dedupId = input.dedupId ?? contentDeduplicationId(input.body);
      const key = settings.deduplicationScope === 'messageGroup' ? `${input.groupId}\n${dedupId}` : dedupId;
      const seen = queue.dedupe.get(key);
      if (seen) {
        return {
          duplicate: {
            messageId: seen.messageId,
            md5OfBody,
            md5OfMessageAttributes: md5Attributes,
            md5OfMessageSystemAttributes: md5System,
            sequenceNumber: seen.sequenceNumber,
            deduplicated: true,
          },
        };
      }
      sequenceNumber = (SEQUENCE_BASE + BigInt(queue.sequence + 1)).toString();
      dedupe = { key, messageId: '', sequenceNumber, expiresAtMs: now + DEDUPLICATION_WINDOW_MS };
    }
    const messageId = randomUUID();
    if (dedupe) dedupe.messageId = messageId;
    const message: StoredMessage = {
      messageId,
      body: input.body,
      md5OfBody,
      messageAttributes: { ...attributes },
      ...(md5Attributes ? { md5OfMessageAttributes: md5Attributes } : {}),
      systemAttributes: { ...systemAttributes },
      ...(md5System ? { md5OfMessageSystemAttributes: md5System } : {}),
      ...(input.groupId !== undefined ? { groupId: input.groupId } : {}),
      ...(settings.fifo ? { dedupId: input.dedupId ?? contentDeduplicationId(input.body) } : {}),
      ...(sequenceNumber ? { sequenceNumber } : {}),
      sentAtMs: now,
      senderId: LOCAL_SENDER_ID,
      visibleAtMs: now + delaySec * 1000,
      receiveCount: 0,
    };
    return {
      record: { op: 'send', q: queue.name, m: message, ...(dedupe ? { dedupe } : {}) },
      result: {
        messageId,
        md5OfBody,
        md5OfMessageAttributes: md5Attributes,
        md5OfMessageSystemAttributes: md5System,
        sequenceNumber,
        deduplicated: false,
      },
    };
  }

  #pruneDedupe(queue: QueueState, now: number): void {
    // Entries are never refreshed, so insertion order is expiry order.
    for (const [key, entry] of queue.dedupe) {
      if (entry.expiresAtMs > now) break;
      queue.dedupe.delete(key);
    }
  }

  /** Standard queue: visible messages in send order (SQS gives no order guarantee; this is one valid one). */
  #chooseStandard(queue: QueueState, max: number, now: number): StoredMessage[] {
    const chosen: StoredMessage[] = [];
    for (const message of [...queue.messages.values()]) {
      if (chosen.length >= max) break;
      if (message.visibleAtMs > now) continue;
      if (this.#deadLetterIfExhausted(queue, message)) continue;
      chosen.push(message);
    }
    return chosen;
  }

  /**
   * FIFO: groups in the order of their oldest message; a group with a message in flight is skipped; from an
   * available group, take its messages in order until one is not yet visible (delayed), then move on.
   */
  #chooseFifo(queue: QueueState, max: number, now: number): StoredMessage[] {
    const chosen: StoredMessage[] = [];
    for (const [groupId, ids] of [...queue.groups]) {
      if (chosen.length >= max) break;
      if (this.#groupInFlight(queue, ids, now)) continue;
      for (const id of [...ids]) {
        if (chosen.length >= max) break;
        const message = queue.messages.get(id);
        if (!message) continue;
        if (message.visibleAtMs > now) break;
        if (this.#deadLetterIfExhausted(queue, message)) continue;
        chosen.push(message);
      }
      if (queue.groups.get(groupId)?.length === 0) queue.groups.delete(groupId);
    }
    return chosen;
  }

  #groupInFlight(queue: QueueState, ids: readonly string[], now: number): boolean {
    // Only messages received before can be in flight, and those form the front of the group.
    for (const id of ids) {
      const message = queue.messages.get(id);
      if (!message) continue;
      if (message.receiveCount === 0) return false;
      if (message.visibleAtMs > now) return true;
    }
    return false;
  }

  /** Move an exhausted message to its dead-letter queue; true when it was moved. */
  #deadLetterIfExhausted(queue: QueueState, message: StoredMessage): boolean {
    const policy = queue.settings.redrivePolicy;
    if (!policy || message.receiveCount < policy.maxReceiveCount) return false;
    const target = queueNameFromArn(policy.deadLetterTargetArn);
    const dlq = target === undefined ? undefined : this.#queues.get(target);
    if (!dlq || dlq === queue) {
      // SQS keeps the message when the dead-letter queue does not exist.
      return false;
    }
    const moved: StoredMessage = {
      ...message,
      receiveCount: 0,
      visibleAtMs: this.#clock.now(),
      deadLetterSourceArn: this.queueArn(queue.name),
    };
    delete moved.firstReceiveAtMs;
    delete moved.receiptNonce;
    if (dlq.settings.fifo) {
      moved.sequenceNumber = (SEQUENCE_BASE + BigInt(dlq.sequence + 1)).toString();
      moved.groupId ??= 'default';
    } else {
      delete moved.sequenceNumber;
    }
    this.#commit([{ op: 'move', q: queue.name, id: message.messageId, to: dlq.name, m: moved }]);
    this.#logger.warn('local.sqs.dead_lettered', {
      queue: queue.name,
      deadLetterQueue: dlq.name,
      messageId: message.messageId,
      receiveCount: message.receiveCount,
    });
    this.#emit({
      kind: 'dead-lettered',
      queue: queue.name,
      deadLetterQueue: dlq.name,
      messageId: message.messageId,
      receiveCount: message.receiveCount,
    });
    this.#notify(dlq);
    return true;
  }

  /** Drop messages past the retention period (counted from the first send, as SQS does). */
  #expire(queue: QueueState, now: number): void {
    const retentionMs = queue.settings.messageRetentionSec * 1000;
    const expired: JournalRecord[] = [];
    for (const message of queue.messages.values()) {
      if (message.sentAtMs + retentionMs <= now)
        expired.push({ op: 'del', q: queue.name, id: message.messageId });
    }
    if (expired.length === 0) return;
    this.#commit(expired);
    for (const record of expired) {
      if (record.op !== 'del') continue;
      this.#logger.warn('local.sqs.message_expired', { queue: queue.name, messageId: record.id });
      this.#emit({ kind: 'expired', queue: queue.name, messageId: record.id });
    }
    this.#notify(queue);
  }

  #repeatAttempt(
    queue: QueueState,
    attemptId: string | undefined,
    now: number,
  ): ReceivedMessage[] | undefined {
    if (attemptId === undefined || !queue.settings.fifo) return undefined;
    for (const [id, attempt] of queue.attempts) if (attempt.expiresAtMs <= now) queue.attempts.delete(id);
    const attempt = queue.attempts.get(attemptId);
    if (!attempt) return undefined;
    const messages = attempt.handles.map(({ id, nonce }) => {
      const message = queue.messages.get(id);
      return message && message.receiptNonce === nonce && message.visibleAtMs > now ? message : undefined;
    });
    if (messages.some((m) => m === undefined)) {
      queue.attempts.delete(attemptId);
      return undefined;
    }
    return messages.flatMap((m) => (m ? [this.#received(queue, m)] : []));
  }

  #received(queue: QueueState, message: StoredMessage): ReceivedMessage {
    return {
      queue: queue.name,
      receiptHandle: encodeReceiptHandle(queue.name, message.messageId, message.receiptNonce ?? ''),
      message: structuredClone(message),
    };
  }

  #messageOfHandle(
    queue: QueueState,
    receiptHandle: string,
  ): { message: StoredMessage; current: boolean } | undefined {
    const decoded = decodeReceiptHandle(receiptHandle);
    if (!decoded || decoded.queue !== queue.name) {
      throw new SqsApiError(
        'ReceiptHandleIsInvalid',
        `The input receipt handle "${receiptHandle}" is not a valid receipt handle.`,
      );
    }
    const message = queue.messages.get(decoded.messageId);
    if (!message) return undefined;
    return { message, current: message.receiptNonce === decoded.nonce };
  }

  #commit(records: JournalRecord[]): void {
    this.#journal?.append(records);
    for (const record of records) this.#apply(record);
    if (this.#journal && !this.#closed) {
      let live = 0;
      if (this.#journal.lines > MIN_JOURNAL_LINES_BEFORE_COMPACTION) {
        for (const queue of this.#queues.values()) live += queue.messages.size;
        if (this.#journal.lines > Math.max(MIN_JOURNAL_LINES_BEFORE_COMPACTION, 4 * live)) {
          this.#journal.compact(this.#snapshots());
        }
      }
    }
  }

  /** The one place state changes; used live (after journaling) and when replaying the journal. */
  #apply(record: JournalRecord): void {
    switch (record.op) {
      case 'queue': {
        const existing = this.#queues.get(record.q);
        if (existing) {
          existing.settings = record.settings;
          existing.lastModifiedAtMs = record.atMs;
        } else {
          this.#queues.set(record.q, newQueueState(record.q, record.settings, record.atMs));
        }
        return;
      }
      case 'send': {
        const queue = this.#queues.get(record.q);
        if (!queue) return;
        this.#append(queue, { ...record.m });
        if (record.dedupe) queue.dedupe.set(record.dedupe.key, { ...record.dedupe });
        return;
      }
      case 'recv': {
        const message = this.#queues.get(record.q)?.messages.get(record.id);
        if (!message) return;
        message.receiptNonce = record.nonce;
        message.visibleAtMs = record.visibleAtMs;
        message.receiveCount = record.receiveCount;
        message.firstReceiveAtMs = record.firstReceiveAtMs;
        return;
      }
      case 'vis': {
        const message = this.#queues.get(record.q)?.messages.get(record.id);
        if (message) message.visibleAtMs = record.visibleAtMs;
        return;
      }
      case 'del': {
        const queue = this.#queues.get(record.q);
        if (queue) this.#remove(queue, record.id);
        return;
      }
      case 'move': {
        const queue = this.#queues.get(record.q);
        if (queue) this.#remove(queue, record.id);
        const target = this.#queues.get(record.to);
        if (target) this.#append(target, { ...record.m });
        return;
      }
      case 'purge': {
        const queue = this.#queues.get(record.q);
        if (!queue) return;
        queue.messages.clear();
        queue.groups.clear();
        queue.lastPurgeAtMs = record.atMs;
        return;
      }
    }
  }

  #append(queue: QueueState, message: StoredMessage): void {
    queue.messages.set(message.messageId, message);
    if (message.sequenceNumber !== undefined) {
      const n = Number(BigInt(message.sequenceNumber) - SEQUENCE_BASE);
      if (Number.isSafeInteger(n) && n > queue.sequence) queue.sequence = n;
    }
    if (queue.settings.fifo) {
      const group = message.groupId ?? 'default';
      const ids = queue.groups.get(group);
      if (ids) ids.push(message.messageId);
      else queue.groups.set(group, [message.messageId]);
    }
  }

  #remove(queue: QueueState, id: string): void {
    const message = queue.messages.get(id);
    if (!message) return;
    queue.messages.delete(id);
    if (queue.settings.fifo) {
      const group = message.groupId ?? 'default';
      const ids = queue.groups.get(group);
      if (ids) {
        const index = ids.indexOf(id);
        if (index >= 0) ids.splice(index, 1);
        if (ids.length === 0) queue.groups.delete(group);
      }
    }
  }

  #restore(snapshot: QueueSnapshot): void {
    const queue = newQueueState(snapshot.name, snapshot.settings, snapshot.createdAtMs);
    queue.lastModifiedAtMs = snapshot.lastModifiedAtMs;
    queue.sequence = snapshot.sequence;
    queue.lastPurgeAtMs = snapshot.lastPurgeAtMs;
    this.#queues.set(queue.name, queue);
    for (const message of snapshot.messages) this.#append(queue, { ...message });
    for (const entry of snapshot.dedupe) queue.dedupe.set(entry.key, { ...entry });
  }

  #snapshots(): QueueSnapshot[] {
    const now = this.#clock.now();
    return [...this.#queues.values()].map((queue) => {
      this.#pruneDedupe(queue, now);
      return {
        name: queue.name,
        settings: queue.settings,
        createdAtMs: queue.createdAtMs,
        lastModifiedAtMs: queue.lastModifiedAtMs,
        sequence: queue.sequence,
        ...(queue.lastPurgeAtMs === undefined ? {} : { lastPurgeAtMs: queue.lastPurgeAtMs }),
        messages: [...queue.messages.values()],
        dedupe: [...queue.dedupe.values()],
      };
    });
  }

  #emit(event: MessageDisposal): void {
    for (const listener of this.#disposalListeners) listener(event);
  }

  #notify(queue: QueueState): void {
    const waiters = [...queue.waiters];
    queue.waiters.clear();
    for (const wake of waiters) wake();
  }

  /** Wait until something may have become receivable, the wait ends, or the signal fires. */
  #waitForChange(queue: QueueState, timeoutMs: number, signal: AbortSignal | undefined): Promise<void> {
    return new Promise<void>((resolve) => {
      let done = false;
      const finish = (): void => {
        if (done) return;
        done = true;
        queue.waiters.delete(finish);
        timer.cancel();
        signal?.removeEventListener('abort', finish);
        resolve();
      };
      const timer = this.#clock.setTimer(finish, timeoutMs);
      signal?.addEventListener('abort', finish, { once: true });
      queue.waiters.add(finish);
      this.#armWake(queue);
    });
  }

  /** Keep one timer per queue at the next moment a message becomes visible, while somebody waits. */
  #armWake(queue: QueueState): void {
    if (queue.waiters.size === 0 || this.#closed) return;
    const now = this.#clock.now();
    let next = Number.POSITIVE_INFINITY;
    for (const message of queue.messages.values()) {
      if (message.visibleAtMs > now && message.visibleAtMs < next) next = message.visibleAtMs;
    }
    if (next === Number.POSITIVE_INFINITY) return;
    if (queue.wake && queue.wake.atMs <= next && queue.wake.atMs > now) return;
    queue.wake?.timer.cancel();
    queue.wake = {
      atMs: next,
      timer: this.#clock.setTimer(() => {
        queue.wake = undefined;
        this.#notify(queue);
      }, next - now),
    };
  }
}

function newQueueState(name: string, settings: QueueSettings, atMs: number): QueueState {
  return {
    name,
    settings,
    createdAtMs: atMs,
    lastModifiedAtMs: atMs,
    sequence: 0,
    lastPurgeAtMs: undefined,
    messages: new Map(),
    groups: new Map(),
    dedupe: new Map(),
    waiters: new Set(),
    wake: undefined,
    attempts: new Map(),
  };
}

const ATTRIBUTE_NAME_PATTERN = /^(?!\.)(?!.*\.\.)(?!aws\.|amazon\.)[A-Za-z0-9_.-]{1,256}(?<!\.)$/i;

/** SendMessage rules for message attributes: at most 10, valid names, a value matching the data type. */
function validateMessageAttributes(attributes: Readonly<Record<string, WireMessageAttribute>>): void {
  const names = Object.keys(attributes);
  if (names.length > 10) {
    throw new SqsApiError(
      'InvalidParameterValue',
      `Number of message attributes [${names.length}] exceeds the allowed maximum [10].`,
    );
  }
  for (const name of names) {
    const attribute = attributes[name];
    if (!attribute) continue;
    if (!ATTRIBUTE_NAME_PATTERN.test(name)) {
      throw new SqsApiError('InvalidParameterValue', `Message (user) attribute name '${name}' is invalid.`);
    }
    const type = attribute.DataType.split('.')[0];
    if (type !== 'String' && type !== 'Number' && type !== 'Binary') {
      throw new SqsApiError(
        'InvalidParameterValue',
        `The type of message (user) attribute '${name}' is invalid. You must use only the following supported type prefixes: Binary, Number, String.`,
      );
    }
    if (type === 'Binary' ? attribute.BinaryValue === undefined : attribute.StringValue === undefined) {
      throw new SqsApiError(
        'InvalidParameterValue',
        `Message (user) attribute '${name}' must contain a non-empty value of message attribute type '${type}'.`,
      );
    }
    if (type === 'Number' && !/^-?\d+(\.\d+)?(e[+-]?\d+)?$/i.test(attribute.StringValue ?? '')) {
      throw new SqsApiError(
        'InvalidParameterValue',
        `Could not cast message attribute '${name}' value to number.`,
      );
    }
  }
}
