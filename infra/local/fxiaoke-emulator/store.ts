/**
 * The emulator's one store: records per object in memory, optionally persisted to a directory.
 *
 * Persistence is a snapshot plus an append-only journal, so the hot path never rewrites the whole store:
 * each committed write appends its changed records as JSON lines in one synchronous `appendFileSync`, before
 * the HTTP answer goes out — an acknowledged write survives even a crash of the process. The snapshot is
 * rewritten (temp file + rename) when the store opens, when it closes, and when the journal has grown well
 * beyond the data it describes.
 *
 * Records are treated as immutable values: a write replaces the stored object, never mutates it, so callers
 * may hold on to what they read.
 */
import {
  appendFileSync,
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../../../lib/log.ts';

export type StoredRecord = Readonly<Record<string, unknown>>;

export type StoreChange =
  | { kind: 'put'; apiName: string; record: StoredRecord }
  | { kind: 'delete'; apiName: string; id: string }
  | { kind: 'counter'; key: string; value: number };

const SNAPSHOT_FILE = 'records.snapshot.json';
const JOURNAL_FILE = 'records.journal.jsonl';
const SNAPSHOT_FORMAT = 'fxiaoke-emulator-store/1';
/** Compact once the journal holds this many lines more than (4 ×) the records it describes. */
const MIN_JOURNAL_LINES_BEFORE_COMPACTION = 50_000;

/** The store's files are unreadable; the emulator refuses to start rather than silently lose data. */
export class StoreCorruptError extends Error {}

interface SnapshotFile {
  format: string;
  savedAt: string;
  counters: Record<string, number>;
  tables: Record<string, StoredRecord[]>;
}

function isRecordArray(value: unknown): value is StoredRecord[] {
  return Array.isArray(value) && value.every((item) => typeof item === 'object' && item !== null);
}

function parseSnapshot(text: string, path: string): SnapshotFile {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new StoreCorruptError(`快照文件无法解析 / Snapshot ${path} is not valid JSON: ${String(error)}`);
  }
  if (typeof json !== 'object' || json === null || !('format' in json) || json.format !== SNAPSHOT_FORMAT) {
    throw new StoreCorruptError(`快照文件格式不对 / ${path} is not a ${SNAPSHOT_FORMAT} snapshot`);
  }
  const tables: Record<string, StoredRecord[]> = {};
  const counters: Record<string, number> = {};
  if ('tables' in json && typeof json.tables === 'object' && json.tables !== null) {
    for (const [apiName, rows] of Object.entries(json.tables)) {
      if (!isRecordArray(rows))
        throw new StoreCorruptError(`${path}: table ${apiName} is not a list of records`);
      tables[apiName] = rows;
    }
  }
  if ('counters' in json && typeof json.counters === 'object' && json.counters !== null) {
    for (const [key, value] of Object.entries(json.counters)) {
      if (typeof value === 'number') counters[key] = value;
    }
  }
  return { format: SNAPSHOT_FORMAT, savedAt: '', counters, tables };
}

function parseJournalLine(line: string): StoreChange | undefined {
  const json: unknown = JSON.parse(line);
  if (typeof json !== 'object' || json === null || !('t' in json)) return undefined;
  if (json.t === 'put' && 'a' in json && typeof json.a === 'string' && 'r' in json) {
    const record = json.r;
    if (typeof record === 'object' && record !== null && '_id' in record && typeof record._id === 'string') {
      return { kind: 'put', apiName: json.a, record };
    }
  }
  if (
    json.t === 'del' &&
    'a' in json &&
    typeof json.a === 'string' &&
    'id' in json &&
    typeof json.id === 'string'
  ) {
    return { kind: 'delete', apiName: json.a, id: json.id };
  }
  if (
    json.t === 'ctr' &&
    'k' in json &&
    typeof json.k === 'string' &&
    'v' in json &&
    typeof json.v === 'number'
  ) {
    return { kind: 'counter', key: json.k, value: json.v };
  }
  return undefined;
}

function journalLine(change: StoreChange): string {
  switch (change.kind) {
    case 'put':
      return JSON.stringify({ t: 'put', a: change.apiName, r: change.record });
    case 'delete':
      return JSON.stringify({ t: 'del', a: change.apiName, id: change.id });
    case 'counter':
      return JSON.stringify({ t: 'ctr', k: change.key, v: change.value });
  }
}

export interface RecordStoreOptions {
  dataDir?: string | undefined;
  /** The master_detail field of an object, if it is a detail object (keeps the master → details index). */
  masterFieldOf: (apiName: string) => string | undefined;
  logger: Logger;
}

