/**
 * One HTTP POST to K3Cloud over an undici dispatcher, reporting not just success or failure but whether
 * the request had been handed to the socket when it failed.
 *
 * That single bit decides between "transport error, safe to send again" (connection refused, DNS, a
 * timeout while still queued) and "outcome unknown" (a write that may have been executed: timeout or reset
 * after sending). `undici.request()` does not expose it, so this module drives `dispatcher.dispatch()`
 * with a small handler that listens for `onRequestSent`.
 */
import type { Dispatcher } from 'undici';

export interface HttpResponse {
  status: number;
  /** Header values by lower-case name; repeated headers (Set-Cookie) keep every value. */
  headers: Record<string, string[]>;
  body: Buffer;
}

export type TransportFailureReason =
  /** our deadline passed */
  | 'timeout'
  /** the caller's AbortSignal fired */
  | 'aborted'
  /** the connection broke (reset, closed by the other side) */
  | 'reset'
  /** no connection could be made (refused, DNS, unreachable, connect timeout) */
  | 'connect'
  /** the TLS handshake failed (untrusted or wrong certificate) */
  | 'tls'
  /** the response exceeded `maxResponseBytes` */
  | 'too-large'
  | 'other';

export interface TransportFailure {
  reason: TransportFailureReason;
  /** Whether the request had been written to the socket (so the server may have acted on it). */
  sent: boolean;
  /** Short technical description (error code and message), free of secrets: URLs and headers are not in it. */
  detail: string;
  cause: unknown;
}

export type ExchangeResult = { ok: true; response: HttpResponse } | { ok: false; failure: TransportFailure };

export interface PostRequest {
  url: URL;
  headers: Record<string, string>;
  body: string;
  timeoutMs: number;
  signal?: AbortSignal | undefined;
  maxResponseBytes: number;
}

const CONNECT_ERROR_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EADDRNOTAVAIL',
  'UND_ERR_CONNECT_TIMEOUT',
]);
const RESET_ERROR_CODES = new Set([
  'ECONNRESET',
  'EPIPE',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'ECONNABORTED',
]);
const TIMEOUT_ERROR_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT']);

function errorCode(error: unknown): string | undefined {
  if (error instanceof Error && 'code' in error && typeof error.code === 'string') return error.code;
  return undefined;
}

function reasonOf(error: unknown): TransportFailureReason {
  const code = errorCode(error) ?? '';
  if (CONNECT_ERROR_CODES.has(code)) return 'connect';
  if (RESET_ERROR_CODES.has(code)) return 'reset';
  if (TIMEOUT_ERROR_CODES.has(code)) return 'timeout';
  if (
    code.startsWith('ERR_TLS') ||
    code.startsWith('ERR_SSL') ||
    /CERT|SELF_SIGNED|UNABLE_TO_VERIFY/.test(code)
  ) {
    return 'tls';
  }
  return 'other';
}

function describe(error: unknown): string {
  const code = errorCode(error);
  const message = error instanceof Error ? error.message : String(error);
  return code ? `${code}: ${message}` : message;
}

class TimeoutAbort extends Error {
  constructor(readonly reason: 'timeout' | 'aborted' | 'too-large') {
    super(reason);
  }
}

/**
 * Legacy-style undici handler: `dispatch()` passes handlers without `onRequestStart` through unchanged, so
 * `onRequestSent` reaches us (verified on undici 7.30).
 */
class CollectingHandler implements Dispatcher.DispatchHandler {
  sent = false;
  #abort: ((error?: Error) => void) | undefined;
  #pendingAbort: Error | undefined;
  #status = 0;
  readonly #headers: Record<string, string[]> = {};
  readonly #chunks: Buffer[] = [];
  #size = 0;
  #settled = false;
  readonly #maxBytes: number;
  readonly #settle: (result: ExchangeResult) => void;

  constructor(maxBytes: number, settle: (result: ExchangeResult) => void) {
    this.#maxBytes = maxBytes;
    this.#settle = settle;
  }

