/**
 * The "execution environment" of one function: a worker thread with its own module scope and its own
 * `process.env` (the function's environment only), like a Lambda container. The handler module is imported
 * once at start (the init phase); invocations arrive as messages and may overlap.
 */
import { getPriority, setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import {
  callHandler,
  errorPayload,
  HandlerLoadError,
  type LoadedHandler,
  lambdaContext,
  loadHandler,
  newLogStreamName,
} from './handler-module.ts';
import { type FromWorker, toWorkerSchema, workerDataSchema } from './worker-protocol.ts';

// Stack traces of bundled functions name the TypeScript sources (the bundles carry linked source maps).
process.setSourceMapsEnabled(true);

const port = parentPort;
if (!port) throw new Error('worker-entry.ts must run in a worker thread');
const data = workerDataSchema.parse(workerData);
const logStreamName = newLogStreamName();

// Linux keeps a nice value per thread, and setpriority(2) on "process 0" changes the calling thread only:
// this function's thread yields to the rest of the stack without touching it. (On macOS and Windows it
// would renice the whole process, so nothing is done there.)
if (data.nice > 0 && process.platform === 'linux') {
  try {
    setPriority(0, Math.min(19, getPriority(0) + data.nice));
  } catch {
    // Not allowed here (a container's seccomp policy, say): the function runs at normal priority.
  }
}
const post = (message: FromWorker): void => port.postMessage(message);

let handler: LoadedHandler | undefined;
let initError: HandlerLoadError | undefined;
try {
  handler = await loadHandler(data.modulePath, data.exportName);
  post({ type: 'ready' });
} catch (error) {
  initError =
    error instanceof HandlerLoadError
      ? error
      : new HandlerLoadError(errorPayload(error, 'Runtime.ImportModuleError'));
  post({ type: 'init-error', error: initError.payload });
}

port.on('message', (raw: unknown) => {
  const message = toWorkerSchema.parse(raw);
  if (!handler) {
    post({
      type: 'failure',
      id: message.id,
      error: initError?.payload ?? {
        errorType: 'Runtime.Unknown',
        errorMessage: 'handler not loaded',
        trace: [],
      },
    });
    return;
  }
  const context = lambdaContext(data, message.requestId, message.deadlineMs, logStreamName);
  callHandler(handler, JSON.parse(message.event), context).then(
    (value) => post({ type: 'result', id: message.id, value }),
    (error: unknown) => post({ type: 'failure', id: message.id, error: errorPayload(error) }),
  );
});