export class RecordStore {
  readonly #tables = new Map<string, Map<string, StoredRecord>>();
  readonly #counters = new Map<string, number>();
  /** `${detailApiName}|${masterId}` → detail ids. */
  readonly #detailIndex = new Map<string, Set<string>>();
  readonly #dataDir: string | undefined;
  readonly #masterFieldOf: (apiName: string) => string | undefined;
  readonly #logger: Logger;
  #journalFd: number | undefined;
  #journalLines = 0;
  #recordCount = 0;
  #closed = false;

  /**
   * Open the store, loading `dataDir` when given (created if missing).
   * @throws {StoreCorruptError} when the snapshot or a journal line (other than a torn last line) is unreadable.
   */
  constructor(options: RecordStoreOptions) {
    this.#dataDir = options.dataDir;
    this.#masterFieldOf = options.masterFieldOf;
    this.#logger = options.logger;
    if (this.#dataDir) {
      mkdirSync(this.#dataDir, { recursive: true });
      this.#load(this.#dataDir);
      this.#compact();
    }
  }

  get persistent(): boolean {
    return this.#dataDir !== undefined;
  }

  get dataDir(): string | undefined {
    return this.#dataDir;
  }

  #load(dir: string): void {
    const snapshotPath = join(dir, SNAPSHOT_FILE);
    if (existsSync(snapshotPath)) {
      const snapshot = parseSnapshot(readFileSync(snapshotPath, 'utf8'), snapshotPath);
      for (const [key, value] of Object.entries(snapshot.counters)) this.#counters.set(key, value);
      for (const [apiName, rows] of Object.entries(snapshot.tables)) {
        for (const record of rows) {
          if (typeof record._id === 'string') this.#put(apiName, record);
        }
      }
    }
    const journalPath = join(dir, JOURNAL_FILE);
    if (!existsSync(journalPath)) return;
    const lines = readFileSync(journalPath, 'utf8').split('\n');
    let replayed = 0;
    lines.forEach((line, index) => {
      if (line.trim() === '') return;
      let change: StoreChange | undefined;
      try {
        change = parseJournalLine(line);
      } catch (error) {
        // A crash can tear the very last line (the write it belonged to was never acknowledged); anything
        // else means the file was damaged, and starting anyway would silently drop acknowledged writes.
        const isLast = lines.slice(index + 1).every((rest) => rest.trim() === '');
        if (isLast) {
          this.#logger.warn('fxiaoke_emulator.journal_torn_line', { line: index + 1 });
          return;
        }
        throw new StoreCorruptError(
          `日志文件第 ${index + 1} 行损坏 / ${journalPath} line ${index + 1} is unreadable: ${String(error)}`,
        );
      }
      if (change) {
        this.#apply(change);
        replayed += 1;
      }
    });
    this.#logger.info('fxiaoke_emulator.store_loaded', { records: this.#recordCount, replayed });
  }

