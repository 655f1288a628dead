/**
 * The SQS event source mapping, in process: polls a function's queue and invokes it with batches, with
 * Lambda's semantics (Lambda Developer Guide, "Using Lambda with Amazon SQS", "Handling errors for an SQS
 * event source", "Reporting batch item failures"):
 *
 * - the event is `{ Records: [...] }` with Lambda's record shape (messageId, receiptHandle, body, attributes,
 *   messageAttributes with lower-case keys, md5OfBody, eventSource `aws:sqs`, eventSourceARN, awsRegion);
 * - batch size and batching window come from serverless.yml;
 * - success deletes the batch; a thrown error (or a timeout, or a crash) fails the whole batch, whose
 *   messages then become visible again when their visibility timeout ends — nothing is deleted;
 * - with `ReportBatchItemFailures`, the messages listed in `batchItemFailures` stay and the rest are
 *   deleted; an empty or null list (or response) means all succeeded; an identifier that is empty, missing
 *   or not in the batch, or a malformed response, fails the whole batch;
 * - several pollers per function (`maximumConcurrency` of the mapping, else the runtime's default, capped by
 *   `reservedConcurrency`) invoke concurrently; FIFO order holds because the queue never hands out a group's
 *   next message while an earlier one is in flight.
 *
 * Pollers wait on the queue itself (long polling in process): a send wakes them at once, with no sleeping
 * loops on the hot path.
 */
import { type Logger, silentLogger } from '../../../lib/log.ts';
import type { FunctionInvoker, InvokeResult } from './lambda/invoker.ts';
import type { SqsTrigger } from './serverless/stack-definition.ts';
import type { QueueEngine, ReceivedMessage } from './sqs/queue-engine.ts';
import { systemAttributesOf } from './sqs/system-attributes.ts';

/** How long one in-process long poll waits before looping (the SQS maximum, 20 s). */
const POLL_WAIT_MS = 20_000;

/** One record of Lambda's SQS event. */
export interface SqsEventRecord {
  messageId: string;
  receiptHandle: string;
  body: string;
  attributes: Record<string, string>;
  messageAttributes: Record<
    string,
    {
      stringValue?: string;
      binaryValue?: string;
      stringListValues: string[];
      binaryListValues: string[];
      dataType: string;
    }
  >;
  md5OfBody: string;
  md5OfMessageAttributes?: string;
  eventSource: 'aws:sqs';
  eventSourceARN: string;
  awsRegion: string;
}

export type BatchOutcome = 'succeeded' | 'partial' | 'failed';

/** What happened to one batch (logged, and given to `onBatch` listeners: tests, the benchmark). */
export interface BatchReport {
  functionName: string;
  queue: string;
  requestId: string;
  messageIds: string[];
  outcome: BatchOutcome;
  /** Messages left for redelivery. */
  failedMessageIds: string[];
  /** Why the whole batch failed, when it did. */
  reason: string | undefined;
  durationMs: number;
}

export interface SqsEventSourceOptions {
  engine: QueueEngine;
  invoker: FunctionInvoker;
  trigger: SqsTrigger;
  region: string;
  /** Pollers when the mapping sets no maximumConcurrency. */
  defaultConcurrency: number;
  /** The function's reservedConcurrency, if any (caps the pollers; 0 = throttled, nothing runs). */
  reservedConcurrency?: number | undefined;
  /** A local cap on the pollers (LOCAL_SQS_MAX_CONCURRENCY), whatever serverless.yml asks for. */
  maxConcurrency?: number | undefined;
  logger?: Logger;
  onBatch?: (report: BatchReport) => void;
}

/** Lambda's SQS record for a received message. */
export function toLambdaRecord(received: ReceivedMessage, queueArn: string, region: string): SqsEventRecord {
  const m = received.message;
  const messageAttributes: SqsEventRecord['messageAttributes'] = {};
  for (const [name, value] of Object.entries(m.messageAttributes)) {
    messageAttributes[name] = {
      ...(value.StringValue === undefined ? {} : { stringValue: value.StringValue }),
      ...(value.BinaryValue === undefined ? {} : { binaryValue: value.BinaryValue }),
      stringListValues: [],
      binaryListValues: [],
      dataType: value.DataType,
    };
  }
  return {
    messageId: m.messageId,
    receiptHandle: received.receiptHandle,
    body: m.body,
    attributes: systemAttributesOf(received),
    messageAttributes,
    md5OfBody: m.md5OfBody,
    ...(m.md5OfMessageAttributes ? { md5OfMessageAttributes: m.md5OfMessageAttributes } : {}),
    eventSource: 'aws:sqs',
    eventSourceARN: queueArn,
    awsRegion: region,
  };
}

