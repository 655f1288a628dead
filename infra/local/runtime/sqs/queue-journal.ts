/**
 * On-disk persistence of the local queues: a snapshot plus an append-only journal of operations.
 *
 * Every state change of a queue (a send, a receive that puts a message in flight, a visibility change, a
 * delete, a move to the dead-letter queue, a purge) is one JSON line appended with a single `writeSync`
 * before the caller gets its answer. The page cache keeps it if the process crashes, and nothing on the hot
 * path rewrites a whole file. Receives are journaled too: a message's receive count must survive a crash,
 * or a message that crashes the stack would never reach its dead-letter queue.
 *
 * Compaction writes a new snapshot (temp file + rename) naming a fresh journal file (generation n + 1), then
 * deletes the old journal. A crash between the two steps leaves an orphan journal that the next start
 * ignores and removes — the snapshot says which journal belongs to it, so nothing is replayed twice.
 */
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { type Logger, silentLogger } from '../../../../lib/log.ts';
import { LocalRuntimeError } from '../errors.ts';

export const SNAPSHOT_FILE = 'queues.snapshot.json';
const SNAPSHOT_FORMAT = 'fxk3-local-sqs/1';
const JOURNAL_PATTERN = /^queues\.journal\.(\d+)\.jsonl$/;

const wireAttribute = z.object({
  DataType: z.string(),
  StringValue: z.string().optional(),
  BinaryValue: z.string().optional(),
});

export const queueSettingsSchema = z.object({
  fifo: z.boolean(),
  contentBasedDeduplication: z.boolean(),
  deduplicationScope: z.enum(['queue', 'messageGroup']),
  fifoThroughputLimit: z.enum(['perQueue', 'perMessageGroupId']),
  visibilityTimeoutSec: z.number().int().nonnegative(),
  messageRetentionSec: z.number().int().positive(),
  delaySec: z.number().int().nonnegative(),
  receiveMessageWaitTimeSec: z.number().int().nonnegative(),
  maximumMessageSize: z.number().int().positive(),
  redrivePolicy: z
    .object({ deadLetterTargetArn: z.string(), maxReceiveCount: z.number().int().positive() })
    .optional(),
});

export type QueueSettings = z.output<typeof queueSettingsSchema>;

export const storedMessageSchema = z.object({
  messageId: z.string(),
  body: z.string(),
  md5OfBody: z.string(),
  messageAttributes: z.record(z.string(), wireAttribute),
  md5OfMessageAttributes: z.string().optional(),
  systemAttributes: z.record(z.string(), wireAttribute),
  md5OfMessageSystemAttributes: z.string().optional(),
  groupId: z.string().optional(),
  dedupId: z.string().optional(),
  sequenceNumber: z.string().optional(),
  sentAtMs: z.number(),
  senderId: z.string(),
  visibleAtMs: z.number(),
  receiveCount: z.number().int().nonnegative(),
  firstReceiveAtMs: z.number().optional(),
  receiptNonce: z.string().optional(),
  deadLetterSourceArn: z.string().optional(),
});

/** A message as the engine keeps it (mutable inside the engine only). */
export type StoredMessage = z.output<typeof storedMessageSchema>;

const dedupeEntrySchema = z.object({
  key: z.string(),
  messageId: z.string(),
  sequenceNumber: z.string().optional(),
  expiresAtMs: z.number(),
});

export type DedupeEntry = z.output<typeof dedupeEntrySchema>;

export const journalRecordSchema = z.discriminatedUnion('op', [
  z.object({ op: z.literal('queue'), q: z.string(), settings: queueSettingsSchema, atMs: z.number() }),
  z.object({
    op: z.literal('send'),
    q: z.string(),
    m: storedMessageSchema,
    dedupe: dedupeEntrySchema.optional(),
  }),
  z.object({
    op: z.literal('recv'),
    q: z.string(),
    id: z.string(),
    nonce: z.string(),
    visibleAtMs: z.number(),
    receiveCount: z.number().int(),
    firstReceiveAtMs: z.number(),
  }),
  z.object({ op: z.literal('vis'), q: z.string(), id: z.string(), visibleAtMs: z.number() }),
  z.object({ op: z.literal('del'), q: z.string(), id: z.string() }),
  z.object({ op: z.literal('move'), q: z.string(), id: z.string(), to: z.string(), m: storedMessageSchema }),
  z.object({ op: z.literal('purge'), q: z.string(), atMs: z.number() }),
]);

export type JournalRecord = z.output<typeof journalRecordSchema>;

export const queueSnapshotSchema = z.object({
  name: z.string(),
  settings: queueSettingsSchema,
  createdAtMs: z.number(),
  lastModifiedAtMs: z.number(),
  sequence: z.number().int().nonnegative(),
  lastPurgeAtMs: z.number().optional(),
  messages: z.array(storedMessageSchema),
  dedupe: z.array(dedupeEntrySchema),
});

export type QueueSnapshot = z.output<typeof queueSnapshotSchema>;

const snapshotFileSchema = z.object({
  format: z.literal(SNAPSHOT_FORMAT),
  generation: z.number().int().nonnegative(),
  savedAt: z.string(),
  queues: z.array(queueSnapshotSchema),
});

