/**
 * dynalite, the embedded DynamoDB engine, made once for the local stack (`dynamodb-thread.ts`) and the tests
 * (`test/support/dynamodb.ts`), so both run the same engine.
 *
 * Four additions: parsed expressions are reused (dynalite-expressions.ts), LevelDB reads are answered on the
 * engine's thread and an item and its index entries are written in one batch (dynalite-storage.ts), and table
 * definitions are kept in memory. dynalite reads a table's definition from LevelDB at
 * the start of every item request (GetItem, PutItem, UpdateItem, Query, …): one more trip through libuv's
 * thread pool and back per request, on the thread every sync step waits for. Measured with `npm run bench`
 * (V8 profile of this thread, 1 000 customers + 1 000 orders): those reads were ~11 % of the thread's CPU.
 * The definition changes only by CreateTable, UpdateTable and DeleteTable (and dynalite's own clean-up of a
 * corrupt entry), which all write it through `store.tableDb`; every such write empties the cache before and
 * after it lands, and a read that raced a write is not kept. Control-plane reads (DescribeTable, UpdateTable,
 * DeleteTable, tags) still read LevelDB. Only ACTIVE tables are kept, so CREATING / DELETING answers stay
 * dynalite's own.
 *
 * ASSUMPTION (dynalite 4.0.0's internals, which it does not document): `require('dynalite/db').create`
 * makes the store the server uses, with `getTable(name, [checkStatus,] callback)` and `tableDb.{put,del,
 * batch}`; item actions do not mutate the definition they get. When the shape is not there (another
 * dynalite version), the engine runs without the cache and {@link DynaliteServer.tableCache} says so.
 */
import type { Server } from 'node:http';
import { createRequire } from 'node:module';
import { cacheExpressionParses } from './dynalite-expressions.ts';
import { batchItemWrites, readOnEngineThread } from './dynalite-storage.ts';

export interface DynaliteOptions {
  /** LevelDB directory; in memory when absent. */
  path?: string;
  createTableMs?: number;
  deleteTableMs?: number;
  updateTableMs?: number;
}

export interface DynaliteServer {
  server: Server;
  /** Whether table definitions are served from memory (false: this dynalite's store has another shape). */
  tableCache: boolean;
  /** Whether parsed expressions are reused (dynalite-expressions.ts; false: its parsers have another shape). */
  expressionCache: boolean;
  /** Whether an item and its index entries are written in one batch (dynalite-storage.ts). */
  itemBatching: boolean;
  /** Whether LevelDB reads are answered on the engine's thread (dynalite-storage.ts). */
  engineThreadReads: boolean;
}

type Callback = (error: unknown, value?: unknown) => void;

interface DynaliteStore {
  getTable: (name: string, checkStatus: unknown, callback?: Callback) => void;
  tableDb: Record<'put' | 'del' | 'batch', (...args: unknown[]) => unknown>;
}

const require = createRequire(import.meta.url);

function isStore(value: unknown): value is DynaliteStore {
  if (typeof value !== 'object' || value === null) return false;
  const store = value as Partial<DynaliteStore>;
  const tableDb = store.tableDb;
  return (
    typeof store.getTable === 'function' &&
    typeof tableDb === 'object' &&
    tableDb !== null &&
    typeof tableDb.put === 'function' &&
    typeof tableDb.del === 'function' &&
    typeof tableDb.batch === 'function'
  );
}

/** Serve item requests' table definitions from memory (see the module comment). */
function cacheTableDefinitions(store: DynaliteStore): void {
  const cache = new Map<string, unknown>();
  // Bumped by every definition write, when it starts and when it lands: a read begun under another
  // generation may have seen the old definition, so it is answered but not kept.
  let generation = 0;
  const invalidate = () => {
    generation += 1;
    cache.clear();
  };
  for (const method of ['put', 'del', 'batch'] as const) {
    const original = store.tableDb[method].bind(store.tableDb);
    store.tableDb[method] = (...args: unknown[]) => {
      invalidate();
      const last = args.length - 1;
      const callback = args[last];
      if (typeof callback === 'function') {
        args[last] = (...results: unknown[]) => {
          invalidate();
          (callback as (...r: unknown[]) => void)(...results);
        };
        return original(...args);
      }
      // Promise form (not used by dynalite 4.0.0's actions, kept correct anyway).
      const result = original(...args);
      if (result instanceof Promise) return result.finally(invalidate);
      invalidate();
      return result;
    };
  }
  const getTable = store.getTable.bind(store);
  store.getTable = (name, checkStatus, callback) => {
    // Item actions call getTable(name, callback): the callback sits in the status-check position, which
    // dynalite treats as "check the status". Anything else is a control-plane read: always from LevelDB.
    if (typeof checkStatus !== 'function' || callback !== undefined) {
      getTable(name, checkStatus, callback);
      return;
    }
    const done = checkStatus as Callback;
    const cached = cache.get(name);
    if (cached !== undefined) {
      // Asynchronous like a LevelDB read, without the trip through the thread pool.
      process.nextTick(done, null, cached);
      return;
    }
    const startedAt = generation;
    getTable(name, (error: unknown, table?: unknown) => {
      if (
        !error &&
        startedAt === generation &&
        typeof table === 'object' &&
        table !== null &&
        (table as { TableStatus?: unknown }).TableStatus === 'ACTIVE'
      ) {
        cache.set(name, table);
      }
      done(error, table);
    });
  };
}

/**
 * Keep idle client connections open as the other local endpoints do (the gateway and the SQS service: 65 s)
 * instead of node's 5 s: a burst after a pause then does not open every connection anew.
 */
function keepConnections(server: Server): void {
  server.keepAliveTimeout = 65_000;
}

/**
 * A dynalite HTTP server (not yet listening), with table definitions and parsed expressions cached when this
 * dynalite allows.
 */
export function createDynaliteServer(options: DynaliteOptions): DynaliteServer {
  const expressionCache = cacheExpressionParses();
  // dynalite ships no type declarations; its factory returns a plain node:http Server.
  const dynalite: (options: DynaliteOptions) => Server = require('dynalite');
  const db: { create?: unknown } = require('dynalite/db');
  const create = db.create;
  if (typeof create !== 'function') {
    const server = dynalite(options);
    keepConnections(server);
    return { server, tableCache: false, expressionCache, itemBatching: false, engineThreadReads: false };
  }
  let tableCache = false;
  let itemBatching = false;
  let engineThreadReads = false;
  db.create = (...args: unknown[]) => {
    const store: unknown = create(...args);
    if (isStore(store)) {
      cacheTableDefinitions(store);
      tableCache = true;
    }
    itemBatching = batchItemWrites(db, store);
    engineThreadReads = readOnEngineThread(store);
    return store;
  };
  let server: Server;
  try {
    server = dynalite(options);
  } finally {
    db.create = create;
  }
  keepConnections(server);
  return { server, tableCache, expressionCache, itemBatching, engineThreadReads };
}
