/**
 * Fxiaoke change push ("事件变更订阅") crypto: signing, AES-256-CBC, and turning a received request into one
 * internal {@link CrmChangeEvent}. Used by the webhook (receiver) and by the Fxiaoke emulator (sender).
 *
 * Wire format (spec `fxiaoke-openapi.md` §8a, from Fxiaoke's official demo `fsxiaoke/open-fxiaoke-demo`):
 * - body `{signature, timestamp, nonce, messageId, retryTimes?, enterpriseAccount, encryptedContent}`;
 * - `signature = sha1hex(timestamp + nonce + messageId + [retryTimes] + enterpriseAccount + encryptedContent
 *   + aesKey)` — plain concatenation, no sorting, `retryTimes` only when present;
 * - `encryptedContent = base64(AES-256-CBC/PKCS#7(json))`, key = base64decode(aesKey), IV = key[0..16).
 *
 * A second, simpler format is accepted for tenants that send changes from an APL function (`Fx.http.post`),
 * authenticated by HMAC-SHA256 over the raw body (see {@link openAplPush}). Both yield the same event.
 */
import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  randomBytes,
  timingSafeEqual,
} from 'node:crypto';
import { z } from 'zod';
import { SyncError } from '../errors.ts';

/** One CRM change, whichever way it arrived. Events are thin: consumers re-read the record. */
export interface CrmChangeEvent {
  /** Fxiaoke's message id (dedupe key). */
  messageId: string;
  /** Numeric enterprise id (ei) as a string. */
  tenantId: string;
  /** Object apiName, e.g. `AccountObj`, `SalesOrderObj`, `object_x1__c`. */
  apiName: string;
  /** Record `_id`. */
  dataId: string;
  /**
   * As sent (`update` is the only documented value). Consumers must treat any value, known or not, as
   * "the record changed — re-read it", and handle a record that can no longer be read.
   */
  eventType: string;
  /** When the change happened (epoch ms), from the inner payload. */
  changedAtMs: number;
  /** How many times Fxiaoke says it has re-sent this message (0 on first delivery). */
  retryTimes: number;
  via: 'push' | 'apl';
}

export type PushRejectionCode =
  | 'PUSH_MALFORMED'
  | 'PUSH_BAD_SIGNATURE'
  | 'PUSH_UNDECRYPTABLE'
  | 'PUSH_MESSAGE_ID_MISMATCH'
  | 'PUSH_WRONG_ENTERPRISE'
  | 'PUSH_STALE';

/** A change push we refuse. `httpStatus` is what the webhook should answer. */
export class PushRejectedError extends SyncError {
  readonly httpStatus: 400 | 401;

  constructor(code: PushRejectionCode, message: string, cause?: unknown) {
    super(message, { kind: 'invalid-input', fault: 'caller', code, cause });
    this.httpStatus = code === 'PUSH_MALFORMED' ? 400 : 401;
  }
}

const AES_KEY_BYTES = 32;
const IV_BYTES = 16;

function keyAndIv(aesKey: string): { key: Buffer; iv: Buffer } {
  const key = Buffer.from(aesKey, 'base64');
  if (key.length !== AES_KEY_BYTES) {
    throw new SyncError(
      'FXIAOKE_AES_KEY 必须是 32 字节的 Base64 / FXIAOKE_AES_KEY must be Base64 of 32 bytes',
      {
        kind: 'config',
        fault: 'ours',
        code: 'FXIAOKE_AES_KEY_INVALID',
      },
    );
  }
  return { key, iv: key.subarray(0, IV_BYTES) };
}

const sha1Hex = (text: string): string => createHash('sha1').update(text, 'utf8').digest('hex');

/** Compare two hex/text signatures in constant time (length differences are not secret). */
export function safeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a, 'utf8');
  const right = Buffer.from(b, 'utf8');
  return left.length === right.length && timingSafeEqual(left, right);
}

/** AES-256-CBC/PKCS#7 encrypt `plaintext` (UTF-8) with the subscription key; returns Base64. */
export function encryptPushContent(plaintext: string, aesKey: string): string {
  const { key, iv } = keyAndIv(aesKey);
  const cipher = createCipheriv('aes-256-cbc', key, iv);
  return Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]).toString('base64');
}

