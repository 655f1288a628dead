/**
 * Content hashes of mapped payloads, so the pipeline can skip a record whose mapped payload has not changed
 * since the last successful write (a CRM edit of an unmapped field, a redelivered push, the overlap window of
 * the ERP poller).
 *
 * The hash is SHA-256 over canonical JSON: object keys sorted by UTF-16 code units, no whitespace, `undefined`
 * members dropped, `-0` written as `0`. Key order and formatting therefore never change the hash; any
 * mapped value does.
 */
import { createHash } from 'node:crypto';

/**
 * Bumped when the canonical form changes on purpose; part of the hashed text so old and new hashes never
 * compare equal by accident (every record is then re-sent once, which is harmless).
 */
export const CONTENT_HASH_VERSION = 1;

/**
 * Canonical JSON text of a JSON-like value.
 *
 * @throws {TypeError} for values JSON cannot represent faithfully (functions, symbols, bigints, NaN,
 *   Infinity, class instances other than plain objects and arrays) — a mapping bug, never silently hashed.
 */
export function canonicalJson(value: unknown): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return JSON.stringify(value);
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError(`canonicalJson: non-finite number ${value}`);
      return Object.is(value, -0) ? '0' : JSON.stringify(value);
    case 'object': {
      if (Array.isArray(value)) {
        return `[${value.map((item) => (item === undefined ? 'null' : canonicalJson(item))).join(',')}]`;
      }
      const prototype = Object.getPrototypeOf(value);
      if (prototype !== Object.prototype && prototype !== null) {
        throw new TypeError('canonicalJson: only plain objects and arrays are supported');
      }
      const entries = Object.entries(value)
        .filter(([, item]) => item !== undefined)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${canonicalJson(item)}`).join(',')}}`;
    }
    default:
      throw new TypeError(`canonicalJson: cannot represent a ${typeof value}`);
  }
}

/**
 * `sha256:<64 hex>` of the canonical JSON of `value` (prefixed with {@link CONTENT_HASH_VERSION}).
 *
 * @throws {TypeError} when `value` is not JSON-like (see {@link canonicalJson}).
 */
export function contentHash(value: unknown): string {
  const digest = createHash('sha256')
    .update(`v${CONTENT_HASH_VERSION}\n`)
    .update(canonicalJson(value))
    .digest('hex');
  return `sha256:${digest}`;
}