/**
 * Which messages failed, from the invocation result (see the module comment for the rules).
 * Returns `'all'` for a whole-batch failure.
 */
export function failedItems(
  result: InvokeResult,
  messageIds: readonly string[],
  reportBatchItemFailures: boolean,
): { failed: 'all'; reason: string } | { failed: string[] } {
  if (!result.ok) return { failed: 'all', reason: `${result.error.errorType}: ${result.error.errorMessage}` };
  if (!reportBatchItemFailures) return { failed: [] };
  const value = result.value;
  if (value === null || value === undefined) return { failed: [] };
  if (typeof value !== 'object' || Array.isArray(value)) {
    return { failed: 'all', reason: 'the response is not a batch response object' };
  }
  const list: unknown = Reflect.get(value, 'batchItemFailures');
  if (list === null || list === undefined) return { failed: [] };
  if (!Array.isArray(list)) return { failed: 'all', reason: 'batchItemFailures is not a list' };
  const known = new Set(messageIds);
  const failed: string[] = [];
  for (const item of list) {
    const id: unknown =
      typeof item === 'object' && item !== null ? Reflect.get(item, 'itemIdentifier') : undefined;
    if (typeof id !== 'string' || id === '' || !known.has(id)) {
      return { failed: 'all', reason: `invalid itemIdentifier ${JSON.stringify(id)} in batchItemFailures` };
    }
    if (!failed.includes(id)) failed.push(id);
  }
  return { failed };
}

interface RunningBatch {
  received: ReceivedMessage[];
  /** Set when shutdown returned the messages: the late result is ignored. */
  abandoned: boolean;
  done: Promise<void>;
}

/** Polls one queue for one function. */
export class SqsEventSource {
  readonly #options: SqsEventSourceOptions;
  readonly #logger: Logger;
  readonly #running = new Set<RunningBatch>();
  readonly #pollers: Promise<void>[] = [];
  readonly #abort = new AbortController();
  #started = false;
  #stopping = false;
  #batches = 0;