/**
 * Decrypt Base64 `ciphertext` with the subscription key.
 * @throws {PushRejectedError} `PUSH_UNDECRYPTABLE` for truncated data, bad padding or a wrong key.
 */
export function decryptPushContent(ciphertext: string, aesKey: string): string {
  const { key, iv } = keyAndIv(aesKey);
  const data = Buffer.from(ciphertext, 'base64');
  if (data.length === 0 || data.length % IV_BYTES !== 0) {
    throw new PushRejectedError(
      'PUSH_UNDECRYPTABLE',
      `encryptedContent 长度不是 16 的倍数（被截断？）/ encryptedContent is ${data.length} bytes, not a multiple of 16 (truncated?)`,
    );
  }
  try {
    const decipher = createDecipheriv('aes-256-cbc', key, iv);
    return Buffer.concat([decipher.update(data), decipher.final()]).toString('utf8');
  } catch (error) {
    throw new PushRejectedError(
      'PUSH_UNDECRYPTABLE',
      'encryptedContent 无法解密（密钥不对或数据损坏）/ encryptedContent does not decrypt (wrong aesKey or corrupted data)',
      error,
    );
  }
}

export interface PushSignatureFields {
  timestamp: number;
  nonce: string;
  messageId: string;
  retryTimes?: number | undefined;
  enterpriseAccount: string;
  encryptedContent: string;
}

/** The push signature, exactly as Fxiaoke computes it (see module doc). */
export function signPush(fields: PushSignatureFields, aesKey: string): string {
  const retry = fields.retryTimes === undefined ? '' : String(fields.retryTimes);
  return sha1Hex(
    `${fields.timestamp}${fields.nonce}${fields.messageId}${retry}${fields.enterpriseAccount}${fields.encryptedContent}${aesKey}`,
  );
}

/** The body Fxiaoke POSTs to a callback URL. */
export interface PushRequestBody extends PushSignatureFields {
  signature: string;
}

const NONCE_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** 16 random alphanumeric characters, like the nonces in Fxiaoke's samples. */
export function randomNonce(length = 16): string {
  const bytes = randomBytes(length);
  return Array.from(bytes, (b) => NONCE_ALPHABET[b % NONCE_ALPHABET.length]).join('');
}

/** The inner (encrypted) payload of a push. */
export interface PushInnerEvent {
  tenantId: number;
  eventType: string;
  apiName: string;
  dataId: string;
  timestamp: number;
  messageId: string;
}

/**
 * Build a signed, encrypted push body (the sender side — used by the Fxiaoke emulator).
 * `retryTimes` is included only on redeliveries, as Fxiaoke does.
 */
export function buildPushRequest(
  inner: PushInnerEvent,
  options: {
    aesKey: string;
    enterpriseAccount: string;
    timestamp: number;
    nonce?: string;
    retryTimes?: number;
  },
): PushRequestBody {
  const encryptedContent = encryptPushContent(JSON.stringify(inner), options.aesKey);
  const fields: PushSignatureFields = {
    timestamp: options.timestamp,
    nonce: options.nonce ?? randomNonce(),
    messageId: inner.messageId,
    ...(options.retryTimes === undefined ? {} : { retryTimes: options.retryTimes }),
    enterpriseAccount: options.enterpriseAccount,
    encryptedContent,
  };
  return { signature: signPush(fields, options.aesKey), ...fields };
}

const outerSchema = z.object({
  signature: z.string().regex(/^[0-9a-fA-F]{40}$/, 'must be 40 hex characters'),
  timestamp: z.union([z.number().int(), z.string().regex(/^\d+$/).transform(Number)]),
  nonce: z.string().min(1),
  messageId: z.string().min(1),
  retryTimes: z
    .union([z.number().int().nonnegative(), z.string().regex(/^\d+$/).transform(Number), z.null()])
    .optional(),
  enterpriseAccount: z.string().min(1),
  encryptedContent: z.string().min(1),
});

