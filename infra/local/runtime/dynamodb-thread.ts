/**
 * The embedded DynamoDB engine's own thread: dynalite (pure JavaScript, LevelDB on disk) is the busiest
 * server of the local stack — every sync step reads or writes state — so it runs beside the gateway, the
 * queue service and the emulators instead of sharing their event loop. Started and stopped by
 * `embedded-dynamodb.ts`.
 */
import type { Server } from 'node:http';
import { createRequire } from 'node:module';
import { parentPort, workerData } from 'node:worker_threads';
import { z } from 'zod';
import { DYNAMODB_OPERATIONS } from './dynamodb-operations.ts';
import { closeServer, listen } from './http-util.ts';

interface DynaliteOptions {
  path?: string;
  createTableMs?: number;
  deleteTableMs?: number;
  updateTableMs?: number;
}

const port = parentPort;
if (!port) throw new Error('dynamodb-thread.ts must run in a worker thread');
const data = z
  .object({
    dataDir: z.string().optional(),
    host: z.string(),
    port: z.number(),
    counters: z.instanceof(SharedArrayBuffer).optional(),
  })
  .parse(workerData);
const require = createRequire(import.meta.url);
// dynalite ships no type declarations; its factory returns a plain node:http Server.
const dynalite: (options: DynaliteOptions) => Server = require('dynalite');
const server = dynalite({
  ...(data.dataDir ? { path: data.dataDir } : {}),
  createTableMs: 0,
  deleteTableMs: 0,
  updateTableMs: 0,
});

// Operations served, by X-Amz-Target, in memory the main thread reads without a round trip (status, bench).
const counters = data.counters ? new Int32Array(data.counters) : undefined;
if (counters) {
  const slot = new Map<string, number>(DYNAMODB_OPERATIONS.map((name, i) => [name, i]));
  const other = DYNAMODB_OPERATIONS.length - 1;
  server.prependListener('request', (req) => {
    const target = req.headers['x-amz-target'];
    const name = typeof target === 'string' ? target.slice(target.indexOf('.') + 1) : '';
    Atomics.add(counters, slot.get(name) ?? other, 1);
  });
}

try {
  const { origin } = await listen(server, data.host, data.port);
  port.postMessage({ type: 'listening', origin });
} catch (error) {
  port.postMessage({ type: 'failed', message: error instanceof Error ? error.message : String(error) });
}

port.on('message', (message: unknown) => {
  if (message !== 'close') return;
  // dynalite's close() also closes the LevelDB store, flushing it.
  closeServer(server).then(
    () => port.postMessage({ type: 'closed' }),
    (error: unknown) => port.postMessage({ type: 'closed', error: String(error) }),
  );
});
