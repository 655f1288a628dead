/**
 * The embedded DynamoDB engine's own thread: dynalite (pure JavaScript, LevelDB on disk) is the busiest
 * server of the local stack — every sync step reads or writes state — so it runs beside the gateway, the
 * queue service and the emulators instead of sharing their event loop. Started and stopped by
 * `embedded-dynamodb.ts`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parentPort, workerData } from 'node:worker_threads';
import { z } from 'zod';
import { createDynaliteServer } from './dynalite-server.ts';
import { DynamoAdmission } from './dynamodb-admission.ts';
import { DYNAMODB_OPERATIONS } from './dynamodb-operations.ts';
import { closeServer, listen } from './http-util.ts';

const port = parentPort;
if (!port) throw new Error('dynamodb-thread.ts must run in a worker thread');
const data = z
  .object({
    dataDir: z.string().optional(),
    host: z.string(),
    port: z.number(),
    counters: z.instanceof(SharedArrayBuffer).optional(),
    priorityApps: z.array(z.string()).default([]),
    backgroundConcurrency: z.number().int().min(0).default(0),
    busyBackgroundConcurrency: z.number().int().min(1).default(1),
  })
  .parse(workerData);
const { server } = createDynaliteServer({
  ...(data.dataDir ? { path: data.dataDir } : {}),
  createTableMs: 0,
  deleteTableMs: 0,
  updateTableMs: 0,
});

// Priorities. In AWS the webhook's PutItem does not wait for the queue consumers' requests; here one thread
// serves them all, and a request takes several hops between this thread and libuv's pool (LevelDB), each
// of which queues behind every other request in flight. So requests of the HTTP-triggered functions (their
// SDK user agent carries `app/<function key>`, set by the local stack as AWS_SDK_UA_APP_ID) start at once,
// and the others start `backgroundConcurrency` at a time, in arrival order — `busyBackgroundConcurrency` at a
// time while a webhook request is in flight (dynamodb-admission.ts). Measured with npm run bench (1 000
// customers, two cores): the webhook's PutItem served in p50 ~2 ms / p99 ~40 ms instead of ~28 / ~100 ms,
// throughput unchanged; for the busy limit see docs/local-stack.md "Priorities".
if (data.backgroundConcurrency > 0) {
  const handlers = server.listeners('request') as ((req: IncomingMessage, res: ServerResponse) => void)[];
  server.removeAllListeners('request');
  const serve = (req: IncomingMessage, res: ServerResponse) => {
    for (const handler of handlers) handler.call(server, req, res);
  };
  const priority = new Set(data.priorityApps.map((app) => `app/${app}`));
  const isPriority = (req: IncomingMessage): boolean => {
    if (priority.size === 0) return false;
    const agents = `${req.headers['user-agent'] ?? ''} ${req.headers['x-amz-user-agent'] ?? ''}`;
    return agents.split(' ').some((token) => priority.has(token));
  };
  const admission = new DynamoAdmission({
    idle: data.backgroundConcurrency,
    busy: data.busyBackgroundConcurrency,
  });
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const whenAnswered = (end: () => void) => {
      res.once('finish', end);
      res.once('close', end);
    };
    if (isPriority(req)) {
      whenAnswered(admission.priority());
      serve(req, res);
      return;
    }
    admission.background((end) => {
      whenAnswered(end);
      serve(req, res);
    });
  });
}

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
