/**
 * CRM records as the rest of the code sees them.
 *
 * Fxiaoke returns numbers and `version` as strings, dates as epoch-ms numbers, owners as arrays, and lookup
 * display values in `<field>__r` siblings (spec §5). The system fields every flow relies on are validated
 * and normalised here; every other field passes through untouched, and the typed readers below interpret a
 * field on demand (a mapping knows which of its fields is a number; the client does not).
 */
import { z } from 'zod';

const epochMs = z.union([
  z.number(),
  z
    .string()
    .regex(/^-?\d+$/)
    .transform(Number),
]);
const stringList = z.union([
  z.array(z.union([z.string(), z.number()]).transform(String)),
  z.string().transform((s) => [s]),
]);

/** System fields validated on every record; the object is loose, so unknown fields are kept as they are. */
export const crmRecordSchema = z.looseObject({
  _id: z.string().min(1),
  object_describe_api_name: z.string().optional(),
  name: z.string().nullish(),
  /** Record version: a string on the wire (`"4"`), a number here; it grows with every write. */
  version: z.union([z.number(), z.string().regex(/^\d+$/).transform(Number)]).optional(),
  /** `normal`, `invalid`, `under_review`, `ineffective`, `in_change`, … */
  life_status: z.string().nullish(),
  is_deleted: z.boolean().optional(),
  create_time: epochMs.optional(),
  last_modified_time: epochMs.optional(),
  owner: stringList.optional(),
  created_by: stringList.optional(),
  last_modified_by: stringList.optional(),
  record_type: z.string().nullish(),
});

export type CrmRecord = z.output<typeof crmRecordSchema>;

/** A master record together with its detail rows, keyed by detail apiName (e.g. `SalesOrderProductObj`). */
export interface CrmRecordWithDetails {
  record: CrmRecord;
  details: Record<string, CrmRecord[]>;
}

/** Raw value of a field, or undefined when absent, null or the empty string (web UI sends '', APIs null). */
export function readCrmRaw(record: Readonly<Record<string, unknown>>, field: string): unknown {
  const value = record[field];
  return value === null || value === '' ? undefined : value;
}

/** A text field (numbers are turned into their decimal text). */
export function readCrmString(record: Readonly<Record<string, unknown>>, field: string): string | undefined {
  const value = readCrmRaw(record, field);
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return undefined;
}

/**
 * A number/currency/percentile field, which Fxiaoke sends as a string (`"1.00"`). Returns undefined when
 * empty; NaN never escapes (an unparsable value is undefined).
 */
export function readCrmNumber(record: Readonly<Record<string, unknown>>, field: string): number | undefined {
  const value = readCrmRaw(record, field);
  const parsed =
    typeof value === 'number' ? value : typeof value === 'string' ? Number(value.trim()) : Number.NaN;
  return Number.isFinite(parsed) ? parsed : undefined;
}

/** A date or date-time field (epoch ms, possibly as a string). */
export function readCrmEpochMs(record: Readonly<Record<string, unknown>>, field: string): number | undefined {
  return readCrmNumber(record, field);
}

/** The first id of an array-valued field such as `owner`, or the value of a single lookup id. */
export function readCrmFirstId(record: Readonly<Record<string, unknown>>, field: string): string | undefined {
  const value = readCrmRaw(record, field);
  if (Array.isArray(value)) return value.length > 0 ? String(value[0]) : undefined;
  return readCrmString(record, field);
}

/** Values of a select_many or other array field, as strings. */
export function readCrmList(record: Readonly<Record<string, unknown>>, field: string): string[] {
  const value = readCrmRaw(record, field);
  if (Array.isArray(value)) return value.map(String);
  return value === undefined ? [] : [String(value)];
}

/**
 * Calendar date (yyyy-MM-dd) of an epoch-ms date field in China Standard Time (GMT+8), which is how
 * Fxiaoke stores date-only fields (00:00 local).
 */
export function crmEpochMsToIsoDate(epochMsValue: number): string {
  const CHINA_OFFSET_MS = 8 * 3_600_000;
  return new Date(epochMsValue + CHINA_OFFSET_MS).toISOString().slice(0, 10);
}
