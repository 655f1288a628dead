/**
 * How the embedded DynamoDB engine (dynalite) uses its LevelDB, changed in two ways for the one thread every
 * sync step waits for: item reads are answered on that thread, and an item and its index entries are written
 * in one atomic batch.
 *
 * Why. Every LevelDB call of dynalite went through libuv's thread pool and back: the engine thread wakes a
 * pool thread, which on a busy two-core machine takes the core, and the answer waits for the engine's event
 * loop again. An item change (PutItem, UpdateItem, DeleteItem, each put or delete of BatchWriteItem) made up
 * to four such trips in a row: read the old item, delete the index entries that go away, put the new ones,
 * put the item. Most of the sync's tables have indexes (inbox 1, links 3, sync log 2). Measured with
 * `npm run bench` (webhook timings, 1 000 customers): the webhook's inbox PutItem — read, index entry, item —
 * set the acknowledgement's tail (18–31 ms of the worst pushes' 26–36 ms inside the stack), and in a V8
 * profile of the engine thread the calls into LevelDB's get and write were its largest entries.
 *
 * Reads. An item read (`store.db.get`, which every item action starts with) uses LevelDB's synchronous get
 * (`getSync`, classic-level 3): the data of a local stack sits in LevelDB's cache or the OS page cache, so
 * a read takes microseconds on the engine thread instead of a trip through the pool. The answer is still
 * delivered asynchronously, as dynalite's actions expect. When the database is not open (starting, closing)
 * or the synchronous read fails, the read goes dynalite's own way, so its errors are dynalite's.
 *
 * Writes. Batched, an item change is one read and one write, and a crash can no longer leave an index entry
 * without its item (or the reverse) — LevelDB applies a batch whole or not at all. dynalite calls
 * `db.updateIndexes(store, table, oldItem, newItem, callback)` and, in that callback, `itemDb.put(key,
 * newItem)` (or `itemDb.del(key)` when there is no new item), under the item's lock. The replacement works
 * out the index writes the same way (dynalite's own `getIndexActions`), and calls back with them "armed"; the
 * item write made synchronously inside that callback, for that very item object, takes them into its batch.
 * Anything else — no write inside the callback, a write of another item — finds nothing armed for it, and
 * the armed index writes are then written on their own at once, as dynalite would have, so nothing is lost
 * whatever the actions do; only the saving is.
 *
 * ASSUMPTION (dynalite 4.0.0's internals, undocumented): `require('dynalite/db')` exports `updateIndexes`
 * and `getIndexActions`, actions call them through that module object, the store's `db` is the LevelDB
 * (abstract-level 3, JSON values) with dynalite's callback-style `get` and `batch` put over it, and items
 * and index entries are kept under `item-<table>~<key>` and `index-<local|global>~<table>~<index>~<key>`.
 * The key layout is checked when a store is made, by capturing what the store's own sub-databases would
 * write; if anything differs, that part stays off and the engine runs as shipped ({@link batchedItemWrites}
 * and {@link engineThreadReads} count what was done).
 */

type Callback = (error?: unknown) => void;

interface IndexAction {
  index: string;
  key: string;
  item?: unknown;
}

interface TableDefinition {
  TableName: string;
  LocalSecondaryIndexes?: unknown[];
  GlobalSecondaryIndexes?: unknown[];
}

interface BatchOperation {
  type: 'put' | 'del';
  key: string;
  value?: unknown;
}

interface SubDb {
  put: (key: string, value: unknown, callback: Callback) => void;
  del: (key: string, callback: Callback) => void;
  batch: (operations: BatchOperation[], callback: Callback) => void;
}

export interface BatchingStore {
  db: {
    batch: (operations: BatchOperation[], callback: Callback) => unknown;
    get: (key: string, callback?: (error: unknown, value?: unknown) => void) => unknown;
    getSync?: (key: string) => unknown;
    status?: string;
    supports?: { getSync?: boolean };
  };
  lifecycleManager?: { getState?: () => string };
  getItemDb: (tableName: string) => SubDb;
  getIndexDb: (indexType: string, tableName: string, indexName: string) => SubDb;
}