  #put(apiName: string, record: StoredRecord): void {
    const id = String(record._id);
    let table = this.#tables.get(apiName);
    if (!table) {
      table = new Map();
      this.#tables.set(apiName, table);
    }
    const previous = table.get(id);
    if (previous) this.#unindex(apiName, previous);
    else this.#recordCount += 1;
    table.set(id, record);
    this.#index(apiName, record);
  }

  #delete(apiName: string, id: string): void {
    const table = this.#tables.get(apiName);
    const previous = table?.get(id);
    if (!table || !previous) return;
    this.#unindex(apiName, previous);
    table.delete(id);
    this.#recordCount -= 1;
  }

  #index(apiName: string, record: StoredRecord): void {
    const field = this.#masterFieldOf(apiName);
    const masterId = field === undefined ? undefined : record[field];
    if (typeof masterId !== 'string') return;
    const key = `${apiName}|${masterId}`;
    let ids = this.#detailIndex.get(key);
    if (!ids) {
      ids = new Set();
      this.#detailIndex.set(key, ids);
    }
    ids.add(String(record._id));
  }

  #unindex(apiName: string, record: StoredRecord): void {
    const field = this.#masterFieldOf(apiName);
    const masterId = field === undefined ? undefined : record[field];
    if (typeof masterId !== 'string') return;
    const key = `${apiName}|${masterId}`;
    const ids = this.#detailIndex.get(key);
    ids?.delete(String(record._id));
    if (ids?.size === 0) this.#detailIndex.delete(key);
  }

  #apply(change: StoreChange): void {
    if (change.kind === 'put') this.#put(change.apiName, change.record);
    else if (change.kind === 'delete') this.#delete(change.apiName, change.id);
    else this.#counters.set(change.key, change.value);
  }

  get(apiName: string, id: string): StoredRecord | undefined {
    return this.#tables.get(apiName)?.get(id);
  }

  /** All records of an object (live view; do not hold across writes). */
  records(apiName: string): Iterable<StoredRecord> {
    return this.#tables.get(apiName)?.values() ?? [];
  }

  count(apiName: string): number {
    return this.#tables.get(apiName)?.size ?? 0;
  }

  /** Record counts of every non-empty object. */
  counts(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [apiName, table] of this.#tables) if (table.size > 0) out[apiName] = table.size;
    return out;
  }

  get isEmpty(): boolean {
    return this.#recordCount === 0;
  }

  /** Detail records of `detailApiName` under master `masterId` (via the master_detail index). */
  details(detailApiName: string, masterId: string): StoredRecord[] {
    const ids = this.#detailIndex.get(`${detailApiName}|${masterId}`);
    if (!ids) return [];
    const table = this.#tables.get(detailApiName);
    const out: StoredRecord[] = [];
    for (const id of ids) {
      const record = table?.get(id);
      if (record) out.push(record);
    }
    return out;
  }

  counter(key: string): number {
    return this.#counters.get(key) ?? 0;
  }

  /**
   * Apply a batch of changes atomically in memory and append them to the journal in one write.
   * Callers validate everything first; a commit does not fail half-way (except on a disk error, which
   * propagates before the caller acknowledges anything).
   */
  commit(changes: readonly StoreChange[]): void {
    if (changes.length === 0) return;
    if (this.#closed) throw new Error('store is closed');
    if (this.#journalFd !== undefined) {
      appendFileSync(this.#journalFd, `${changes.map(journalLine).join('\n')}\n`);
      this.#journalLines += changes.length;
    }
    for (const change of changes) this.#apply(change);
    if (
      this.#journalFd !== undefined &&
      this.#journalLines > Math.max(MIN_JOURNAL_LINES_BEFORE_COMPACTION, 4 * this.#recordCount)
    ) {
      this.#compact();
    }
  }

  /** Drop every record and counter (the control endpoint's reset). */
  clear(): void {
    this.#tables.clear();
    this.#counters.clear();
    this.#detailIndex.clear();
    this.#recordCount = 0;
    if (this.#dataDir) this.#compact();
  }

  /** Write the snapshot and start an empty journal. */
  #compact(): void {
    const dir = this.#dataDir;
    if (!dir) return;
    if (this.#journalFd !== undefined) {
      closeSync(this.#journalFd);
      this.#journalFd = undefined;
    }
    const tables: Record<string, StoredRecord[]> = {};
    for (const [apiName, table] of this.#tables) tables[apiName] = [...table.values()];
    const snapshot: SnapshotFile = {
      format: SNAPSHOT_FORMAT,
      savedAt: new Date().toISOString(),
      counters: Object.fromEntries(this.#counters),
      tables,
    };
    const path = join(dir, SNAPSHOT_FILE);
    const temp = `${path}.tmp`;
    writeFileSync(temp, JSON.stringify(snapshot));
    renameSync(temp, path);
    // The snapshot now holds everything the journal did: start a fresh one.
    writeFileSync(join(dir, JOURNAL_FILE), '');
    this.#journalFd = openSync(join(dir, JOURNAL_FILE), 'a');
    this.#journalLines = 0;
  }

  /** Compact and release the journal; the store refuses writes afterwards. */
  close(): void {
    if (this.#closed) return;
    if (this.#dataDir) this.#compact();
    if (this.#journalFd !== undefined) closeSync(this.#journalFd);
    this.#journalFd = undefined;
    this.#closed = true;
  }

  /** Read an auxiliary JSON file from the data directory (tokens, pending pushes); undefined if absent. */
  readAux(name: string): unknown {
    if (!this.#dataDir) return undefined;
    const path = join(this.#dataDir, name);
    if (!existsSync(path)) return undefined;
    try {
      return JSON.parse(readFileSync(path, 'utf8'));
    } catch (error) {
      this.#logger.warn('fxiaoke_emulator.aux_unreadable', { file: name, error: String(error) });
      return undefined;
    }
  }

  /** Write (atomically) an auxiliary JSON file into the data directory; no-op without one. */
  writeAux(name: string, value: unknown): void {
    if (!this.#dataDir) return;
    const path = join(this.#dataDir, name);
    writeFileSync(`${path}.tmp`, JSON.stringify(value));
    renameSync(`${path}.tmp`, path);
  }
}