function corrupt(message: string, cause?: unknown): LocalRuntimeError {
  return new LocalRuntimeError(message, 'LOCAL_QUEUE_STORE_CORRUPT', {
    kind: 'internal',
    ...(cause === undefined ? {} : { cause }),
  });
}

export interface LoadedQueueState {
  snapshot: QueueSnapshot[];
  records: JournalRecord[];
}

/**
 * The queue files of one data directory. Not safe for two processes at once (neither is the stack: one
 * data directory, one `npm start`).
 */
export class QueueJournal {
  readonly #dir: string;
  readonly #logger: Logger;
  #generation = 0;
  #fd: number | undefined;
  #lines = 0;

  constructor(dir: string, logger: Logger = silentLogger) {
    this.#dir = dir;
    this.#logger = logger;
  }

  /** Lines appended since the last compaction. */
  get lines(): number {
    return this.#lines;
  }

  /**
   * Read the snapshot and its journal. A torn last journal line (a crash in the middle of a write, never
   * acknowledged to anybody) is skipped with a warning; any other damage stops start-up.
   *
   * @throws {LocalRuntimeError} `LOCAL_QUEUE_STORE_CORRUPT` naming the file and line.
   */
  load(): LoadedQueueState {
    mkdirSync(this.#dir, { recursive: true });
    const snapshotPath = join(this.#dir, SNAPSHOT_FILE);
    let snapshot: QueueSnapshot[] = [];
    if (existsSync(snapshotPath)) {
      let json: unknown;
      try {
        json = JSON.parse(readFileSync(snapshotPath, 'utf8'));
      } catch (error) {
        throw corrupt(`队列快照无法解析 / Queue snapshot ${snapshotPath} is not valid JSON`, error);
      }
      const parsed = snapshotFileSchema.safeParse(json);
      if (!parsed.success) {
        throw corrupt(
          `队列快照格式不符 / Queue snapshot ${snapshotPath} has an unexpected shape: ${parsed.error.issues[0]?.message ?? ''}`,
        );
      }
      this.#generation = parsed.data.generation;
      snapshot = parsed.data.queues;
    }
    const journalPath = this.#journalPath(this.#generation);
    const records: JournalRecord[] = [];
    if (existsSync(journalPath)) {
      const text = readFileSync(journalPath, 'utf8');
      const lines = text.split('\n');
      const complete = text.endsWith('\n');
      for (let index = 0; index < lines.length; index++) {
        const line = lines[index] ?? '';
        if (line.trim() === '') continue;
        const isLast = index === lines.length - 1;
        let json: unknown;
        try {
          json = JSON.parse(line);
        } catch (error) {
          if (isLast && !complete) {
            this.#logger.warn('local.sqs.journal_torn_line_skipped', { file: journalPath, line: index + 1 });
            continue;
          }
          throw corrupt(
            `队列日志损坏 / Queue journal ${journalPath} line ${index + 1} is not valid JSON`,
            error,
          );
        }
        const parsed = journalRecordSchema.safeParse(json);
        if (!parsed.success) {
          throw corrupt(
            `队列日志损坏 / Queue journal ${journalPath} line ${index + 1} has an unexpected shape`,
          );
        }
        records.push(parsed.data);
      }
    }
    return { snapshot, records };
  }

  /**
   * Write a new snapshot and start an empty journal; removes journals of older generations.
   *
   * @throws Error from the file system (disk full, permissions) — the caller keeps the old files then.
   */
  compact(queues: readonly QueueSnapshot[]): void {
    const next = this.#generation + 1;
    const snapshotPath = join(this.#dir, SNAPSHOT_FILE);
    const temp = `${snapshotPath}.tmp`;
    const body = { format: SNAPSHOT_FORMAT, generation: next, savedAt: new Date().toISOString(), queues };
    writeFileSync(temp, JSON.stringify(body));
    // The new journal must exist before the snapshot that names it becomes visible.
    const fd = openSync(this.#journalPath(next), 'a');
    renameSync(temp, snapshotPath);
    if (this.#fd !== undefined) closeSync(this.#fd);
    this.#fd = fd;
    this.#generation = next;
    this.#lines = 0;
    for (const entry of readdirSync(this.#dir)) {
      const match = JOURNAL_PATTERN.exec(entry);
      if (match && Number(match[1]) !== next) rmSync(join(this.#dir, entry), { force: true });
    }
  }

  /** Append records as lines in one write. */
  append(records: readonly JournalRecord[]): void {
    if (records.length === 0) return;
    if (this.#fd === undefined) this.#fd = openSync(this.#journalPath(this.#generation), 'a');
    let text = '';
    for (const record of records) text += `${JSON.stringify(record)}\n`;
    writeSync(this.#fd, text);
    this.#lines += records.length;
  }

  close(): void {
    if (this.#fd !== undefined) closeSync(this.#fd);
    this.#fd = undefined;
  }

  #journalPath(generation: number): string {
    return join(this.#dir, `queues.journal.${generation}.jsonl`);
  }
}