  constructor(options: SqsEventSourceOptions) {
    this.#options = options;
    this.#logger = (options.logger ?? silentLogger).child({
      function: options.invoker.functionName,
      queue: options.trigger.queueName,
    });
  }

  /** Pollers this source runs. */
  get concurrency(): number {
    const { trigger, defaultConcurrency, reservedConcurrency, maxConcurrency } = this.#options;
    const wanted = trigger.maximumConcurrency ?? defaultConcurrency;
    return Math.min(wanted, reservedConcurrency ?? wanted, maxConcurrency ?? wanted);
  }

  /** Batches invoked so far. */
  get batches(): number {
    return this.#batches;
  }

  /** Batches being processed now. */
  get inFlight(): number {
    return this.#running.size;
  }

  start(): void {
    if (this.#started || !this.#options.trigger.enabled) return;
    this.#started = true;
    for (let i = 0; i < this.concurrency; i++) this.#pollers.push(this.#poll());
  }

  /**
   * Stop polling, give running batches up to `graceMs` to finish, then return the messages of those still
   * running to the queue (visible at once) so they are redelivered — after a restart if need be.
   */
  async stop(graceMs: number): Promise<{ finished: number; returned: number }> {
    this.#stopping = true;
    // Idle pollers end at once (their long poll is aborted); busy ones end after their batch.
    this.#abort.abort();
    const running = [...this.#running];
    let timer: NodeJS.Timeout | undefined;
    const graceOver = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), graceMs);
    });
    await Promise.race([Promise.all(running.map((batch) => batch.done)), graceOver]);
    clearTimeout(timer);
    let returned = 0;
    for (const batch of this.#running) {
      batch.abandoned = true;
      for (const received of batch.received) {
        try {
          this.#options.engine.changeVisibility(received.queue, received.receiptHandle, 0);
          returned++;
        } catch (error) {
          this.#logger.warn('local.sqs.return_failed', { messageId: received.message.messageId, error });
        }
      }
    }
    return { finished: running.length - this.#running.size, returned };
  }

  async #poll(): Promise<void> {
    const { engine, trigger } = this.#options;
    while (!this.#stopping) {
      let received: ReceivedMessage[];
      try {
        received = await engine.receive(trigger.queueName, {
          maxMessages: Math.min(trigger.batchSize, 10),
          waitTimeMs: POLL_WAIT_MS,
          signal: this.#abort.signal,
        });
        if (
          received.length > 0 &&
          (trigger.batchSize > received.length || trigger.maximumBatchingWindowSec > 0)
        ) {
          received = await this.#fill(received);
        }
      } catch (error) {
        if (this.#stopping) return;
        // The engine is closing or the queue vanished: report once and stop this poller.
        this.#logger.error('local.sqs.poll_failed', { error });
        return;
      }
      if (received.length === 0) continue;
      if (this.#stopping) {
        for (const r of received) engine.changeVisibility(r.queue, r.receiptHandle, 0);
        return;
      }
      const batch: RunningBatch = { received, abandoned: false, done: Promise.resolve() };
      batch.done = this.#process(batch);
      this.#running.add(batch);
      await batch.done;
      this.#running.delete(batch);
    }
  }

  /** Lambda's batching window: keep receiving until the batch is full or the window has passed. */
  async #fill(first: ReceivedMessage[]): Promise<ReceivedMessage[]> {
    const { engine, trigger } = this.#options;
    const batch = [...first];
    const windowEnds = Date.now() + trigger.maximumBatchingWindowSec * 1000;
    while (batch.length < trigger.batchSize && !this.#stopping) {
      const remaining = windowEnds - Date.now();
      const more = await engine.receive(trigger.queueName, {
        maxMessages: Math.min(10, trigger.batchSize - batch.length),
        waitTimeMs: Math.max(0, remaining),
        signal: this.#abort.signal,
      });
      if (more.length === 0) break;
      batch.push(...more);
    }
    return batch;
  }

  async #process(batch: RunningBatch): Promise<void> {
    const { engine, invoker, trigger, region } = this.#options;
    const records = batch.received.map((r) => toLambdaRecord(r, trigger.queueArn, region));
    const messageIds = records.map((r) => r.messageId);
    this.#batches++;
    const result = await invoker.invoke({ Records: records });
    if (batch.abandoned) return;
    const verdict = failedItems(result, messageIds, trigger.reportBatchItemFailures);
    const failed = verdict.failed === 'all' ? new Set(messageIds) : new Set(verdict.failed);
    for (const received of batch.received) {
      if (failed.has(received.message.messageId)) continue;
      try {
        engine.delete(received.queue, received.receiptHandle);
      } catch (error) {
        this.#logger.error('local.sqs.delete_failed', { messageId: received.message.messageId, error });
      }
    }
    const outcome: BatchOutcome =
      failed.size === 0 ? 'succeeded' : failed.size === messageIds.length ? 'failed' : 'partial';
    const report: BatchReport = {
      functionName: invoker.functionName,
      queue: trigger.queueName,
      requestId: result.requestId,
      messageIds,
      outcome,
      failedMessageIds: [...failed],
      reason: verdict.failed === 'all' ? verdict.reason : undefined,
      durationMs: result.durationMs,
    };
    const fields = {
      requestId: result.requestId,
      // lib/sync uses the SQS messageId as each record's correlationId.
      correlationIds: messageIds,
      groups: batch.received.map((r) => r.message.groupId).filter((g) => g !== undefined),
      outcome,
      ms: result.durationMs,
      ...(failed.size > 0 ? { failedMessageIds: [...failed] } : {}),
      ...(report.reason ? { reason: report.reason } : {}),
      ...(!result.ok ? { error: result.error } : {}),
    };
    if (outcome === 'succeeded') this.#logger.info('local.sqs.batch', fields);
    else this.#logger.warn('local.sqs.batch', fields);
    this.#options.onBatch?.(report);
  }
}
