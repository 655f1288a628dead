/**
 * The K3Cloud request bodies the mappings produce (the `data` object of Save, Push and ExecuteBillQuery,
 * spec §4.1, §4.5, §4.7) and the reading of ExecuteBillQuery rows.
 *
 * The K3Cloud client wraps these bodies for the wire; nothing here does I/O. FilterString values are always
 * built with {@link k3Literal} so a quote in CRM data (`O'Brien 贸易`) can neither break the query nor widen
 * it, and field keys are checked against K3's key syntax before they reach a filter.
 */
import { z } from 'zod';
import { ConfigError, InvalidInputError, SyncError } from '../errors.ts';

/** A base-data reference in a Save Model: `{"FNumber":"100"}`; bill types use `{"FNUMBER":"XSDD01_SYS"}`. */
export type K3Ref = { readonly [key: string]: string };
export type K3Scalar = string | number | boolean;
export type K3Value = K3Scalar | K3Ref;
/** A Save Model (or a sub-header object, or one entry row). */
export interface K3Model {
  [key: string]: K3Value | K3Model | K3Model[];
}

/** `data` of DynamicFormService.Save (spec §4.1). */
export interface K3SaveData {
  Model: K3Model;
  /** Updates only: the mapped keys, entry keys included (spec §4.1 "also list the entry key"). */
  NeedUpDateFields?: string[];
  NeedReturnFields?: string[];
  /** Always set explicitly on updates: K3's default `true` deletes entry rows missing from the Model. */
  IsDeleteEntry?: boolean;
}

/** `data` of DynamicFormService.Push (spec §4.7). */
export interface K3PushData {
  Ids: string;
  Numbers: string[];
  EntryIds: string;
  RuleId: string;
  TargetBillTypeId: string;
  TargetOrgId: number;
  TargetFormId: string;
  IsEnableDefaultRule: boolean;
  IsDraftWhenSaveFail: boolean;
  CustomParams: Record<string, string>;
}

/** `data` of DynamicFormService.ExecuteBillQuery (spec §4.5). */
export interface K3BillQuery {
  FormId: string;
  /** Comma-separated; the columns of every returned row, in this order. */
  FieldKeys: string;
  FilterString: string;
  OrderString: string;
  TopRowCount: number;
  StartRow: number;
  Limit: number;
  SubSystemId: string;
}

/** K3 field keys as used in Save and queries; dots reach into references (`FMaterialId.FNumber`). */
const FIELD_KEY_PATTERN = /^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)*$/;

/**
 * Historic ExecuteBillQuery row limit ("不能超过2000"); patch 23.11 raised the default maximum to 10 000
 * (`WebAPIMaxQueryLimit`, spec §4.5). Page sizes above this are refused here rather than cut by the server.
 */
export const K3_QUERY_MAX_LIMIT = 10_000;

/**
 * A field key checked for K3's syntax, so config text can never inject SQL-ish text into a FilterString.
 *
 * @throws {TypeError} when the key is not a K3 field key (config validation makes this a bug).
 */
export function k3FieldKey(key: string): string {
  if (!FIELD_KEY_PATTERN.test(key)) throw new TypeError(`not a K3 field key: ${JSON.stringify(key)}`);
  return key;
}

/**
 * A FilterString literal: numbers as they are, text in single quotes with quotes doubled (`'` → `''`),
 * the SQL escaping K3's filter parser applies.
 *
 * @throws {InvalidInputError} for text containing a NUL character (no legitimate key holds one) or a
 *   non-finite number.
 */
export function k3Literal(value: string | number): string {
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) {
      throw new InvalidInputError(
        `查询条件中的数值无效 / invalid number in a K3 filter: ${value}`,
        'K3_FILTER_VALUE',
      );
    }
    return String(value);
  }
  if (value.includes('\u0000')) {
    throw new InvalidInputError(
      `查询条件中的文本含有 NUL 字符 / text for a K3 filter contains a NUL character: ${JSON.stringify(value)}`,
      'K3_FILTER_VALUE',
    );
  }
  return `'${value.replaceAll("'", "''")}'`;
}

/** `key = 'value'` with the value escaped. */
export function k3Equals(key: string, value: string | number): string {
  return `${k3FieldKey(key)} = ${k3Literal(value)}`;
}

