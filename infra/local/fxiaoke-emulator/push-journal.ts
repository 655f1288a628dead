/**
 * The Fxiaoke emulator's undelivered change pushes on disk, kept as they change — so a crash of the process
 * (in sandbox mode the emulator lives inside the local stack's process) loses no push. A real tenant keeps
 * retrying its pushes whatever happens to the receiver; before this journal the emulator saved its pending
 * pushes only on a clean stop, and a `kill -9` of `npm start` silently dropped the CRM changes not yet
 * acknowledged.
 *
 * File `pending-pushes.journal.jsonl` in the data directory, one JSON line per change, appended with a
 * synchronous write before the API call that caused the push answers:
 *   {"q": PendingPush}                  queued (a new change event for one callback URL)
 *   {"r": messageId, "n": 2, "u": url}  tried and waiting for another attempt (or moved to another URL)
 *   {"d": messageId}                    done: acknowledged, or abandoned after the last retry
 * Loading replays it: every queued push not done, with its latest attempt count and URL. The file is
 * rewritten with just those on start, on a clean stop, and when it has grown well past what is pending.
 * A torn last line (a crash mid-append) is ignored; any other unreadable line is skipped and counted in a
 * warning — the cost is at most one push lost or sent again, which the receiver must tolerate anyway.
 *
 * Data directories of earlier versions kept the pending pushes of a clean stop in `pending-pushes.json`;
 * it is read once, merged, and removed.
 */
import {
  closeSync,
  existsSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../../../lib/log.ts';
import { type PendingPush, parsePendingPushes } from './push.ts';

const JOURNAL_FILE = 'pending-pushes.journal.jsonl';
const LEGACY_FILE = 'pending-pushes.json';
/** Rewrite when the journal has more lines than this and more than four per pending push. */
const MIN_LINES_BEFORE_COMPACTION = 10_000;

/** What the dispatcher tells the journal (see push.ts). */
export interface PushJournalSink {
  queued(push: PendingPush): void;
  attempted(push: PendingPush): void;
  settled(push: PendingPush): void;
  /** Whether the journal should be rewritten, given how many pushes are pending now. */
  wantsCompaction(pending: number): boolean;
  rewrite(pending: readonly PendingPush[]): void;
}

type Line =
  | { kind: 'queued'; push: PendingPush }
  | { kind: 'attempted'; messageId: string; deliveries: number; url: string }
  | { kind: 'done'; messageId: string };

function parseLine(text: string): Line | undefined {
  const json: unknown = JSON.parse(text);
  if (typeof json !== 'object' || json === null) return undefined;
  if ('q' in json) {
    const [push] = parsePendingPushes([json.q]) ?? [];
    return push ? { kind: 'queued', push } : undefined;
  }
  if ('r' in json && typeof json.r === 'string' && 'n' in json && typeof json.n === 'number') {
    const url = 'u' in json && typeof json.u === 'string' ? json.u : '';
    return { kind: 'attempted', messageId: json.r, deliveries: json.n, url };
  }
  if ('d' in json && typeof json.d === 'string') return { kind: 'done', messageId: json.d };
  return undefined;
}

export class PushJournal implements PushJournalSink {
  readonly #dir: string;
  readonly #logger: Logger;
  #fd: number | undefined;
  #lines = 0;

  constructor(dir: string, logger: Logger) {
    this.#dir = dir;
    this.#logger = logger;
  }

  /**
   * The pushes the previous run left undelivered, in the order they were queued; the journal is then
   * rewritten with just them and kept open for appends.
   */
  load(): PendingPush[] {
    const pending = new Map<string, PendingPush>();
    const legacyPath = join(this.#dir, LEGACY_FILE);
    if (existsSync(legacyPath)) {
      let legacy: PendingPush[] | undefined;
      try {
        legacy = parsePendingPushes(JSON.parse(readFileSync(legacyPath, 'utf8')));
      } catch {
        legacy = undefined;
      }
      if (legacy === undefined)
        this.#logger.warn('fxiaoke_emulator.pending_pushes_unreadable', { file: LEGACY_FILE });
      for (const push of legacy ?? []) pending.set(push.inner.messageId, push);
    }
    const path = join(this.#dir, JOURNAL_FILE);
    if (existsSync(path)) {
      const lines = readFileSync(path, 'utf8').split('\n');
      const last = lines.findLastIndex((line) => line.trim() !== '');
      let skipped = 0;
      lines.forEach((text, index) => {
        if (text.trim() === '') return;
        let line: Line | undefined;
        try {
          line = parseLine(text);
        } catch {
          line = undefined;
        }
        if (!line) {
          // A crash can tear the last line only; anything else is damage, reported but not fatal.
          if (index !== last) skipped += 1;
          return;
        }
        if (line.kind === 'queued') {
          pending.set(line.push.inner.messageId, line.push);
        } else if (line.kind === 'attempted') {
          const push = pending.get(line.messageId);
          if (push) {
            push.deliveries = line.deliveries;
            if (line.url !== '') push.url = line.url;
          }
        } else {
          pending.delete(line.messageId);
        }
      });
      if (skipped > 0) this.#logger.warn('fxiaoke_emulator.push_journal_damaged', { skippedLines: skipped });
    }
    const restored = [...pending.values()];
    this.rewrite(restored);
    rmSync(legacyPath, { force: true });
    return restored;
  }

  wantsCompaction(pending: number): boolean {
    return this.#lines > Math.max(MIN_LINES_BEFORE_COMPACTION, 4 * pending);
  }

  queued(push: PendingPush): void {
    this.#append({ q: push });
  }

  attempted(push: PendingPush): void {
    this.#append({ r: push.inner.messageId, n: push.deliveries, u: push.url });
  }

  settled(push: PendingPush): void {
    this.#append({ d: push.inner.messageId });
  }

  /** Replace the journal with one `queued` line per pending push (atomically, via rename). */
  rewrite(pending: readonly PendingPush[]): void {
    if (this.#fd !== undefined) {
      closeSync(this.#fd);
      this.#fd = undefined;
    }
    const path = join(this.#dir, JOURNAL_FILE);
    const text = pending.map((push) => `${JSON.stringify({ q: push })}\n`).join('');
    writeFileSync(`${path}.tmp`, text);
    renameSync(`${path}.tmp`, path);
    this.#lines = pending.length;
  }

  /** Stop appending (the file stays as the last write left it). */
  close(): void {
    if (this.#fd !== undefined) closeSync(this.#fd);
    this.#fd = undefined;
  }

  #append(value: unknown): void {
    if (this.#fd === undefined) this.#fd = openSync(join(this.#dir, JOURNAL_FILE), 'a');
    writeSync(this.#fd, `${JSON.stringify(value)}\n`);
    this.#lines += 1;
  }
}
