/**
 * The change-push receiver: one function that takes a raw HTTP request and decides, without ever throwing,
 * whether it is a genuine CRM change — from the platform push ("事件变更订阅", signed + AES-encrypted JSON,
 * spec §8a) or from an APL function (`x-fxk3-signature: sha256=<HMAC>` over the raw body, spec §8c) — and
 * what to answer. The webhook Lambda calls it, then de-duplicates on `event.messageId` and queues the event.
 *
 * Answers:
 * - accepted → 200 with the reply Fxiaoke's demo sends (`{timestamp, nonce, encryptedResult: AES("success"),
 *   signature}`) for platform pushes, `{"ok":true}` JSON for APL calls;
 * - 400 malformed (not JSON, missing fields, undecryptable inner JSON), 401 not authentic (signature,
 *   wrong key, wrong enterprise, replay window), 405 not a POST, 413 body too large, 500 only when our own
 *   configuration is broken (e.g. an AES key that is not 32 bytes) — each with a short code and reason.
 *
 * Rejections never echo request content back and never contain secrets.
 */
import type { CrmChangeEvent, PushRejectionCode } from './push-crypto.ts';
import {
  APL_SIGNATURE_HEADER,
  buildPushReply,
  openAplPush,
  openPush,
  PushRejectedError,
} from './push-crypto.ts';

/** Default cap on a push body. A real push is ~0.5 KiB (spec §8a sample); 64 KiB leaves ample room. */
export const DEFAULT_PUSH_MAX_BODY_BYTES = 64 * 1024;

export type PushHeaders = Readonly<Record<string, string | readonly string[] | undefined>>;

export interface PushHttpRequest {
  method: string;
  /** Header names in any case (API Gateway lower-cases them, others may not). */
  headers: PushHeaders;
  /** The body exactly as received (decode API Gateway's base64 first). */
  rawBody: string;
}

export interface PushReceiverConfig {
  aesKey: string;
  enterpriseAccount: string;
  /** Enables the APL variant; APL requests are refused while it is unset. */
  aplHmacSecret?: string | undefined;
  /** Replay window for both variants (FXIAOKE_PUSH_MAX_AGE_MS). */
  pushMaxAgeMs: number;
  /** Default {@link DEFAULT_PUSH_MAX_BODY_BYTES}. */
  maxBodyBytes?: number;
  /**
   * Our numeric enterprise id (ei). When set, events for another tenant are refused — the only tenant check
   * the APL variant has besides its secret.
   */
  tenantId?: string | undefined;
}

export interface PushReply {
  status: 200;
  contentType: string;
  body: string;
}

export type PushReceiverRejectionCode =
  | PushRejectionCode
  | 'PUSH_METHOD_NOT_ALLOWED'
  | 'PUSH_TOO_LARGE'
  | 'PUSH_APL_DISABLED'
  | 'PUSH_WRONG_TENANT'
  | 'PUSH_RECEIVER_MISCONFIGURED';

export type PushReceiveResult =
  | { ok: true; event: CrmChangeEvent; reply: PushReply }
  | {
      ok: false;
      status: 400 | 401 | 405 | 413 | 500;
      code: PushReceiverRejectionCode;
      /** Short, bilingual, safe to return and to log. */
      reason: string;
      contentType: string;
      body: string;
    };

const JSON_TYPE = 'application/json; charset=utf-8';
const AES_KEY_BYTES = 32;

const PUSH_REJECTION_CODES: ReadonlySet<string> = new Set<PushRejectionCode>([
  'PUSH_MALFORMED',
  'PUSH_BAD_SIGNATURE',
  'PUSH_UNDECRYPTABLE',
  'PUSH_MESSAGE_ID_MISMATCH',
  'PUSH_WRONG_ENTERPRISE',
  'PUSH_STALE',
]);

function isPushRejectionCode(code: string): code is PushRejectionCode {
  return PUSH_REJECTION_CODES.has(code);
}

/** Case-insensitive single header value (first of a list). */
export function headerValue(headers: PushHeaders, name: string): string | undefined {
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() !== wanted || value === undefined) continue;
    return typeof value === 'string' ? value : value[0];
  }
  return undefined;
}

const MAX_REASON_CHARS = 240;

function reject(
  status: 400 | 401 | 405 | 413 | 500,
  code: PushReceiverRejectionCode,
  fullReason: string,
): Extract<PushReceiveResult, { ok: false }> {
  // Validation messages can list every missing field; the sender only needs the gist.
  const reason =
    fullReason.length > MAX_REASON_CHARS ? `${fullReason.slice(0, MAX_REASON_CHARS - 1)}…` : fullReason;
  return {
    ok: false,
    status,
    code,
    reason,
    contentType: JSON_TYPE,
    body: JSON.stringify({ error: code, message: reason }),
  };
}

