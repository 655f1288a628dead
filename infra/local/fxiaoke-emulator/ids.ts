/**
 * Identifier and time shapes the emulator hands out, matching what Fxiaoke's samples show (spec §1.3, §5).
 */
import { randomBytes } from 'node:crypto';

const PROCESS_RANDOM = randomBytes(5).toString('hex');
let idCounter = randomBytes(3).readUIntBE(0, 3);

/**
 * A record `_id`: 24 lower-hex characters like `5f3a3de57c604a00017dc5ee` (spec §1.3), built like a Mongo
 * ObjectId (4-byte seconds, 5 random bytes per process, 3-byte counter) so ids are unique and roughly
 * time-ordered, which keeps `_id` keyset paging natural.
 */
export function newRecordId(nowMs: number): string {
  idCounter = (idCounter + 1) % 0x1000000;
  const seconds = Math.max(0, Math.floor(nowMs / 1000)) % 0x100000000;
  return `${seconds.toString(16).padStart(8, '0')}${PROCESS_RANDOM}${idCounter.toString(16).padStart(6, '0')}`;
}

/** 32 upper-hex characters, the shape of corpAccessToken / permanentCode (spec §1.3). */
export function newToken(): string {
  return randomBytes(16).toString('hex').toUpperCase();
}

/** A push messageId: 33 upper-hex characters, as in the official sample `AC11291700002A9F00000608C038697A0`. */
export function newMessageId(): string {
  return randomBytes(17).toString('hex').toUpperCase().slice(0, 33);
}

let traceCounter = 0;

/** A response traceId shaped like the samples (`E-O.<ea>.<n>-<hex>`, spec §4.1). */
export function newTraceId(enterpriseAccount: string): string {
  traceCounter = (traceCounter + 1) % 1_000_000;
  return `E-O.${enterpriseAccount}.${traceCounter}-${randomBytes(8).toString('hex')}`;
}

const DAY_MS = 86_400_000;
/** Fxiaoke stores date-only fields at 00:00 China Standard Time (spec §5.1). */
const GMT8_OFFSET_MS = 8 * 3_600_000;

/** Epoch ms of 00:00 GMT+8 on the day containing `nowMs`. */
export function startOfDayGmt8(nowMs: number): number {
  return Math.floor((nowMs + GMT8_OFFSET_MS) / DAY_MS) * DAY_MS - GMT8_OFFSET_MS;
}

/** `yyyyMMdd` of `nowMs` in GMT+8. */
export function dateStampGmt8(nowMs: number): string {
  return new Date(nowMs + GMT8_OFFSET_MS).toISOString().slice(0, 10).replaceAll('-', '');
}

/** RFC 4122 version-4 UUID, as Fxiaoke requires for `thirdTraceId` (spec §2.3). */
export const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;