  onConnect(abort: (error?: Error) => void): void {
    if (this.#pendingAbort) abort(this.#pendingAbort);
    else this.#abort = abort;
  }

  onRequestSent(): void {
    this.sent = true;
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[]): boolean {
    this.#status = statusCode;
    for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
      const name = String(rawHeaders[i]).toLowerCase();
      const value = String(rawHeaders[i + 1]);
      const list = this.#headers[name] ?? [];
      list.push(value);
      this.#headers[name] = list;
    }
    return true;
  }

  onData(chunk: Buffer): boolean {
    this.#size += chunk.length;
    if (this.#size > this.#maxBytes) {
      this.cancel('too-large');
      return false;
    }
    this.#chunks.push(chunk);
    return true;
  }

  onComplete(): void {
    this.#finish({
      ok: true,
      response: { status: this.#status, headers: this.#headers, body: Buffer.concat(this.#chunks) },
    });
  }

  onError(error: Error): void {
    if (error instanceof TimeoutAbort) return; // already settled by cancel()
    this.#finish({
      ok: false,
      failure: { reason: reasonOf(error), sent: this.sent, detail: describe(error), cause: error },
    });
  }

  /** Stop the exchange for our own reason; settles at once even if undici has not started it yet. */
  cancel(reason: 'timeout' | 'aborted' | 'too-large'): void {
    const error = new TimeoutAbort(reason);
    const detail =
      reason === 'too-large' ? `response larger than ${this.#maxBytes} bytes` : `request ${reason}`;
    this.#finish({ ok: false, failure: { reason, sent: this.sent, detail, cause: undefined } });
    if (this.#abort) this.#abort(error);
    else this.#pendingAbort = error;
  }

  #finish(result: ExchangeResult): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#settle(result);
  }
}

/**
 * POST `body` to `url` and collect the whole response. Never throws: failures come back as
 * `{ok:false, failure}` with `sent` telling whether the server may have received the request.
 */
export function postOnce(dispatcher: Dispatcher, request: PostRequest): Promise<ExchangeResult> {
  return new Promise<ExchangeResult>((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    const handler = new CollectingHandler(request.maxResponseBytes, (result) => {
      if (timer) clearTimeout(timer);
      if (onAbort) request.signal?.removeEventListener('abort', onAbort);
      resolve(result);
    });
    if (request.signal?.aborted) {
      handler.cancel('aborted');
      return;
    }
    timer = setTimeout(() => handler.cancel('timeout'), request.timeoutMs);
    if (request.signal) {
      onAbort = () => handler.cancel('aborted');
      request.signal.addEventListener('abort', onAbort, { once: true });
    }
    const body = Buffer.from(request.body, 'utf8');
    try {
      dispatcher.dispatch(
        {
          origin: request.url.origin,
          path: `${request.url.pathname}${request.url.search}`,
          method: 'POST',
          headers: { ...request.headers, 'content-length': String(body.length) },
          body,
          // Our own timer is the deadline; undici's must not cut in earlier (its default is 300 s).
          headersTimeout: request.timeoutMs + 1_000,
          bodyTimeout: request.timeoutMs + 1_000,
        },
        handler,
      );
    } catch (error) {
      handler.onError(error instanceof Error ? error : new Error(String(error)));
    }
  });
}

/** A cookie as set by the server: the `name=value` part of a Set-Cookie header. */
export interface SetCookie {
  name: string;
  value: string;
}

/**
 * The `name=value` pairs of Set-Cookie headers (attributes dropped). Each header is one cookie: we never
 * split on `,` (the Python SDK does, which breaks on `expires=` dates, spec §10).
 */
export function parseSetCookies(values: readonly string[]): SetCookie[] {
  const cookies: SetCookie[] = [];
  for (const header of values) {
    const pair = header.split(';', 1)[0] ?? '';
    const at = pair.indexOf('=');
    if (at <= 0) continue;
    cookies.push({ name: pair.slice(0, at).trim(), value: pair.slice(at + 1).trim() });
  }
  return cookies;
}
