/**
 * Invoking a function's handler as Lambda would: a `context`, the function's timeout, JSON in and out, and
 * Lambda's error payload on failure.
 *
 * Two isolation modes:
 * - `worker` (what `npm start` uses): each function runs in its own worker thread with its own module scope
 *   and its own `process.env` holding only the function's environment — as separate Lambda containers do, so
 *   two functions with different settings under the same variable name cannot see each other's. A handler
 *   that exceeds its timeout gets its worker retired (a fresh one serves the next invocation, the stuck one
 *   is terminated once its other invocations end); a crash of the worker fails its in-flight invocations
 *   with `Runtime.ExitError`, and the next invocation starts a new worker (a new "cold start").
 * - `inline`: the handler runs on the main thread (tests, debugging with breakpoints); the caller must have
 *   put the function's environment into `process.env` before the first invocation.
 *
 * Unlike Lambda, one worker serves concurrent invocations of its function (they interleave at `await`s), so
 * module-scope state is shared between them; handlers written for Lambda should not notice (state shared
 * across sequential invocations of one container is already the Lambda norm).
 */
import { randomUUID } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { type Logger, silentLogger } from '../../../../lib/log.ts';
import { workerExecArgv } from '../worker-exec-argv.ts';
import {
  callHandler,
  errorPayload,
  HandlerLoadError,
  type LambdaErrorPayload,
  type LoadedHandler,
  lambdaContext,
  loadHandler,
  newLogStreamName,
} from './handler-module.ts';
import { fromWorkerSchema, type ToWorker, type WorkerData } from './worker-protocol.ts';

export type { LambdaErrorPayload } from './handler-module.ts';

export type InvokeFailureKind =
  /** the handler threw or rejected */
  | 'handler'
  /** the handler did not finish within the function's timeout */
  | 'timeout'
  /** the module failed to import, or the export is missing */
  | 'init'
  /** the execution environment died (uncaught exception, out of memory) */
  | 'crash'
  /** the invoker was closed while the invocation ran */
  | 'shutdown';

export type InvokeResult =
  | { ok: true; requestId: string; durationMs: number; value: unknown }
  | { ok: false; requestId: string; durationMs: number; kind: InvokeFailureKind; error: LambdaErrorPayload };

export interface InvocableFunction {
  name: string;
  modulePath: string;
  exportName: string;
  memoryMb: number;
  timeoutSec: number;
}

export interface InvokerOptions {
  fn: InvocableFunction;
  /** The function's whole environment (worker mode); ignored inline. */
  env: Readonly<Record<string, string>>;
  region: string;
  accountId: string;
  isolation: 'worker' | 'inline';
  logger?: Logger;
  /**
   * Worker mode, Linux: how much lower the function's thread is scheduled than the stack (a nice increment,
   * 0–19); 0 (the default) leaves it alone. Elsewhere the nice value is per process, so it is left alone.
   */
  nice?: number;
  /**
   * Worker mode: run this bundle (see `bundle.ts`) instead of the TypeScript sources — the bundled worker
   * bootstrap as the thread's script, the bundled handler module as the function's code.
   */
  bundle?: { workerEntry: string; modulePath: string } | undefined;
}

export interface FunctionInvoker {
  readonly functionName: string;
  /** Invocations started and not yet answered. */
  readonly inFlight: number;
  /** Load the handler now (the init phase); resolves with the init error, if any, instead of throwing. */
  warm(): Promise<LambdaErrorPayload | undefined>;
  /** Never rejects: every failure is an `ok: false` result carrying Lambda's error payload. */
  invoke(event: unknown, options?: { requestId?: string }): Promise<InvokeResult>;
  /** Stop: in-flight invocations end with `shutdown`, workers are terminated. */
  close(): Promise<void>;
}

/** Create the invoker for one function. */
export function createInvoker(options: InvokerOptions): FunctionInvoker {
  return options.isolation === 'worker' ? new WorkerInvoker(options) : new InlineInvoker(options);
}

function timeoutPayload(timeoutSec: number): LambdaErrorPayload {
  return {
    errorType: 'Sandbox.Timedout',
    errorMessage: `Task timed out after ${timeoutSec.toFixed(2)} seconds`,
    trace: [],
  };
}

function parseValue(text: string): unknown {
  return JSON.parse(text);
}

class InlineInvoker implements FunctionInvoker {
  readonly functionName: string;
  readonly #options: InvokerOptions;
  readonly #logStream = newLogStreamName();
  #handler: Promise<LoadedHandler> | undefined;
  #inFlight = 0;
  #closed = false;