export interface BatchingDbModule {
  updateIndexes: (
    store: unknown,
    table: TableDefinition,
    oldItem: unknown,
    newItem: unknown,
    callback: Callback,
  ) => void;
  getIndexActions: (
    indexes: unknown[],
    oldItem: unknown,
    newItem: unknown,
    table: TableDefinition,
  ) => { puts: IndexAction[]; deletes: IndexAction[] };
}

/** Index writes worked out for one item change, waiting for that item's own write. */
interface Armed {
  store: BatchingStore;
  itemPrefix: string;
  /** The new item object (null for a delete): only its own write takes the index writes. */
  item: unknown;
  operations: BatchOperation[];
  taken: boolean;
}

const stores = new WeakSet<object>();
let armed: Armed | undefined;
let batched = 0;
let syncReads = 0;
let installed = false;

/** Item changes written as one batch so far (this thread); tests read it to see batching is active. */
export function batchedItemWrites(): number {
  return batched;
}

/** Item reads answered on the engine thread so far (this thread). */
export function engineThreadReads(): number {
  return syncReads;
}

function itemPrefix(tableName: string): string {
  return `item-${tableName}~`;
}

function indexPrefix(indexType: 'Local' | 'Global', tableName: string, indexName: string): string {
  return `index-${indexType.toLowerCase()}~${tableName}~${indexName}~`;
}

function isModule(value: unknown): value is BatchingDbModule {
  if (typeof value !== 'object' || value === null) return false;
  const db = value as Partial<BatchingDbModule>;
  return typeof db.updateIndexes === 'function' && typeof db.getIndexActions === 'function';
}

function isStore(value: unknown): value is BatchingStore {
  if (typeof value !== 'object' || value === null) return false;
  const store = value as Partial<BatchingStore>;
  return (
    typeof store.db?.batch === 'function' &&
    typeof store.db.get === 'function' &&
    typeof store.getItemDb === 'function' &&
    typeof store.getIndexDb === 'function'
  );
}

/**
 * Whether the store's sub-databases write under the keys this module assumes: their `batch` is called
 * with the main database's `batch` swapped for one that records what it is given.
 */
function layoutMatches(store: BatchingStore): boolean {
  const original = store.db.batch;
  const seen: string[] = [];
  store.db.batch = (operations: BatchOperation[]) => {
    for (const operation of operations) seen.push(operation.key);
  };
  try {
    store.getItemDb('t').batch([{ type: 'put', key: 'k', value: {} }], () => {});
    store.getIndexDb('Global', 't', 'i').batch([{ type: 'put', key: 'k', value: {} }], () => {});
    store.getIndexDb('Local', 't', 'i').batch([{ type: 'put', key: 'k', value: {} }], () => {});
  } catch {
    return false;
  } finally {
    store.db.batch = original;
  }
  return (
    seen.length === 3 &&
    seen[0] === `${itemPrefix('t')}k` &&
    seen[1] === `${indexPrefix('Global', 't', 'i')}k` &&
    seen[2] === `${indexPrefix('Local', 't', 'i')}k`
  );
}

/** The index writes of one item change, as dynalite would make them (deletes first, then puts). */
function indexOperations(
  db: BatchingDbModule,
  table: TableDefinition,
  oldItem: unknown,
  newItem: unknown,
): BatchOperation[] {
  const deletes: BatchOperation[] = [];
  const puts: BatchOperation[] = [];
  for (const indexType of ['Local', 'Global'] as const) {
    const indexes = table[`${indexType}SecondaryIndexes`] ?? [];
    const actions = db.getIndexActions(indexes, oldItem, newItem, table);
    for (const action of actions.deletes) {
      deletes.push({ type: 'del', key: indexPrefix(indexType, table.TableName, action.index) + action.key });
    }
    for (const action of actions.puts) {
      puts.push({
        type: 'put',
        key: indexPrefix(indexType, table.TableName, action.index) + action.key,
        value: action.item,
      });
    }
  }
  return [...deletes, ...puts];
}