/**
 * `key IN ('a','b')`, or `key = 'a'` for one value.
 *
 * @throws {TypeError} for an empty list (a filter that can match nothing is a caller bug).
 */
export function k3In(key: string, values: readonly (string | number)[]): string {
  if (values.length === 0) throw new TypeError(`k3In(${key}): empty value list`);
  const [only] = values;
  if (values.length === 1 && only !== undefined) return k3Equals(key, only);
  return `${k3FieldKey(key)} IN (${values.map(k3Literal).join(',')})`;
}

/** `key NOT IN (…)`; undefined for an empty list (no condition). */
export function k3NotIn(key: string, values: readonly (string | number)[]): string | undefined {
  if (values.length === 0) return undefined;
  return `${k3FieldKey(key)} NOT IN (${values.map(k3Literal).join(',')})`;
}

/** Conditions joined with AND, each in parentheses; undefined and empty parts are skipped. */
export function k3All(...conditions: readonly (string | undefined)[]): string {
  const parts = conditions.filter((c): c is string => c !== undefined && c.trim() !== '');
  return parts.length === 1 ? (parts[0] as string) : parts.map((c) => `(${c})`).join(' AND ');
}

/** Conditions joined with OR, each in parentheses. */
export function k3Any(...conditions: readonly (string | undefined)[]): string {
  const parts = conditions.filter((c): c is string => c !== undefined && c.trim() !== '');
  return parts.length === 1 ? (parts[0] as string) : parts.map((c) => `(${c})`).join(' OR ');
}

/**
 * An ExecuteBillQuery body. Field keys are checked and de-duplicated case-insensitively (K3 matches keys
 * case-insensitively, spec §1.2), keeping the first spelling.
 *
 * @throws {TypeError} for a bad field key or a limit outside 1…{@link K3_QUERY_MAX_LIMIT}.
 */
export function buildBillQuery(
  formId: string,
  fieldKeys: readonly string[],
  filter: string,
  options: { orderBy?: string; limit?: number; startRow?: number } = {},
): K3BillQuery {
  const seen = new Set<string>();
  const keys: string[] = [];
  for (const key of fieldKeys) {
    const lower = k3FieldKey(key).toLowerCase();
    if (!seen.has(lower)) {
      seen.add(lower);
      keys.push(key);
    }
  }
  const limit = options.limit ?? 2000;
  if (!Number.isInteger(limit) || limit < 1 || limit > K3_QUERY_MAX_LIMIT) {
    throw new TypeError(`ExecuteBillQuery limit must be 1…${K3_QUERY_MAX_LIMIT}, got ${limit}`);
  }
  return {
    FormId: formId,
    FieldKeys: keys.join(','),
    FilterString: filter,
    OrderString: options.orderBy ?? '',
    TopRowCount: 0,
    StartRow: options.startRow ?? 0,
    Limit: limit,
    SubSystemId: '',
  };
}

/** The columns of a query's rows, in order. */
export function fieldKeysOf(query: K3BillQuery): string[] {
  return query.FieldKeys.split(',').map((key) => key.trim());
}

/** One ExecuteBillQuery cell: K3 returns numbers, strings, booleans and nulls. */
export type K3Cell = string | number | boolean | null;
/** One ExecuteBillQuery row keyed by the query's field keys. */
export type K3Row = Readonly<Record<string, K3Cell>>;

const rowsSchema = z.array(z.array(z.union([z.string(), z.number(), z.boolean(), z.null()])));

/**
 * ExecuteBillQuery returned something we cannot read: not an array of arrays of scalars (an error envelope
 * `[[{"Result":…}]]` that slipped through, spec §7.2), or a row whose width is not the number of FieldKeys.
 * Nothing was written, and a later attempt may read a healthy answer: `internal`, bounded retries.
 */
export class K3RowsError extends SyncError {
  constructor(formId: string, detail: string) {
    super(`金蝶 ${formId} 查询结果格式异常 / unexpected ExecuteBillQuery rows from ${formId}: ${detail}`, {
      kind: 'internal',
      fault: 'theirs',
      code: 'K3_QUERY_ROWS_UNEXPECTED',
    });
  }
}