  constructor(options: InvokerOptions) {
    this.#options = options;
    this.functionName = options.fn.name;
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  async warm(): Promise<LambdaErrorPayload | undefined> {
    try {
      await this.#load();
      return undefined;
    } catch (error) {
      return error instanceof HandlerLoadError ? error.payload : errorPayload(error);
    }
  }

  #load(): Promise<LoadedHandler> {
    this.#handler ??= loadHandler(this.#options.fn.modulePath, this.#options.fn.exportName).catch(
      (error: unknown) => {
        // Lambda retries the init phase on the next invocation.
        this.#handler = undefined;
        throw error;
      },
    );
    return this.#handler;
  }

  async invoke(event: unknown, options: { requestId?: string } = {}): Promise<InvokeResult> {
    const requestId = options.requestId ?? randomUUID();
    const started = performance.now();
    const elapsed = () => Math.round(performance.now() - started);
    if (this.#closed)
      return { ok: false, requestId, durationMs: 0, kind: 'shutdown', error: shutdownPayload() };
    this.#inFlight++;
    try {
      let handler: LoadedHandler;
      try {
        handler = await this.#load();
      } catch (error) {
        const payload = error instanceof HandlerLoadError ? error.payload : errorPayload(error);
        return { ok: false, requestId, durationMs: elapsed(), kind: 'init', error: payload };
      }
      const { timeoutSec } = this.#options.fn;
      const deadline = Date.now() + timeoutSec * 1000;
      const context = lambdaContext(this.#identity(), requestId, deadline, this.#logStream);
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), timeoutSec * 1000);
      });
      try {
        // The event is copied through JSON, as Lambda delivers it: the handler cannot mutate the caller's object.
        const outcome = await Promise.race([
          callHandler(handler, JSON.parse(JSON.stringify(event)), context),
          timedOut,
        ]);
        if (outcome === 'timeout') {
          this.#options.logger?.warn('local.lambda.timeout', {
            function: this.functionName,
            requestId,
            timeoutSec,
          });
          return {
            ok: false,
            requestId,
            durationMs: elapsed(),
            kind: 'timeout',
            error: timeoutPayload(timeoutSec),
          };
        }
        return { ok: true, requestId, durationMs: elapsed(), value: parseValue(outcome) };
      } catch (error) {
        return { ok: false, requestId, durationMs: elapsed(), kind: 'handler', error: errorPayload(error) };
      } finally {
        clearTimeout(timer);
      }
    } finally {
      this.#inFlight--;
    }
  }

  #identity() {
    const { fn, region, accountId } = this.#options;
    return { functionName: fn.name, memoryMb: fn.memoryMb, region, accountId };
  }

  async close(): Promise<void> {
    this.#closed = true;
  }
}

function shutdownPayload(): LambdaErrorPayload {
  return { errorType: 'Runtime.Shutdown', errorMessage: 'The local runtime is shutting down', trace: [] };
}

interface PendingInvocation {
  requestId: string;
  started: number;
  resolve(result: InvokeResult): void;
  timer: NodeJS.Timeout;
}

/** One worker thread: one "container" of the function. */
class WorkerContainer {
  readonly worker: Worker;
  readonly pending = new Map<number, PendingInvocation>();
  readonly ready: Promise<LambdaErrorPayload | undefined>;
  retired = false;
  exited = false;
  #resolveReady: (value: LambdaErrorPayload | undefined) => void = () => {};
  #crash: LambdaErrorPayload | undefined;

  constructor(
    data: WorkerData,
    env: Readonly<Record<string, string>>,
    memoryMb: number,
    private readonly onExit: (container: WorkerContainer) => void,
    workerEntry?: string,
  ) {
    this.ready = new Promise((resolve) => {
      this.#resolveReady = resolve;
    });
    this.worker = new Worker(workerEntry ?? new URL('./worker-entry.ts', import.meta.url), {
      workerData: data,
      env: { ...env },
      execArgv: workerExecArgv({ typescript: workerEntry === undefined }),
      // Lambda's memory setting bounds the whole container; the V8 heap is the part a thread can bound.
      resourceLimits: { maxOldGenerationSizeMb: Math.max(64, memoryMb) },
    });
    this.worker.on('message', (raw: unknown) => this.#onMessage(raw));
    this.worker.on('error', (error: Error) => {
      const inner = errorPayload(error);
      this.#crash = {
        errorType: error.name === 'Error' ? 'Runtime.ExitError' : `Runtime.${error.name}`,
        errorMessage: `Runtime exited with error: ${inner.errorType}: ${inner.errorMessage}`,
        trace: inner.trace,
      };
    });
    this.worker.on('exit', (code) => {
      this.exited = true;
      const payload = this.#crash ?? {
        errorType: 'Runtime.ExitError',
        errorMessage: `Runtime exited with code ${code}`,
        trace: [],
      };
      this.#resolveReady(payload);
      for (const [id, invocation] of this.pending) {
        clearTimeout(invocation.timer);
        this.pending.delete(id);
        invocation.resolve({
          ok: false,
          requestId: invocation.requestId,
          durationMs: Math.round(performance.now() - invocation.started),
          kind: this.retired && !this.#crash ? 'shutdown' : 'crash',
          error: this.retired && !this.#crash ? shutdownPayload() : payload,
        });
      }
      this.onExit(this);
    });
  }

  #onMessage(raw: unknown): void {
    const parsed = fromWorkerSchema.safeParse(raw);
    if (!parsed.success) return;
    const message = parsed.data;
    if (message.type === 'ready') {
      this.#resolveReady(undefined);
      return;
    }
    if (message.type === 'init-error') {
      this.#resolveReady(message.error);
      return;
    }
    const invocation = this.pending.get(message.id);
    if (!invocation) return;
    this.pending.delete(message.id);
    clearTimeout(invocation.timer);
    const durationMs = Math.round(performance.now() - invocation.started);
    invocation.resolve(
      message.type === 'result'
        ? { ok: true, requestId: invocation.requestId, durationMs, value: parseValue(message.value) }
        : { ok: false, requestId: invocation.requestId, durationMs, kind: 'handler', error: message.error },
    );
    this.terminateIfDone();
  }

  post(message: ToWorker): void {
    this.worker.postMessage(message);
  }

  /** A retired container ends as soon as nothing it runs is still awaited. */
  terminateIfDone(): void {
    if (this.retired && this.pending.size === 0 && !this.exited) void this.worker.terminate();
  }
}