/** The armed index writes, if they belong to this write (same store, table and item object). */
function take(store: BatchingStore, prefix: string, item: unknown): Armed | undefined {
  const current = armed;
  if (!current || current.taken) return undefined;
  if (current.store !== store || current.itemPrefix !== prefix || current.item !== item) return undefined;
  current.taken = true;
  return current;
}

/** Make the item sub-databases of `store` take armed index writes into their own write. */
function wrapItemDbs(store: BatchingStore): void {
  const getItemDb = store.getItemDb.bind(store);
  const wrapped = new WeakSet<SubDb>();
  store.getItemDb = (tableName: string) => {
    const itemDb = getItemDb(tableName);
    if (wrapped.has(itemDb)) return itemDb;
    wrapped.add(itemDb);
    const prefix = itemPrefix(tableName);
    const put = itemDb.put.bind(itemDb);
    const del = itemDb.del.bind(itemDb);
    itemDb.put = (key, value, callback) => {
      const index = take(store, prefix, value);
      if (!index) return put(key, value, callback);
      batched += 1;
      store.db.batch([...index.operations, { type: 'put', key: prefix + key, value }], callback);
    };
    itemDb.del = (key, callback) => {
      const index = take(store, prefix, null);
      if (!index) return del(key, callback);
      batched += 1;
      store.db.batch([...index.operations, { type: 'del', key: prefix + key }], callback);
    };
    return itemDb;
  };
}

/**
 * Answer the reads of `store` (made by `require('dynalite/db').create`) on the engine thread when its
 * database is open (see the module comment). Returns false, changing nothing, when this LevelDB cannot.
 */
export function readOnEngineThread(store: unknown): boolean {
  if (!isStore(store)) return false;
  const level = store.db;
  const getSync = level.getSync;
  if (typeof getSync !== 'function' || level.supports?.getSync !== true) return false;
  const get = level.get.bind(level);
  level.get = (key, callback) => {
    if (
      typeof callback !== 'function' ||
      level.status !== 'open' ||
      (store.lifecycleManager?.getState?.() ?? 'open') !== 'open'
    ) {
      return get(key, callback);
    }
    let value: unknown;
    try {
      value = getSync.call(level, key);
    } catch {
      // dynalite's own read reports it (a closed database, an undecodable value) as it always has.
      return get(key, callback);
    }
    syncReads += 1;
    // Still asynchronous: the item actions call back later, as they do after a LevelDB read.
    process.nextTick(callback, null, value);
    return undefined;
  };
  return true;
}

/**
 * Batch item writes in `store` (made by `require('dynalite/db').create`, whose module is `db`). Returns
 * false, changing nothing, when this dynalite has another shape.
 */
export function batchItemWrites(db: unknown, store: unknown): boolean {
  if (!isModule(db) || !isStore(store) || !layoutMatches(store)) return false;
  if (!installed) {
    installed = true;
    const original = db.updateIndexes;
    db.updateIndexes = (target, table, oldItem, newItem, callback) => {
      if (!stores.has(target as object) || !isStore(target)) {
        original(target, table, oldItem, newItem, callback);
        return;
      }
      if (!oldItem && !newItem) {
        process.nextTick(callback);
        return;
      }
      const operations = indexOperations(db, table, oldItem, newItem);
      if (operations.length === 0) {
        process.nextTick(callback);
        return;
      }
      process.nextTick(() => {
        const mine: Armed = {
          store: target,
          itemPrefix: itemPrefix(table.TableName),
          item: newItem ?? null,
          operations,
          taken: false,
        };
        armed = mine;
        try {
          callback();
        } finally {
          armed = undefined;
          // The item was not written inside the callback (another dynalite's actions, or an error path):
          // write the index entries on their own, as dynalite would have before calling back. The request has
          // its answer by now, so a failure of this write (a broken disk) cannot reach it; the next write to
          // the same LevelDB reports it.
          if (!mine.taken) target.db.batch(operations, () => {});
        }
      });
    };
  }
  stores.add(store);
  wrapItemDbs(store);
  return true;
}
