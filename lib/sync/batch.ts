/**
 * One SQS batch, from the Lambda event to the partial-batch response — the single place that turns record
 * results into queue decisions, so no flow re-implements retries.
 *
 * 1. Parse every message body; a body that is not one of ours cannot be processed and is sent towards the
 *    DLQ (no delay) for a person to look at.
 * 2. Hand the parsed messages to the flow, which processes them together (one Fxiaoke read, one K3 lookup,
 *    batched writes) and answers one result per record.
 * 3. FIFO order: walking the batch in order, once a message of a group fails, the later messages of that
 *    group in this batch are reported failed too, so they are never processed ahead of it.
 * 4. Failed-and-retryable messages are reported in `batchItemFailures` and made visible again after an
 *    exponential backoff (ChangeMessageVisibility by ApproximateReceiveCount); the others are deleted by
 *    Lambda. After `maxReceiveCount` receives SQS moves a message to the flow's DLQ (redrive policy); the
 *    attempt that will be the last says so in the sync log.
 * 5. Every result is written to the sync log (with the attempt number and K3's/Fxiaoke's messages verbatim);
 *    the inbox entries of events that failed for good (or went to the DLQ) are marked failed.
 */
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import type { z } from 'zod';
import { asSyncError, InvalidInputError, type SyncError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { SyncLogEntryInput } from '../state/sync-log.ts';
import { RECORD_BUSY_CODE } from './errors.ts';
import type { SyncResult } from './outcome.ts';
import { busyRetryDelayMs, dispositionOf, retryDelayMs } from './outcome.ts';
import type { QueueRole } from './queues.ts';
import type { SyncRuntime } from './runtime.ts';

export interface QueueRecord<T> {
  sqsMessageId: string;
  receiptHandle: string;
  body: T;
  /** ApproximateReceiveCount: 1 on the first attempt. */
  receiveCount: number;
  groupId: string;
}

/** One record's result and the queue messages it answers. */
export interface RecordReport {
  sqsMessageIds: string[];
  result: SyncResult;
}

export interface BatchContext {
  runtime: SyncRuntime;
  logger: Logger;
  /** The queue's redrive `maxReceiveCount`. */
  maxReceiveCount: number;
  /**
   * Aborts remote calls shortly before the Lambda's deadline, so the batch still answers (a write aborted
   * after sending is outcome-unknown: retried with a look-up first).
   */
  signal?: AbortSignal | undefined;
}

export type BatchProcessor<T> = (records: QueueRecord<T>[], ctx: BatchContext) => Promise<RecordReport[]>;

export interface QueueBatchOptions<T> {
  queue: QueueRole;
  flow: string;
  schema: z.ZodType<T>;
  process: BatchProcessor<T>;
}

function receiveCountOf(record: SQSRecord): number {
  const count = Number(record.attributes?.ApproximateReceiveCount);
  return Number.isFinite(count) && count >= 1 ? count : 1;
}

/**
 * Process one SQS batch (see the module comment). Never throws for a record's failure; throws only when
 * nothing of the batch can be handled, in which case Lambda retries the whole batch.
 */
export async function processQueueBatch<T>(
  event: SQSEvent,
  runtime: SyncRuntime,
  options: QueueBatchOptions<T>,
  signal?: AbortSignal,
): Promise<SQSBatchResponse> {
  const logger = runtime.logger.child({ flow: options.flow });
  const maxReceiveCount = runtime.settings.maxReceiveCount;
  const records = event.Records ?? [];
  const parsed: QueueRecord<T>[] = [];
  const malformed = new Map<string, SyncError>();
  for (const record of records) {
    let json: unknown;
    try {
      json = JSON.parse(record.body);
    } catch {
      json = undefined;
    }
    const result = options.schema.safeParse(json);
    if (!result.success) {
      malformed.set(
        record.messageId,
        new InvalidInputError(
          `队列消息格式不对 / Malformed queue message on ${options.queue}: ${result.error.issues
            .map((i) => `${i.path.join('.')}: ${i.message}`)
            .join('; ')
            .slice(0, 300)}`,
          'QUEUE_MESSAGE_MALFORMED',
        ),
      );
      continue;
    }
    parsed.push({
      sqsMessageId: record.messageId,
      receiptHandle: record.receiptHandle,
      body: result.data,
      receiveCount: receiveCountOf(record),
      groupId: record.attributes?.MessageGroupId ?? record.messageId,
    });
  }

  const startedAtMs = runtime.clock();
  let reports: RecordReport[] = [];
  let batchError: SyncError | undefined;
  if (parsed.length > 0) {
    try {
      reports = await options.process(parsed, { runtime, logger, maxReceiveCount, signal });
    } catch (error) {
      batchError = asSyncError(error);
      logger.error('sync.batch.failed', { error: batchError, messages: parsed.length });
    }
  }

  // Which message failed with what (the first failing report wins for a message in several reports).
  const failures = new Map<string, SyncError>(malformed);
  const reportOf = new Map<string, RecordReport>();
  for (const report of reports) {
    for (const id of report.sqsMessageIds) {
      reportOf.set(id, report);
      if (dispositionOf(report.result) === 'retry' && report.result.error && !failures.has(id)) {
        failures.set(id, report.result.error);
      }
    }
  }
  for (const record of parsed) {
    if (batchError) failures.set(record.sqsMessageId, batchError);
    else if (!reportOf.has(record.sqsMessageId) && !failures.has(record.sqsMessageId)) {
      failures.set(
        record.sqsMessageId,
        asSyncError(new Error(`flow ${options.flow} returned no result for message ${record.sqsMessageId}`)),
      );
    }
  }

  // FIFO: a failed message holds back the later messages of its group.
  const failedGroups = new Map<string, number>();
  const batchItemFailures: { itemIdentifier: string }[] = [];
  for (const record of records) {
    const group = record.attributes?.MessageGroupId ?? record.messageId;
    let error = failures.get(record.messageId);
    const heldBy = failedGroups.get(group);
    if (!error && heldBy !== undefined) {
      error = asSyncError(
        new Error('an earlier message of the same record failed in this batch; kept for ordering'),
      );
      failures.set(record.messageId, error);
    }
    if (!error) continue;
    batchItemFailures.push({ itemIdentifier: record.messageId });
    const receiveCount = receiveCountOf(record);
    const last = receiveCount >= maxReceiveCount;
    // A held-back message comes back with the one holding it: the group is blocked while any of its
    // messages is invisible, so a longer delay here would hold the earlier message back too.
    const delayMs =
      malformed.has(record.messageId) || last
        ? 0
        : (heldBy ??
          (error.code === RECORD_BUSY_CODE
            ? busyRetryDelayMs(receiveCount, maxReceiveCount, error.retryAfterMs ?? 0)
            : retryDelayMs(receiveCount, runtime.settings.retry, error)));
    if (heldBy === undefined) failedGroups.set(group, delayMs);
    try {
      await runtime.queues.delay(options.queue, record.receiptHandle, delayMs / 1000);
    } catch (delayError) {
      // The message keeps the queue's own visibility timeout: retried later anyway, only without backoff.
      logger.warn('sync.batch.delay-failed', { sqsMessageId: record.messageId, error: delayError });
    }
    if (malformed.has(record.messageId)) {
      logger.error('sync.message.malformed', {
        sqsMessageId: record.messageId,
        attempt: receiveCount,
        maxReceiveCount,
        error,
        deadLetter: last,
      });
    }
  }

  await recordReports(reports, {
    runtime,
    logger,
    maxReceiveCount,
    parsed,
    failures,
    durationMs: runtime.clock() - startedAtMs,
  });
  logger.info('sync.batch.done', {
    messages: records.length,
    results: reports.length,
    failed: batchItemFailures.length,
  });
  return { batchItemFailures };
}

/**
 * Sync log + inbox for the batch's reports: the log entries go out together (BatchWriteItem), then the
 * inbox entries of events that failed for good are marked. Failures here are logged, never turned into
 * message failures.
 */
async function recordReports(
  reports: readonly RecordReport[],
  ctx: {
    runtime: SyncRuntime;
    logger: Logger;
    maxReceiveCount: number;
    parsed: readonly QueueRecord<unknown>[];
    failures: ReadonlyMap<string, SyncError>;
    durationMs: number;
  },
): Promise<void> {
  const { runtime, logger, maxReceiveCount } = ctx;
  const receiveCounts = new Map(ctx.parsed.map((record) => [record.sqsMessageId, record.receiveCount]));
  const entries: { result: SyncResult; attempt: number }[] = [];
  const done: { messageId: string; state: 'processed' | 'failed'; detail: string }[] = [];
  for (const report of reports) {
    const result = report.result;
    const attempts = report.sqsMessageIds.flatMap((id) => {
      const count = receiveCounts.get(id);
      return count === undefined ? [] : [count];
    });
    const attempt = attempts.length > 0 ? Math.max(...attempts) : 1;
    const heldBack = result.outcome !== 'failed' && report.sqsMessageIds.some((id) => ctx.failures.has(id));
    const retry = (result.outcome === 'failed' && dispositionOf(result) === 'retry') || heldBack;
    const deadLetter = retry && attempt >= maxReceiveCount;
    let reason = result.reason;
    if (retry && result.outcome === 'failed') {
      reason = deadLetter
        ? `attempt ${attempt}/${maxReceiveCount}: last attempt, the message goes to the dead-letter queue / 最后一次尝试，消息将进入死信队列`
        : `attempt ${attempt}/${maxReceiveCount}: will be retried / 将重试`;
    }
    entries.push({ result: { ...result, reason }, attempt });
    if (retry && !deadLetter) continue;
    // Only failures (and dead letters) are written back to the inbox: a success is in the sync log, and
    // marking it `processed` would cost one write per event that only a redelivery would read — which, still
    // `received`, is queued again and dropped by the FIFO deduplication or skipped as an already synced
    // version. The event's pending read is normally gone already (claimed by whichever worker read it); one
    // that is not is taken into a later read once, then gone.
    if (result.outcome !== 'failed' && !deadLetter) continue;
    const state = result.outcome === 'failed' ? 'failed' : 'processed';
    for (const messageId of result.inboxMessageIds ?? []) {
      done.push({ messageId, state, detail: deadLetter ? 'dead-letter queue' : (reason ?? result.outcome) });
    }
  }
  await writeSyncLogs(runtime, logger, entries, ctx.durationMs);
  await Promise.all(
    done.map(({ messageId, state, detail }) =>
      runtime.state.inbox
        .markDone(messageId, state, detail)
        .catch((error: unknown) => logger.warn('sync.inbox.mark-failed', { messageId, error })),
    ),
  );
}

/** The function-log line of one result. */
function logResult(logger: Logger, result: SyncResult, attempt: number): void {
  const line = {
    flow: result.flow,
    source: result.source,
    outcome: result.outcome,
    reason: result.reason,
    attempt,
    code: result.error?.code,
    kind: result.error?.kind,
    remoteMessages: result.error?.remoteMessages,
    target: result.target,
    operations: result.operations,
    correlationId: result.correlationId,
  };
  if (result.outcome === 'failed') logger.warn('sync.record', { ...line, message: result.error?.message });
  else logger.info('sync.record', line);
}

/** The sync-log entry of one result. */
function syncLogEntry(result: SyncResult, attempt: number, durationMs: number): SyncLogEntryInput {
  return {
    flow: result.flow,
    source: result.source,
    ...(result.target ? { target: result.target } : {}),
    ...(result.sourceVersion === undefined ? {} : { sourceVersion: result.sourceVersion }),
    ...(result.inboxMessageIds?.[0] === undefined ? {} : { messageId: result.inboxMessageIds[0] }),
    correlationId: result.correlationId,
    attempt,
    outcome: result.outcome,
    ...(result.reason === undefined ? {} : { reason: result.reason.slice(0, 256) }),
    durationMs: Math.max(0, durationMs),
    ...(result.operations && result.operations.length > 0
      ? { operations: result.operations.slice(0, 20) }
      : {}),
    ...(result.error ? { error: result.error } : {}),
  };
}

/**
 * Several results into the function log and, together, into the sync log. When the batched write fails
 * (or one entry is invalid), each entry is written on its own so one bad entry costs only itself.
 */
async function writeSyncLogs(
  runtime: SyncRuntime,
  logger: Logger,
  entries: readonly { result: SyncResult; attempt: number }[],
  durationMs: number,
): Promise<void> {
  for (const { result, attempt } of entries) logResult(logger, result, attempt);
  if (entries.length === 0) return;
  try {
    await runtime.state.syncLog.appendMany(
      entries.map(({ result, attempt }) => syncLogEntry(result, attempt, durationMs)),
    );
  } catch {
    await Promise.all(
      entries.map(async ({ result, attempt }) => {
        try {
          await runtime.state.syncLog.append(syncLogEntry(result, attempt, durationMs));
        } catch (error) {
          logger.error('sync.sync-log.write-failed', { source: result.source, error });
        }
      }),
    );
  }
}

/**
 * One result into the function log and the sync log (K3's/Fxiaoke's messages verbatim in `error`). A sync
 * log that cannot be written is reported in the function log; it never changes what happens to the record.
 */
export async function writeSyncLog(
  runtime: SyncRuntime,
  logger: Logger,
  result: SyncResult,
  options: { attempt: number; durationMs: number },
): Promise<void> {
  logResult(logger, result, options.attempt);
  try {
    await runtime.state.syncLog.append(syncLogEntry(result, options.attempt, options.durationMs));
  } catch (error) {
    logger.error('sync.sync-log.write-failed', { source: result.source, error });
  }
}