const innerSchema = z.object({
  tenantId: z.union([z.number(), z.string()]).transform(String),
  eventType: z.string().min(1),
  apiName: z.string().min(1),
  dataId: z.string().min(1),
  timestamp: z.union([z.number(), z.string().regex(/^\d+$/).transform(Number)]),
  messageId: z.string().min(1),
});

export interface OpenPushOptions {
  aesKey: string;
  /** Our enterprise account (ea); a push for another one is refused. */
  enterpriseAccount: string;
  /** Maximum age of the outer (delivery) timestamp, and tolerated clock skew into the future. */
  maxAgeMs: number;
  now: number;
}

function describeZod(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ');
}

/**
 * Verify and decrypt a platform push body (already JSON-parsed).
 *
 * Order of checks: shape → signature (constant time) → enterprise account → replay window → decrypt →
 * inner shape → inner messageId equals the outer one. Nothing here throws anything but
 * {@link PushRejectedError}.
 */
export function openPush(body: unknown, options: OpenPushOptions): CrmChangeEvent {
  const outer = outerSchema.safeParse(body);
  if (!outer.success) {
    throw new PushRejectedError(
      'PUSH_MALFORMED',
      `推送报文格式不对 / Malformed change push: ${describeZod(outer.error)}`,
    );
  }
  const fields = outer.data;
  const retryTimes = fields.retryTimes ?? undefined;
  const expected = signPush({ ...fields, retryTimes }, options.aesKey);
  if (!safeEqual(expected, fields.signature.toLowerCase())) {
    throw new PushRejectedError(
      'PUSH_BAD_SIGNATURE',
      '推送签名校验失败 / Change push signature does not verify',
    );
  }
  if (fields.enterpriseAccount !== options.enterpriseAccount) {
    throw new PushRejectedError(
      'PUSH_WRONG_ENTERPRISE',
      `推送来自其他企业账号 ${fields.enterpriseAccount} / Change push is for enterprise account "${fields.enterpriseAccount}", not ours`,
    );
  }
  const ageMs = options.now - fields.timestamp;
  if (ageMs > options.maxAgeMs || ageMs < -options.maxAgeMs) {
    throw new PushRejectedError(
      'PUSH_STALE',
      `推送时间戳超出允许范围（${Math.round(ageMs / 1000)} 秒）/ Change push timestamp is ${Math.round(ageMs / 1000)} s from now, outside the ${Math.round(options.maxAgeMs / 1000)} s replay window`,
    );
  }
  const plaintext = decryptPushContent(fields.encryptedContent, options.aesKey);
  let innerJson: unknown;
  try {
    innerJson = JSON.parse(plaintext);
  } catch (error) {
    throw new PushRejectedError(
      'PUSH_MALFORMED',
      '解密后的内容不是 JSON / Decrypted content is not JSON',
      error,
    );
  }
  const inner = innerSchema.safeParse(innerJson);
  if (!inner.success) {
    throw new PushRejectedError(
      'PUSH_MALFORMED',
      `解密后的事件格式不对 / Decrypted event is malformed: ${describeZod(inner.error)}`,
    );
  }
  if (inner.data.messageId !== fields.messageId) {
    throw new PushRejectedError(
      'PUSH_MESSAGE_ID_MISMATCH',
      '内外 messageId 不一致 / Inner messageId does not match the outer one',
    );
  }
  return {
    messageId: fields.messageId,
    tenantId: inner.data.tenantId,
    apiName: inner.data.apiName,
    dataId: inner.data.dataId,
    eventType: inner.data.eventType,
    changedAtMs: inner.data.timestamp,
    retryTimes: retryTimes ?? 0,
    via: 'push',
  };
}

/** The reply body the official demo sends: `encryptedResult = AES("success")`, signed with a fresh nonce. */
export interface PushReplyBody {
  timestamp: number;
  nonce: string;
  encryptedResult: string;
  signature: string;
}

/** Build the encrypted reply (`"success"` by default) that tells Fxiaoke the push was received. */
export function buildPushReply(
  aesKey: string,
  options: { timestamp: number; nonce?: string; result?: string },
): PushReplyBody {
  const nonce = options.nonce ?? randomNonce();
  const encryptedResult = encryptPushContent(options.result ?? 'success', aesKey);
  return {
    timestamp: options.timestamp,
    nonce,
    encryptedResult,
    signature: sha1Hex(`${options.timestamp}${nonce}${encryptedResult}${aesKey}`),
  };
}

