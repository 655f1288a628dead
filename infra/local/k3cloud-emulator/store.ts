/**
 * The emulator's one record store: in memory, and optionally on disk.
 *
 * Persistence is incremental so the hot path stays cheap under benchmark load: every committed operation
 * appends one JSON line to a journal (a synchronous append, so an acknowledged write is in the OS before the
 * response leaves and survives any clean shutdown); the whole store is rewritten as a snapshot only on start,
 * on close, on reset, and when the journal grows past {@link COMPACT_AFTER_LINES}. Loading replays the
 * journal over the snapshot and ignores a torn last line (a crash mid-append).
 */
import {
  appendFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../../../lib/log.ts';
import type { FieldValue } from './metadata.ts';

/** An entry row's link to the source row it was pushed from (K3 keeps these in `<Entry>_Link`). */
export interface RowLink {
  ruleId: string;
  sourceFormId: string;
  sourceId: number;
  sourceEntryId: number;
}

export interface StoredRow {
  id: number;
  values: Record<string, FieldValue>;
  link?: RowLink;
}

export interface StoredRecord {
  id: number;
  /** Base data allocated to another organisation shares the master's id here (K3 `msterID`). */
  masterId: number;
  /** Header and sub-header values by canonical field key; references hold internal ids. */
  values: Record<string, FieldValue>;
  /** Entry rows by canonical entity key. */
  entries: Record<string, StoredRow[]>;
}

export interface StoreChange {
  puts: { formId: string; record: StoredRecord }[];
  dels: { formId: string; id: number }[];
}

/** Records of one form by the value of one field (see {@link RecordStore.idsWithValues}). */
interface ValueIndex {
  /** The entry the field belongs to; undefined for header and sub-header fields. */
  entryKey: string | undefined;
  /** Lower-case string value → ids of the records holding it (in any row, for an entry field). */
  byValue: Map<string, Set<number>>;
  /** Records holding a value that is not a string there: always candidates (the query decides). */
  other: Set<number>;
}

interface Snapshot {
  version: 1;
  counters: Record<string, number>;
  records: Record<string, StoredRecord[]>;
}

interface JournalLine {
  puts?: StoreChange['puts'];
  dels?: StoreChange['dels'];
  counters: Record<string, number>;
}

const SNAPSHOT_FILE = 'k3cloud-store.json';
const JOURNAL_FILE = 'k3cloud-journal.jsonl';
/** Rewrite the snapshot after this many journal lines, so a restart never replays much. */
const COMPACT_AFTER_LINES = 5_000;

export interface RecordStoreOptions {
  dataDir?: string;
  /** Which header field holds the number (FBillNo / FNumber) of a form, for the number index. */
  numberKeyOf: (formId: string) => string;
  logger: Logger;
  /** Time source of the first-commit times (`firstCommitTimes`). Default Date.now. */
  clock?: () => number;
}

export class RecordStore {
  readonly #dataDir: string | undefined;
  readonly #numberKeyOf: (formId: string) => string;
  readonly #logger: Logger;
  #records = new Map<string, Map<number, StoredRecord>>();
  /** formId → lower-case number → ids (several when base data is allocated to other orgs) */
  #byNumber = new Map<string, Map<string, Set<number>>>();
  #counters: Record<string, number> = {};
  #journalLines = 0;
  readonly #clock: () => number;
  /** formId → field key → value index, built on a form's first indexed query and kept up to date after. */
  #valueIndexes = new Map<string, Map<string, ValueIndex>>();
  /** formId → id → insertion sequence: candidates from an index come back in `all()` order. */
  #sequence = new Map<string, Map<number, number>>();
  #nextSequence = 0;
  /** formId → id → when this process first committed the record (memory only: an observation, not data). */
  #firstCommitAt = new Map<string, Map<number, number>>();

  constructor(options: RecordStoreOptions) {
    this.#dataDir = options.dataDir;
    this.#numberKeyOf = options.numberKeyOf;
    this.#logger = options.logger;
    this.#clock = options.clock ?? Date.now;
  }

  /** Read the snapshot and replay the journal (when a data directory is configured), then compact. */
  load(): void {
    const dir = this.#dataDir;
    if (!dir) return;
    mkdirSync(dir, { recursive: true });
    const snapshotPath = join(dir, SNAPSHOT_FILE);
    if (existsSync(snapshotPath)) {
      const snapshot = JSON.parse(readFileSync(snapshotPath, 'utf8')) as Snapshot;
      this.#counters = { ...snapshot.counters };
      for (const [formId, records] of Object.entries(snapshot.records)) {
        for (const record of records) this.#put(formId, record);
      }
    }
    const journalPath = join(dir, JOURNAL_FILE);
    if (existsSync(journalPath)) {
      const lines = readFileSync(journalPath, 'utf8').split('\n');
      lines.forEach((line, index) => {
        if (line.trim() === '') return;
        let parsed: JournalLine;
        try {
          parsed = JSON.parse(line) as JournalLine;
        } catch (error) {
          // Only the last line can be torn (the process died mid-append); anything else is corruption.
          if (index >= lines.length - 2) {
            this.#logger.warn('k3cloud_emulator.journal_torn_line_ignored', { line: index + 1 });
            return;
          }
          throw new Error(`K3Cloud emulator journal ${journalPath} line ${index + 1} is corrupt`, {
            cause: error,
          });
        }
        this.#apply(parsed);
      });
    }
    this.compact();
  }

  isEmpty(): boolean {
    for (const map of this.#records.values()) if (map.size > 0) return false;
    return true;
  }

  get(formId: string, id: number): StoredRecord | undefined {
    return this.#records.get(formId)?.get(id);
  }

  /** Records of a form in insertion (= id) order. The objects are shared: never mutate them. */
  all(formId: string): Iterable<StoredRecord> {
    return this.#records.get(formId)?.values() ?? [];
  }

  count(formId: string): number {
    return this.#records.get(formId)?.size ?? 0;
  }

  counts(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [formId, map] of this.#records) out[formId] = map.size;
    return out;
  }

  /** Ids of the records whose number equals `number` (case-insensitive, as SQL Server compares). */
  idsByNumber(formId: string, number: string): number[] {
    const ids = this.#byNumber.get(formId)?.get(number.toLowerCase());
    return ids ? [...ids] : [];
  }

  /** A fresh internal id for a table (a form header or one of its entries). */
  nextId(table: string, floor = 100_001): number {
    const key = `id:${table}`;
    const next = Math.max(this.#counters[key] ?? floor, floor);
    this.#counters[key] = next + 1;
    return next;
  }

  /** Make sure ids below `id` are never handed out again for `table` (explicit ids in the seed). */
  reserveId(table: string, id: number): void {
    const key = `id:${table}`;
    this.#counters[key] = Math.max(this.#counters[key] ?? 0, id + 1);
  }

  /** The next sequence value of a numbering rule (1, 2, …). */
  nextSequence(rule: string): number {
    const key = `no:${rule}`;
    const next = this.#counters[key] ?? 1;
    this.#counters[key] = next + 1;
    return next;
  }

  /** Apply one operation's changes atomically in memory and append them to the journal. */
  commit(change: StoreChange): void {
    const line: JournalLine = { counters: this.#counters };
    if (change.puts.length > 0) line.puts = change.puts;
    if (change.dels.length > 0) line.dels = change.dels;
    if (this.#dataDir) {
      // Serialise before applying: the journal line must describe exactly what memory will hold.
      appendFileSync(join(this.#dataDir, JOURNAL_FILE), `${JSON.stringify(line)}\n`);
      this.#journalLines += 1;
    }
    const now = this.#clock();
    for (const put of change.puts) {
      let times = this.#firstCommitAt.get(put.formId);
      if (!times) {
        times = new Map();
        this.#firstCommitAt.set(put.formId, times);
      }
      if (!times.has(put.record.id) && !this.#records.get(put.formId)?.has(put.record.id)) {
        times.set(put.record.id, now);
      }
    }
    this.#apply(line);
    if (this.#journalLines >= COMPACT_AFTER_LINES) this.compact();
  }

  /**
   * When each record of a form created by this process was first committed (its first Save), by id.
   * Records loaded from disk or seeded before are not listed.
   */
  firstCommitTimes(formId: string): ReadonlyMap<number, number> {
    return this.#firstCommitAt.get(formId) ?? new Map();
  }

  /** Drop every record and counter (the caller re-seeds). */
  clear(): void {
    this.#records = new Map();
    this.#firstCommitAt = new Map();
    this.#valueIndexes = new Map();
    this.#sequence = new Map();
    this.#byNumber = new Map();
    this.#counters = {};
    this.compact();
  }

  /**
   * Ids of the records of a form whose field `fieldKey` (of entry `entryKey`, or of the header) equals one
   * of `values` case-insensitively — a superset of the exact matches, which the caller still filters (a
   * record holding a non-string value there is always included). In `all()` order. The index of a field is
   * built on first use and maintained by every commit after, so equality and IN filters on key fields
   * (FNumber, FBillNo, extension fields, FSrcBillNo) do not scan the form.
   */
  idsWithValues(
    formId: string,
    fieldKey: string,
    entryKey: string | undefined,
    values: readonly string[],
  ): number[] {
    let forForm = this.#valueIndexes.get(formId);
    if (!forForm) {
      forForm = new Map();
      this.#valueIndexes.set(formId, forForm);
    }
    const indexKey = `${entryKey ?? ''}\u0000${fieldKey}`;
    let index = forForm.get(indexKey);
    if (!index) {
      index = { entryKey, byValue: new Map(), other: new Set() };
      forForm.set(indexKey, index);
      for (const record of this.all(formId)) this.#indexValues(index, fieldKey, record);
    }
    const ids = new Set<number>(index.other);
    for (const value of values) for (const id of index.byValue.get(value.toLowerCase()) ?? []) ids.add(id);
    const order = this.#sequence.get(formId);
    return [...ids].sort((a, b) => (order?.get(a) ?? 0) - (order?.get(b) ?? 0));
  }

  /** Those of `ids` that exist in the form, in `all()` order. */
  existingIds(formId: string, ids: Iterable<number>): number[] {
    const map = this.#records.get(formId);
    const order = this.#sequence.get(formId);
    return [...new Set(ids)]
      .filter((id) => map?.has(id))
      .sort((a, b) => (order?.get(a) ?? 0) - (order?.get(b) ?? 0));
  }

  #fieldValues(index: ValueIndex, fieldKey: string, record: StoredRecord): FieldValue[] {
    if (index.entryKey === undefined) {
      const value = record.values[fieldKey];
      return value === undefined ? [] : [value];
    }
    return (record.entries[index.entryKey] ?? []).flatMap((row) => {
      const value = row.values[fieldKey];
      return value === undefined ? [] : [value];
    });
  }

  #indexValues(index: ValueIndex, fieldKey: string, record: StoredRecord): void {
    for (const value of this.#fieldValues(index, fieldKey, record)) {
      if (typeof value !== 'string') {
        index.other.add(record.id);
        continue;
      }
      const key = value.toLowerCase();
      const ids = index.byValue.get(key);
      if (ids) ids.add(record.id);
      else index.byValue.set(key, new Set([record.id]));
    }
  }

  #unindexValues(index: ValueIndex, fieldKey: string, record: StoredRecord): void {
    index.other.delete(record.id);
    for (const value of this.#fieldValues(index, fieldKey, record)) {
      if (typeof value === 'string') index.byValue.get(value.toLowerCase())?.delete(record.id);
    }
  }

  #eachIndex(formId: string, visit: (index: ValueIndex, fieldKey: string) => void): void {
    for (const [indexKey, index] of this.#valueIndexes.get(formId) ?? []) {
      visit(index, indexKey.slice(indexKey.indexOf('\u0000') + 1));
    }
  }

  /** Write the whole store as a snapshot (atomically via rename) and empty the journal. */
  compact(): void {
    const dir = this.#dataDir;
    if (!dir) return;
    const snapshot: Snapshot = { version: 1, counters: this.#counters, records: {} };
    for (const [formId, map] of this.#records) snapshot.records[formId] = [...map.values()];
    const path = join(dir, SNAPSHOT_FILE);
    writeFileSync(`${path}.tmp`, JSON.stringify(snapshot));
    renameSync(`${path}.tmp`, path);
    rmSync(join(dir, JOURNAL_FILE), { force: true });
    this.#journalLines = 0;
  }

  #apply(line: JournalLine): void {
    for (const del of line.dels ?? []) this.#delete(del.formId, del.id);
    for (const put of line.puts ?? []) this.#put(put.formId, put.record);
    this.#counters = { ...this.#counters, ...line.counters };
  }

  #put(formId: string, record: StoredRecord): void {
    let map = this.#records.get(formId);
    if (!map) {
      map = new Map();
      this.#records.set(formId, map);
    }
    const previous = map.get(record.id);
    if (previous) this.#unindex(formId, previous);
    else {
      let order = this.#sequence.get(formId);
      if (!order) {
        order = new Map();
        this.#sequence.set(formId, order);
      }
      order.set(record.id, this.#nextSequence++);
    }
    map.set(record.id, record);
    this.#eachIndex(formId, (index, fieldKey) => this.#indexValues(index, fieldKey, record));
    const number = record.values[this.#numberKeyOf(formId)];
    if (typeof number === 'string' && number !== '') {
      let index = this.#byNumber.get(formId);
      if (!index) {
        index = new Map();
        this.#byNumber.set(formId, index);
      }
      const key = number.toLowerCase();
      const ids = index.get(key) ?? new Set<number>();
      ids.add(record.id);
      index.set(key, ids);
    }
    const idKey = `id:${formId}`;
    this.#counters[idKey] = Math.max(this.#counters[idKey] ?? 0, record.id + 1);
  }

  #delete(formId: string, id: number): void {
    const map = this.#records.get(formId);
    const previous = map?.get(id);
    if (!map || !previous) return;
    this.#unindex(formId, previous);
    map.delete(id);
    this.#sequence.get(formId)?.delete(id);
  }

  #unindex(formId: string, record: StoredRecord): void {
    this.#eachIndex(formId, (index, fieldKey) => this.#unindexValues(index, fieldKey, record));
    const number = record.values[this.#numberKeyOf(formId)];
    if (typeof number !== 'string') return;
    const ids = this.#byNumber.get(formId)?.get(number.toLowerCase());
    ids?.delete(record.id);
  }
}
