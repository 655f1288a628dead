/**
 * Loading a handler module and calling it the way the Lambda Node.js runtime does — shared by the inline
 * invoker (main thread) and the worker bootstrap (one thread per function).
 */
import { randomBytes } from 'node:crypto';
import { pathToFileURL } from 'node:url';

/** Lambda's error payload (`errorType`, `errorMessage`, `trace`), also used for init and runtime failures. */
export interface LambdaErrorPayload {
  errorType: string;
  errorMessage: string;
  trace: string[];
}

export type LambdaHandler = (event: unknown, context: LambdaContext, callback?: unknown) => unknown;

/** The `context` object of the Node.js runtime (the fields handlers use). */
export interface LambdaContext {
  callbackWaitsForEmptyEventLoop: boolean;
  functionName: string;
  functionVersion: string;
  invokedFunctionArn: string;
  memoryLimitInMB: string;
  awsRequestId: string;
  logGroupName: string;
  logStreamName: string;
  getRemainingTimeInMillis(): number;
}

export interface FunctionIdentity {
  functionName: string;
  memoryMb: number;
  region: string;
  accountId: string;
}

/** A log stream name shaped like Lambda's: `2026/01/05/[$LATEST]<32 hex>`, one per container. */
export function newLogStreamName(now = new Date()): string {
  const date = now.toISOString().slice(0, 10).replaceAll('-', '/');
  return `${date}/[$LATEST]${randomBytes(16).toString('hex')}`;
}

export function lambdaContext(
  identity: FunctionIdentity,
  requestId: string,
  deadlineMs: number,
  logStreamName: string,
): LambdaContext {
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: identity.functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:${identity.region}:${identity.accountId}:function:${identity.functionName}`,
    memoryLimitInMB: String(identity.memoryMb),
    awsRequestId: requestId,
    logGroupName: `/aws/lambda/${identity.functionName}`,
    logStreamName,
    getRemainingTimeInMillis: () => Math.max(0, deadlineMs - Date.now()),
  };
}

export function errorPayload(error: unknown, fallbackType = 'Error'): LambdaErrorPayload {
  if (error instanceof Error) {
    return {
      errorType: error.name || fallbackType,
      errorMessage: error.message,
      trace: (error.stack ?? '').split('\n').slice(0, 20),
    };
  }
  return { errorType: typeof error, errorMessage: String(error), trace: [] };
}

export class HandlerLoadError extends Error {
  constructor(
    readonly payload: LambdaErrorPayload,
    cause?: unknown,
  ) {
    super(payload.errorMessage, cause === undefined ? undefined : { cause });
    this.name = payload.errorType;
  }
}

/**
 * Import the module and find the export, as the runtime's init phase does.
 *
 * @throws {HandlerLoadError} `Runtime.ImportModuleError` when the module fails to import (the module's own
 *   error is kept as the message), `Runtime.HandlerNotFound` when the export is not a function.
 */
export interface LoadedHandler {
  call: LambdaHandler;
  /** Declared parameters: three means a callback-style handler. */
  arity: number;
}

export async function loadHandler(modulePath: string, exportName: string): Promise<LoadedHandler> {
  let loaded: Record<string, unknown>;
  try {
    loaded = await import(pathToFileURL(modulePath).href);
  } catch (error) {
    const inner = errorPayload(error);
    throw new HandlerLoadError(
      {
        errorType: 'Runtime.ImportModuleError',
        errorMessage: `${inner.errorType}: ${inner.errorMessage}`,
        trace: inner.trace,
      },
      error,
    );
  }
  const direct = loaded[exportName];
  const fromDefault = loaded.default;
  const candidate: unknown =
    typeof direct === 'function'
      ? direct
      : typeof fromDefault === 'object' && fromDefault !== null && exportName in fromDefault
        ? Reflect.get(fromDefault, exportName)
        : undefined;
  if (typeof candidate !== 'function') {
    throw new HandlerLoadError({
      errorType: 'Runtime.HandlerNotFound',
      errorMessage: `${modulePath}.${exportName} is undefined or not exported`,
      trace: [],
    });
  }
  return {
    call: (event, context, callback) => Reflect.apply(candidate, undefined, [event, context, callback]),
    arity: candidate.length,
  };
}

/**
 * Call a handler: async handlers by their promise, callback-style handlers (three parameters) by their
 * callback — whichever settles first, as the nodejs22.x runtime does. The value is returned as Lambda
 * serialises it: JSON text (`undefined` becomes `null`).
 */
export async function callHandler(
  handler: LoadedHandler,
  event: unknown,
  context: LambdaContext,
): Promise<string> {
  const { call, arity } = handler;
  const value = await new Promise<unknown>((resolve, reject) => {
    const callback = (error: unknown, result: unknown): void => (error ? reject(error) : resolve(result));
    try {
      const returned = arity >= 3 ? call(event, context, callback) : call(event, context);
      if (arity < 3 || isThenable(returned)) Promise.resolve(returned).then(resolve, reject);
    } catch (error) {
      reject(error);
    }
  });
  return JSON.stringify(value) ?? 'null';
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && 'then' in value && typeof value.then === 'function';
}
