/**
 * Pure signing functions of the K3Cloud Web API (spec `k3cloud-webapi.md` §2.4 and §2.6).
 *
 * Nothing here does I/O or reads the clock: callers pass the timestamp, so every function is reproducible
 * and the spec's worked vectors are unit tests.
 */
import { createHash, createHmac } from 'node:crypto';

/** Hash used by `AuthService.LoginBySign`; `sha1` only for servers older than 8.0.0.202205 (PT-146911). */
export type LoginSignAlgorithm = 'sha256' | 'sha1';

export interface LoginSignFields {
  acctId: string;
  username: string;
  appId: string;
  appSecret: string;
  /** Unix time in **seconds** (the server rejects milliseconds). */
  timestampSeconds: number;
}

/**
 * Ordinal (UTF-16 code unit) comparison, the order of C# `StringComparer.Ordinal` and Java `Arrays.sort`.
 * JS `Array#sort` without a comparator compares the same way; it is spelled out so that nobody "fixes" it
 * with `localeCompare`, which would reorder digits and letters differently from the server.
 */
function compareOrdinal(a: string, b: string): number {
  if (a === b) return 0;
  return a < b ? -1 : 1;
}

/**
 * The `sign` argument of `AuthService.LoginBySign`: lower-case hex SHA-256 (or SHA-1) of the five fields
 * sorted ordinally and concatenated without separator (spec §2.4).
 */
export function loginBySignSignature(fields: LoginSignFields, algorithm: LoginSignAlgorithm): string {
  const parts = [
    fields.acctId,
    fields.username,
    fields.appId,
    fields.appSecret,
    String(fields.timestampSeconds),
  ].sort(compareOrdinal);
  return createHash(algorithm).update(parts.join(''), 'utf8').digest('hex');
}

/**
 * Kingdee's HMAC encoding: base64 of the **lower-case hex string** of HMAC-SHA256 — not of the raw digest.
 * Every official SDK does it this way (spec §2.6, `KDHMAC`).
 */
export function kdHmac(message: string, key: string): string {
  const hex = createHmac('sha256', Buffer.from(key, 'utf8')).update(message, 'utf8').digest('hex');
  return Buffer.from(hex, 'utf8').toString('base64');
}

export interface SignatureIdentity {
  acctId: string;
  username: string;
  lcid: number;
  /** Organisation number; the SDKs send `0` for "the user's default organisation". */
  orgNumber: string;
}

/** The raw (not yet base64) app data: `acctID,username,lcid,orgNum`. */
export function rawAppData(identity: SignatureIdentity): string {
  return `${identity.acctId},${identity.username},${identity.lcid},${identity.orgNumber}`;
}

/** `X-Kd-Appdata` header value: base64 of the UTF-8 app data. */
export function kdAppDataHeader(identity: SignatureIdentity): string {
  return Buffer.from(rawAppData(identity), 'utf8').toString('base64');
}

/**
 * `X-Kd-Signature`: `KDHMAC(appId + rawAppData, appSecret)`. It has no timestamp, so it is constant per
 * identity — which is why it is registered as a secret and never logged.
 */
export function kdSignatureHeader(appId: string, appSecret: string, identity: SignatureIdentity): string {
  return kdHmac(appId + rawAppData(identity), appSecret);
}

/**
 * XOR key of the gateway secret. The Python SDK stores it ROT13-encoded (`0054s397p6234378o09pn7q3r5qropr7`);
 * this is the decoded value, identical to the Java SDK's constant (spec §2.6).
 */
const GATEWAY_XOR_KEY = Buffer.from('0054f397c6234378b09ca7d3e5debce7', 'ascii');
const GATEWAY_SECRET_PART_CHARS = 32;

/** The two halves of an AppID such as `123456_AAECAwQF…`: client id and encoded gateway secret. */
export function splitAppId(appId: string): { clientId: string; secretPart: string | undefined } {
  const at = appId.indexOf('_');
  if (at < 0) return { clientId: appId, secretPart: undefined };
  return { clientId: appId.slice(0, at), secretPart: appId.slice(at + 1) };
}

/**
 * The key of `X-Api-Signature`: `base64(base64decode(part2) XOR key)` when part 2 of the AppID has the
 * expected 32 characters; otherwise the Java SDK uses part 2 unchanged, and so do we.
 */
export function gatewayClientSecret(secretPart: string): string {
  if (secretPart.length !== GATEWAY_SECRET_PART_CHARS) return secretPart;
  const decoded = Buffer.from(secretPart, 'base64');
  const mixed = Buffer.alloc(decoded.length);
  for (let i = 0; i < decoded.length; i++) {
    mixed[i] = (decoded[i] ?? 0) ^ (GATEWAY_XOR_KEY[i % GATEWAY_XOR_KEY.length] ?? 0);
  }
  return mixed.toString('base64');
}

/**
 * URL-encode a path the way the SDKs do before signing (Python `quote(path, safe='')`): everything but
 * `A-Z a-z 0-9 - _ . ~` is percent-encoded, so `/` becomes `%2F`.
 */
export function encodeSignaturePath(path: string): string {
  return encodeURIComponent(path).replace(
    /[!'()*]/g,
    (ch) => `%${ch.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

/** `X-Api-Signature` over `POST\n<encoded path>\n\nx-api-nonce:<n>\nx-api-timestamp:<t>\n`. */
export function gatewaySignature(args: {
  secretPart: string;
  path: string;
  timestamp: string;
  nonce: string;
}): string {
  const stringToSign = `POST\n${encodeSignaturePath(args.path)}\n\nx-api-nonce:${args.nonce}\nx-api-timestamp:${args.timestamp}\n`;
  return kdHmac(stringToSign, gatewayClientSecret(args.secretPart));
}

export interface SignatureHeadersInput extends SignatureIdentity {
  appId: string;
  appSecret: string;
  /** Path of the request URL, e.g. `/k3cloud/Kingdee.BOS.WebApi.ServicesStub.…common.kdsvc`. */
  path: string;
  /** Unix time in seconds, as the Python/PHP/Go SDKs send it (the Java SDK sends milliseconds). */
  timestampSeconds: number;
}

/**
 * Every header of signature mode ("第三方系统登录授权"), computed exactly as the official SDKs do (§2.6).
 *
 * On-prem servers appear to check only the `X-Kd-*` headers; Kingdee's API gateway checks `X-Api-*`
 * (timestamp freshness included). We send both so the same configuration works behind either.
 * The nonce equals the timestamp, as in every official SDK. An AppID without `_` has no gateway secret:
 * like Java SDK 8.2.0 we then send an empty `X-Api-Signature`.
 */
export function signatureHeaders(input: SignatureHeadersInput): Record<string, string> {
  const { clientId, secretPart } = splitAppId(input.appId);
  const timestamp = String(input.timestampSeconds);
  return {
    'X-Api-ClientID': clientId,
    'X-Api-Auth-Version': '2.0',
    'x-api-timestamp': timestamp,
    'x-api-nonce': timestamp,
    'x-api-signheaders': 'x-api-timestamp,x-api-nonce',
    'X-Api-Signature':
      secretPart === undefined
        ? ''
        : gatewaySignature({ secretPart, path: input.path, timestamp, nonce: timestamp }),
    'X-Kd-Appkey': input.appId,
    'X-Kd-Appdata': kdAppDataHeader(input),
    'X-Kd-Signature': kdSignatureHeader(input.appId, input.appSecret, input),
  };
}
