/**
 * dynalite, the embedded DynamoDB engine, made once for the local stack (`dynamodb-thread.ts`) and the tests
 * (`test/support/dynamodb.ts`), so both run the same engine.
 *
 * Three additions: parsed expressions are reused (dynalite-expressions.ts); LevelDB reads are answered on the
 * engine's thread, and an item and its index entries are written in one batch (dynalite-storage.ts). Each
 * checks the dynalite internals it relies on and stays off otherwise; the flags below say which are active.
 *
 * Table definitions were also kept in memory once: dynalite reads a table's definition from LevelDB at the
 * start of every item request, and that read went through libuv's thread pool (~11 % of the engine thread's
 * CPU in a profile). With reads on the engine's thread it costs ~7 µs (a synchronous get and a 1 KB JSON
 * decode, measured), so the cache and its invalidation were removed.
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
  /** Whether parsed expressions are reused (dynalite-expressions.ts; false: its parsers have another shape). */
  expressionCache: boolean;
  /** Whether an item and its index entries are written in one batch (dynalite-storage.ts). */
  itemBatching: boolean;
  /** Whether LevelDB reads are answered on the engine's thread (dynalite-storage.ts). */
  engineThreadReads: boolean;
}

const require = createRequire(import.meta.url);

/**
 * Keep idle client connections open as the other local endpoints do (the gateway and the SQS service: 65 s)
 * instead of node's 5 s: a burst after a pause then does not open every connection anew.
 */
function keepConnections(server: Server): void {
  server.keepAliveTimeout = 65_000;
}

/**
 * A dynalite HTTP server (not yet listening), with the additions of the module comment where this dynalite
 * allows them.
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
    return { server, expressionCache, itemBatching: false, engineThreadReads: false };
  }
  let itemBatching = false;
  let engineThreadReads = false;
  db.create = (...args: unknown[]) => {
    const store: unknown = create(...args);
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
  return { server, expressionCache, itemBatching, engineThreadReads };
}