const replySchema = z.object({
  timestamp: z.union([z.number(), z.string()]),
  nonce: z.string(),
  encryptedResult: z.string(),
  signature: z.string(),
});

/**
 * Read a reply body (the emulator's side): `true` when it is a correctly signed encrypted `success`, or the
 * plain text `success` that many receivers answer with.
 */
export function isSuccessReply(rawBody: string, aesKey: string): boolean {
  if (rawBody.trim() === 'success') return true;
  let json: unknown;
  try {
    json = JSON.parse(rawBody);
  } catch {
    return false;
  }
  const reply = replySchema.safeParse(json);
  if (!reply.success) return false;
  const { timestamp, nonce, encryptedResult, signature } = reply.data;
  const expected = sha1Hex(`${timestamp}${nonce}${encryptedResult}${aesKey}`);
  if (!safeEqual(expected, signature)) return false;
  try {
    return decryptPushContent(encryptedResult, aesKey) === 'success';
  } catch {
    return false;
  }
}

/** Header carrying `sha256=<hex HMAC-SHA256(secret, raw body)>` on APL-sent changes. */
export const APL_SIGNATURE_HEADER = 'x-fxk3-signature';

/** Compute the APL signature header value for `rawBody` (what the APL snippet in the README computes). */
export function signAplBody(rawBody: string, secret: string): string {
  return `sha256=${createHmac('sha256', secret).update(rawBody, 'utf8').digest('hex')}`;
}

const aplSchema = z.object({
  tenantId: z.union([z.number(), z.string()]).transform(String),
  apiName: z.string().min(1),
  dataId: z.string().min(1),
  eventType: z.string().min(1).default('update'),
  timestamp: z.union([z.number().int(), z.string().regex(/^\d+$/).transform(Number)]),
  messageId: z.string().min(1),
});

/**
 * Verify and read a change sent by an APL function: JSON `{tenantId, apiName, dataId, eventType, timestamp,
 * messageId}` with header `x-fxk3-signature: sha256=<hex HMAC-SHA256(FXIAOKE_APL_HMAC_SECRET, raw body)>`.
 * The signature is checked over the raw bytes before anything is parsed.
 */
export function openAplPush(
  rawBody: string,
  signatureHeader: string | undefined,
  options: { secret: string; maxAgeMs: number; now: number },
): CrmChangeEvent {
  if (!signatureHeader) {
    throw new PushRejectedError(
      'PUSH_BAD_SIGNATURE',
      `缺少签名头 ${APL_SIGNATURE_HEADER} / Missing ${APL_SIGNATURE_HEADER} header`,
    );
  }
  if (!safeEqual(signAplBody(rawBody, options.secret), signatureHeader.trim().toLowerCase())) {
    throw new PushRejectedError(
      'PUSH_BAD_SIGNATURE',
      'APL 请求签名校验失败 / APL request signature does not verify',
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(rawBody);
  } catch (error) {
    throw new PushRejectedError('PUSH_MALFORMED', '请求体不是 JSON / Body is not JSON', error);
  }
  const parsed = aplSchema.safeParse(json);
  if (!parsed.success) {
    throw new PushRejectedError(
      'PUSH_MALFORMED',
      `APL 事件格式不对 / Malformed APL event: ${describeZod(parsed.error)}`,
    );
  }
  const ageMs = options.now - parsed.data.timestamp;
  if (ageMs > options.maxAgeMs || ageMs < -options.maxAgeMs) {
    throw new PushRejectedError(
      'PUSH_STALE',
      `APL 事件时间戳超出允许范围 / APL event timestamp is ${Math.round(ageMs / 1000)} s from now, outside the replay window`,
    );
  }
  return {
    messageId: parsed.data.messageId,
    tenantId: parsed.data.tenantId,
    apiName: parsed.data.apiName,
    dataId: parsed.data.dataId,
    eventType: parsed.data.eventType,
    changedAtMs: parsed.data.timestamp,
    retryTimes: 0,
    via: 'apl',
  };
}