function fromError(error: unknown): Extract<PushReceiveResult, { ok: false }> {
  if (error instanceof PushRejectedError && isPushRejectionCode(error.code)) {
    return reject(error.httpStatus, error.code, error.message);
  }
  return misconfigured();
}

/** Our own settings are broken (e.g. FXIAOKE_AES_KEY): 500, so Fxiaoke redelivers once it is fixed. */
function misconfigured(): Extract<PushReceiveResult, { ok: false }> {
  return reject(
    500,
    'PUSH_RECEIVER_MISCONFIGURED',
    '接收端配置错误，请检查 FXIAOKE_AES_KEY 等设置 / receiver misconfigured: check FXIAOKE_AES_KEY and related settings',
  );
}

/**
 * Decide what a request to the change-push URL is and what to answer. Never throws.
 *
 * Format: a request carrying the `x-fxk3-signature` header is an APL call; anything else is read as a
 * platform push.
 */
export function receiveFxiaokePush(
  request: PushHttpRequest,
  config: PushReceiverConfig,
  nowMs: number,
): PushReceiveResult {
  try {
    return receive(request, config, nowMs);
  } catch (error) {
    return fromError(error);
  }
}

function receive(request: PushHttpRequest, config: PushReceiverConfig, nowMs: number): PushReceiveResult {
  // The request comes from a handler that may pass whatever the runtime gave it: check the shape too.
  const method = typeof request?.method === 'string' ? request.method.toUpperCase() : '';
  const headers: PushHeaders =
    typeof request?.headers === 'object' && request.headers !== null ? request.headers : {};
  const rawBody = typeof request?.rawBody === 'string' ? request.rawBody : '';
  if (Buffer.from(config.aesKey ?? '', 'base64').length !== AES_KEY_BYTES) {
    return misconfigured();
  }
  if (method !== 'POST') {
    return reject(405, 'PUSH_METHOD_NOT_ALLOWED', '只接受 POST / only POST is accepted');
  }
  const maxBytes = config.maxBodyBytes ?? DEFAULT_PUSH_MAX_BODY_BYTES;
  const declared = Number(headerValue(headers, 'content-length'));
  const size = Buffer.byteLength(rawBody, 'utf8');
  if (size > maxBytes || (Number.isFinite(declared) && declared > maxBytes)) {
    return reject(
      413,
      'PUSH_TOO_LARGE',
      `请求体超过 ${maxBytes} 字节 / body is larger than ${maxBytes} bytes`,
    );
  }
  const aplSignature = headerValue(headers, APL_SIGNATURE_HEADER);
  const event =
    aplSignature === undefined
      ? openPlatformPush(rawBody, config, nowMs)
      : openApl(rawBody, aplSignature, config, nowMs);
  if (!event.ok) return event;
  if (config.tenantId !== undefined && event.event.tenantId !== config.tenantId) {
    return reject(
      401,
      'PUSH_WRONG_TENANT',
      `事件属于其他企业（tenantId ${event.event.tenantId}）/ event is for another tenant (tenantId ${event.event.tenantId})`,
    );
  }
  const reply: PushReply =
    event.event.via === 'push'
      ? {
          status: 200,
          contentType: JSON_TYPE,
          body: JSON.stringify(buildPushReply(config.aesKey, { timestamp: nowMs })),
        }
      : {
          status: 200,
          contentType: JSON_TYPE,
          body: JSON.stringify({ ok: true, messageId: event.event.messageId }),
        };
  return { ok: true, event: event.event, reply };
}

type Opened = { ok: true; event: CrmChangeEvent } | Extract<PushReceiveResult, { ok: false }>;

function openPlatformPush(rawBody: string, config: PushReceiverConfig, nowMs: number): Opened {
  let body: unknown;
  try {
    body = JSON.parse(rawBody);
  } catch {
    return reject(400, 'PUSH_MALFORMED', '请求体不是 JSON / body is not JSON');
  }
  const event = openPush(body, {
    aesKey: config.aesKey,
    enterpriseAccount: config.enterpriseAccount,
    maxAgeMs: config.pushMaxAgeMs,
    now: nowMs,
  });
  return { ok: true, event };
}

function openApl(rawBody: string, signature: string, config: PushReceiverConfig, nowMs: number): Opened {
  if (!config.aplHmacSecret) {
    return reject(
      401,
      'PUSH_APL_DISABLED',
      '未启用 APL 推送（未设置 FXIAOKE_APL_HMAC_SECRET）/ APL pushes are disabled (FXIAOKE_APL_HMAC_SECRET is not set)',
    );
  }
  const event = openAplPush(rawBody, signature, {
    secret: config.aplHmacSecret,
    maxAgeMs: config.pushMaxAgeMs,
    now: nowMs,
  });
  return { ok: true, event };
}