class WorkerInvoker implements FunctionInvoker {
  readonly functionName: string;
  readonly #options: InvokerOptions;
  readonly #logger: Logger;
  readonly #containers = new Set<WorkerContainer>();
  #current: WorkerContainer | undefined;
  #nextId = 1;
  #closed = false;

  constructor(options: InvokerOptions) {
    this.#options = options;
    this.functionName = options.fn.name;
    this.#logger = options.logger ?? silentLogger;
  }

  get inFlight(): number {
    let n = 0;
    for (const container of this.#containers) n += container.pending.size;
    return n;
  }

  #container(): WorkerContainer {
    if (this.#current && !this.#current.retired && !this.#current.exited) return this.#current;
    const { fn, env, region, accountId, bundle } = this.#options;
    const container = new WorkerContainer(
      {
        modulePath: bundle?.modulePath ?? fn.modulePath,
        exportName: fn.exportName,
        functionName: fn.name,
        memoryMb: fn.memoryMb,
        region,
        accountId,
        nice: this.#options.nice ?? 0,
      },
      env,
      fn.memoryMb,
      (ended) => {
        this.#containers.delete(ended);
        if (this.#current === ended) this.#current = undefined;
      },
      bundle?.workerEntry,
    );
    this.#containers.add(container);
    this.#current = container;
    return container;
  }

  async warm(): Promise<LambdaErrorPayload | undefined> {
    if (this.#closed) return shutdownPayload();
    const container = this.#container();
    const initError = await container.ready;
    if (initError) this.#retire(container);
    return initError;
  }

  #retire(container: WorkerContainer): void {
    container.retired = true;
    if (this.#current === container) this.#current = undefined;
    container.terminateIfDone();
  }

  async invoke(event: unknown, options: { requestId?: string } = {}): Promise<InvokeResult> {
    const requestId = options.requestId ?? randomUUID();
    const started = performance.now();
    if (this.#closed)
      return { ok: false, requestId, durationMs: 0, kind: 'shutdown', error: shutdownPayload() };
    const container = this.#container();
    const initError = await container.ready;
    if (initError) {
      // Lambda retries the init phase with the next invocation: a new container then.
      this.#retire(container);
      const kind = container.exited && initError.errorType.startsWith('Runtime.Exit') ? 'crash' : 'init';
      return {
        ok: false,
        requestId,
        durationMs: Math.round(performance.now() - started),
        kind,
        error: initError,
      };
    }
    const { timeoutSec } = this.#options.fn;
    const id = this.#nextId++;
    return await new Promise<InvokeResult>((resolve) => {
      const timer = setTimeout(() => {
        if (!container.pending.delete(id)) return;
        this.#logger.warn('local.lambda.timeout', { function: this.functionName, requestId, timeoutSec });
        // Lambda would stop the container; here it stops taking work and ends when its other calls finish.
        this.#retire(container);
        resolve({
          ok: false,
          requestId,
          durationMs: Math.round(performance.now() - started),
          kind: 'timeout',
          error: timeoutPayload(timeoutSec),
        });
      }, timeoutSec * 1000);
      container.pending.set(id, { requestId, started, resolve, timer });
      try {
        container.post({
          type: 'invoke',
          id,
          requestId,
          deadlineMs: Date.now() + timeoutSec * 1000,
          event: JSON.stringify(event) ?? 'null',
        });
      } catch (error) {
        container.pending.delete(id);
        clearTimeout(timer);
        resolve({ ok: false, requestId, durationMs: 0, kind: 'handler', error: errorPayload(error) });
      }
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    const exits = [...this.#containers].map(
      (container) =>
        new Promise<void>((resolve) => {
          if (container.exited) {
            resolve();
            return;
          }
          container.worker.once('exit', () => resolve());
          container.retired = true;
          void container.worker.terminate();
        }),
    );
    this.#current = undefined;
    await Promise.all(exits);
  }
}