/**
 * Validate raw ExecuteBillQuery rows and key each row by the query's field keys.
 *
 * @throws {K3RowsError} when the rows are not an array of scalar arrays of the query's width.
 */
export function parseBillQueryRows(query: K3BillQuery, rows: unknown): K3Row[] {
  const parsed = rowsSchema.safeParse(rows);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    const where = first ? `at [${first.path.join('][')}]` : '';
    throw new K3RowsError(query.FormId, `not an array of scalar rows ${where}`.trim());
  }
  const keys = fieldKeysOf(query);
  return parsed.data.map((row, index) => {
    if (row.length !== keys.length) {
      throw new K3RowsError(
        query.FormId,
        `row ${index} has ${row.length} columns, FieldKeys has ${keys.length}`,
      );
    }
    const keyed: Record<string, K3Cell> = {};
    keys.forEach((key, column) => {
      keyed[key] = row[column] ?? null;
    });
    return keyed;
  });
}

/** A text cell; null and '' (K3's empty references) are undefined, numbers become their decimal text. */
export function cellText(row: K3Row, key: string): string | undefined {
  const value = row[key];
  if (value === null || value === undefined || value === '') return undefined;
  return typeof value === 'string' ? value : String(value);
}

/**
 * A numeric cell (K3 sends numbers, some servers decimal text); null and '' are undefined.
 *
 * @throws {K3RowsError} when the cell holds something that is not a number.
 */
export function cellNumber(row: K3Row, key: string, formId: string): number | undefined {
  const value = row[key];
  if (value === null || value === undefined || value === '') return undefined;
  const parsed = typeof value === 'number' ? value : typeof value === 'string' ? Number(value) : Number.NaN;
  if (!Number.isFinite(parsed))
    throw new K3RowsError(formId, `${key} is not a number: ${JSON.stringify(value)}`);
  return parsed;
}

/**
 * An internal id cell (FID, FEntryID, FCUSTID): a positive integer.
 *
 * @throws {K3RowsError} when it is missing or not a positive integer.
 */
export function cellId(row: K3Row, key: string, formId: string): number {
  const value = cellNumber(row, key, formId);
  if (value === undefined || !Number.isInteger(value) || value <= 0) {
    throw new K3RowsError(formId, `${key} is not an internal id: ${JSON.stringify(row[key] ?? null)}`);
  }
  return value;
}

const K3_DATETIME = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,7}))?)?)?$/;

/**
 * A K3 date/datetime text (`2026-11-23T10:05:00.123`, server local time, no zone) as "naive" epoch ms:
 * the wall-clock reading taken as if it were UTC. Arithmetic on naive values (the poller's overlap window)
 * needs no time zone at all; convert with the server's offset only when a real instant is needed.
 * Returns undefined for text that is not such a date.
 */
export function parseK3NaiveMs(text: string): number | undefined {
  const match = K3_DATETIME.exec(text.trim());
  if (!match) return undefined;
  const [, y, mo, d, h, mi, s, frac] = match;
  const ms = frac ? Number(frac.padEnd(3, '0').slice(0, 3)) : 0;
  const value = Date.UTC(
    Number(y),
    Number(mo) - 1,
    Number(d),
    Number(h ?? 0),
    Number(mi ?? 0),
    Number(s ?? 0),
    ms,
  );
  const check = new Date(value);
  // Reject 2026-02-30 and friends instead of letting Date roll them over.
  if (check.getUTCDate() !== Number(d) || check.getUTCMonth() !== Number(mo) - 1) return undefined;
  return value;
}

/** Naive epoch ms back to K3 filter text `yyyy-MM-dd HH:mm:ss` (milliseconds dropped: floor). */
export function formatK3NaiveMs(naiveMs: number): string {
  return new Date(naiveMs).toISOString().slice(0, 19).replace('T', ' ');
}

/**
 * Query the internal ids of organisations by number: Push (`TargetOrgId`) and Allocate (`TOrgIds`) take
 * internal ids, while the config speaks in numbers (`100`, `101`).
 */
export function buildOrgIdQuery(orgNumbers: readonly string[]): K3BillQuery {
  return buildBillQuery('ORG_Organizations', ['FOrgID', 'FNumber'], k3In('FNumber', orgNumbers), {
    limit: Math.max(orgNumbers.length, 1),
  });
}

/**
 * Organisation number → internal id, from the rows of {@link buildOrgIdQuery}.
 *
 * @throws {ConfigError} naming every configured organisation number K3 does not know.
 * @throws {K3RowsError} when the rows are malformed.
 */
export function parseOrgIds(
  query: K3BillQuery,
  rows: unknown,
  wanted: readonly string[],
): Map<string, number> {
  const ids = new Map<string, number>();
  for (const row of parseBillQueryRows(query, rows)) {
    const number = cellText(row, 'FNumber');
    if (number !== undefined) ids.set(number, cellId(row, 'FOrgID', query.FormId));
  }
  const missing = wanted.filter((number) => !ids.has(number));
  if (missing.length > 0) {
    throw new ConfigError(
      missing.map(
        (number) =>
          `组织编码 ${number} 在金蝶中不存在 / organisation number ${number} does not exist in K3Cloud`,
      ),
    );
  }
  return ids;
}

/** Options of a Push body; the rest of {@link K3PushData} has fixed values. */
export interface PushOptions {
  numbers: readonly string[];
  ruleId: string;
  targetFormId: string;
  targetBillTypeId: string;
  /** Internal id of the target organisation; 0 = the rule's default. */
  targetOrgId: number;
  draftWhenSaveFails: boolean;
}

/**
 * A Push body by source bill numbers with an explicit conversion rule: `IsEnableDefaultRule` is false
 * because demo and many real data centers have no default rule (spec §7.12).
 *
 * @throws {TypeError} for an empty number list.
 */
export function buildPushData(options: PushOptions): K3PushData {
  if (options.numbers.length === 0) throw new TypeError('Push needs at least one source bill number');
  return {
    Ids: '',
    Numbers: [...options.numbers],
    EntryIds: '',
    RuleId: options.ruleId,
    TargetBillTypeId: options.targetBillTypeId,
    TargetOrgId: options.targetOrgId,
    TargetFormId: options.targetFormId,
    IsEnableDefaultRule: false,
    IsDraftWhenSaveFail: options.draftWhenSaveFails,
    CustomParams: {},
  };
}

/** A position in a `FModifyDate ASC, FID ASC` scan: the last bill fully processed. */
export interface K3Cursor {
  /** FModifyDate exactly as K3 returned it (server local time). */
  modifyDate: string;
  fid: number;
}

/** The ordering every modify-date scan uses, so the keyset below is exact. */
export const MODIFY_DATE_ORDER = 'FModifyDate ASC, FID ASC';

/**
 * Keyset condition "after this bill": `FModifyDate > d OR (FModifyDate = d AND FID > n)`. Unlike StartRow
 * paging it neither skips nor repeats rows when bills change while the scan runs.
 *
 * @throws {InvalidInputError} when the cursor's date is not a K3 datetime.
 */
export function k3ModifiedAfter(cursor: K3Cursor): string {
  if (parseK3NaiveMs(cursor.modifyDate) === undefined) {
    throw new InvalidInputError(
      `游标时间无效 / invalid cursor date: ${JSON.stringify(cursor.modifyDate)}`,
      'BAD_CURSOR',
    );
  }
  return k3Any(
    `FModifyDate > ${k3Literal(cursor.modifyDate)}`,
    k3All(`FModifyDate = ${k3Literal(cursor.modifyDate)}`, `FID > ${k3Literal(cursor.fid)}`),
  );
}

/**
 * `FModifyDate >= (since − overlapMs)`: the first page of a scan re-reads an overlap window, so bills
 * committed late with an earlier FModifyDate are not missed (the content hash makes re-reads harmless).
 *
 * @throws {InvalidInputError} when `since` is not a K3 date or datetime.
 */
export function k3ModifiedSince(since: string, overlapMs: number): string {
  const naive = parseK3NaiveMs(since);
  if (naive === undefined) {
    throw new InvalidInputError(`起始时间无效 / invalid start date: ${JSON.stringify(since)}`, 'BAD_CURSOR');
  }
  return `FModifyDate >= ${k3Literal(formatK3NaiveMs(naive - overlapMs))}`;
}
