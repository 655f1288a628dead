/**
 * `search_query_info` semantics (spec §4.1): filters (AND-ed), orders, paging rules and projection.
 *
 * Operators are those of the per-object query pages (EQ, N, GT, GTE, LT, LTE, LIKE, NLIKE, IS, ISN, IN, NIN,
 * BETWEEN, NBETWEEN, STARTWITH, ENDWITH, CONTAINS) plus the spellings of the generic "Field Value Description"
 * page (NE, GE, LE, NOT_IN, NOT_LIKE), which the spec says to accept too.
 */
import { z } from 'zod';
import type { Directory } from './directory.ts';
import { FxiaokeApiError, invalidParameter } from './errors.ts';
import type { CompiledField, CompiledObject } from './metadata.ts';
import type { StoredRecord } from './store.ts';
import { isEmptyValue, parseDecimal } from './values.ts';

export const OPERATORS = [
  'EQ',
  'N',
  'GT',
  'GTE',
  'LT',
  'LTE',
  'LIKE',
  'NLIKE',
  'IS',
  'ISN',
  'IN',
  'NIN',
  'BETWEEN',
  'NBETWEEN',
  'STARTWITH',
  'ENDWITH',
  'CONTAINS',
] as const;
export type Operator = (typeof OPERATORS)[number];

const ALIASES: Readonly<Record<string, Operator>> = {
  NE: 'N',
  GE: 'GTE',
  LE: 'LTE',
  NOT_IN: 'NIN',
  NOT_LIKE: 'NLIKE',
};

/** Query page size cap ("Page size (max 100)", spec §4.1). */
export const MAX_LIMIT = 100;
/** Deepest offset Fxiaoke serves; beyond it → 10013 (spec §4.1, deep-paging FAQ). */
export const MAX_OFFSET = 10_000;
/**
 * ASSUMPTION (spec: UNKNOWN): page size when `limit` is absent. A 2019 SDK comment says "默认20".
 */
export const DEFAULT_LIMIT = 20;

const scalar = z.union([z.string(), z.number(), z.boolean(), z.null()]);
const numberLike = z.union([
  z.number(),
  z
    .string()
    .regex(/^\s*-?\d+\s*$/)
    .transform(Number),
]);

export const searchQueryInfoSchema = z.object({
  limit: numberLike.optional(),
  offset: numberLike.optional(),
  filters: z
    .array(
      z.object({
        field_name: z.string().min(1),
        operator: z.string().min(1),
        // Documented as List[String]; clients also send numbers (spec §4.1) or, carelessly, a bare value.
        field_values: z.union([z.array(scalar), scalar]).optional(),
      }),
    )
    .optional(),
  orders: z
    .array(
      z.object({
        fieldName: z.string().min(1),
        isAsc: z.union([z.boolean(), z.enum(['true', 'false']).transform((s) => s === 'true')]).optional(),
      }),
    )
    .optional(),
  fieldProjection: z.array(z.string()).optional(),
});
export type SearchQueryInfo = z.output<typeof searchQueryInfoSchema>;

function isOperator(value: string): value is Operator {
  return (OPERATORS as readonly string[]).includes(value);
}

type ValueKind = 'number' | 'boolean' | 'list' | 'string';

function kindOf(field: CompiledField): ValueKind {
  switch (field.type) {
    case 'number':
    case 'currency':
    case 'percentile':
    case 'date':
    case 'date_time':
      return 'number';
    case 'true_or_false':
      return 'boolean';
    case 'employee':
    case 'department':
    case 'select_many':
    case 'image':
    case 'file_attachment':
      return 'list';
    default:
      return 'string';
  }
}

interface CompiledFilter {
  field: CompiledField;
  kind: ValueKind;
  operator: Operator;
  values: (string | number | boolean)[];
}

export interface CompiledQuery {
  filters: CompiledFilter[];
  orders: { field: CompiledField; kind: ValueKind; asc: boolean }[];
  projection: string[] | undefined;
  limit: number;
  offset: number;
  /** A filter names life_status / is_deleted: invalidated records are then not hidden. */
  mentionsLifeStatus: boolean;
}

function coerceFilterValue(
  field: CompiledField,
  kind: ValueKind,
  raw: string | number | boolean | null,
  directory: Directory,
): string | number | boolean {
  if (kind === 'number') {
    const value = parseDecimal(raw);
    if (value === undefined) {
      throw invalidParameter(
        `字段 ${field.apiName} 的过滤值必须是数字：${JSON.stringify(raw)}`,
        `filter values of ${field.apiName} must be numbers, got ${JSON.stringify(raw)}`,
      );
    }
    return value;
  }
  if (kind === 'boolean') {
    if (raw === true || raw === 'true' || raw === 1 || raw === '1') return true;
    if (raw === false || raw === 'false' || raw === 0 || raw === '0') return false;
    throw invalidParameter(
      `字段 ${field.apiName} 的过滤值必须是 true/false`,
      `filter values of ${field.apiName} must be true or false, got ${JSON.stringify(raw)}`,
    );
  }
  const text = raw === null ? '' : String(raw);
  // Legacy callers filter owners by openUserId (FSUID_…); records store employee ids.
  return field.type === 'employee' ? (directory.toEmployeeId(text) ?? text) : text;
}

/**
 * Validate `search_query_info` against the object and prepare it for {@link runQuery}.
 * @throws {FxiaokeApiError} 10013 for offset > 10000 (verbatim Fxiaoke text), 15002 for any other bad value.
 */
export function compileQuery(
  object: CompiledObject,
  info: SearchQueryInfo,
  directory: Directory,
): CompiledQuery {
  const limit = info.limit ?? DEFAULT_LIMIT;
  const offset = info.offset ?? 0;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) {
    throw invalidParameter(
      `limit 必须在 1 到 ${MAX_LIMIT} 之间`,
      `limit must be 1..${MAX_LIMIT}, got ${limit}`,
    );
  }
  if (!Number.isInteger(offset) || offset < 0) {
    throw invalidParameter('offset 不能为负数', `offset must be a non-negative integer, got ${offset}`);
  }
  if (offset > MAX_OFFSET) {
    // Verbatim from Fxiaoke's deep-paging FAQ (spec §4.1).
    throw new FxiaokeApiError(10013, 'offset 不能超过10000', 'offset out of range 10000');
  }
  if (offset % limit !== 0) {
    throw invalidParameter(
      `offset 必须是 limit 的整数倍（offset=${offset}, limit=${limit}）`,
      `offset must be a multiple of limit (offset=${offset}, limit=${limit})`,
    );
  }
  const fieldOf = (name: string, role: string): CompiledField => {
    const field = object.fields.get(name);
    if (!field) {
      throw invalidParameter(
        `${role}字段 ${name} 在对象 ${object.apiName} 中不存在`,
        `${role === '过滤' ? 'filter' : 'order'} field "${name}" does not exist on ${object.apiName}`,
      );
    }
    return field;
  };
  let mentionsLifeStatus = false;
  const filters = (info.filters ?? []).map((raw): CompiledFilter => {
    const field = fieldOf(raw.field_name, '过滤');
    if (field.apiName === 'life_status' || field.apiName === 'is_deleted') mentionsLifeStatus = true;
    const upper = raw.operator.trim().toUpperCase();
    const operator = isOperator(upper) ? upper : ALIASES[upper];
    if (!operator) {
      throw invalidParameter(
        `不支持的操作符 ${raw.operator}`,
        `unsupported operator "${raw.operator}"; use one of ${OPERATORS.join(', ')} (or NE, GE, LE, NOT_IN, NOT_LIKE)`,
      );
    }
    const kind = kindOf(field);
    const rawValues =
      raw.field_values === undefined
        ? []
        : Array.isArray(raw.field_values)
          ? raw.field_values
          : [raw.field_values];
    const values = rawValues.map((value) => coerceFilterValue(field, kind, value, directory));
    if ((operator === 'BETWEEN' || operator === 'NBETWEEN') && values.length !== 2) {
      throw invalidParameter(
        `${operator} 需要两个值`,
        `${operator} on ${field.apiName} needs exactly two field_values, got ${values.length}`,
      );
    }
    if (operator !== 'IS' && operator !== 'ISN' && values.length === 0) {
      throw invalidParameter(
        `字段 ${field.apiName} 的 field_values 不能为空`,
        `${operator} on ${field.apiName} needs field_values`,
      );
    }
    return { field, kind, operator, values };
  });
  const orders = (info.orders ?? []).map((raw) => {
    const field = fieldOf(raw.fieldName, '排序');
    return { field, kind: kindOf(field), asc: raw.isAsc ?? true };
  });
  // ASSUMPTION (spec: UNKNOWN): without orders, newest change first; `_id` always breaks ties so that
  // offset paging over an unchanging result is stable.
  if (orders.length === 0) {
    const lastModified = object.fields.get('last_modified_time');
    if (lastModified) orders.push({ field: lastModified, kind: 'number', asc: false });
  }
  const idField = object.fields.get('_id');
  if (idField && !orders.some((order) => order.field.apiName === '_id')) {
    orders.push({ field: idField, kind: 'string', asc: true });
  }
  return { filters, orders, projection: info.fieldProjection, limit, offset, mentionsLifeStatus };
}

function comparable(kind: ValueKind, stored: unknown): string | number | boolean | string[] | undefined {
  if (isEmptyValue(stored)) return undefined;
  if (kind === 'number') return parseDecimal(stored);
  if (kind === 'boolean') return stored === true;
  if (kind === 'list') return Array.isArray(stored) ? stored.map(String) : [String(stored)];
  return typeof stored === 'string' ? stored : String(stored);
}

function compareScalars(a: string | number | boolean, b: string | number | boolean): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  const left = String(a);
  const right = String(b);
  return left < right ? -1 : left > right ? 1 : 0;
}

function scalarMatches(
  operator: Operator,
  value: string | number | boolean,
  wanted: CompiledFilter['values'],
): boolean {
  const first = wanted[0] ?? '';
  switch (operator) {
    case 'EQ':
    case 'IN':
      return wanted.some((w) => compareScalars(value, w) === 0);
    case 'N':
    case 'NIN':
      return !wanted.some((w) => compareScalars(value, w) === 0);
    case 'GT':
      return compareScalars(value, first) > 0;
    case 'GTE':
      return compareScalars(value, first) >= 0;
    case 'LT':
      return compareScalars(value, first) < 0;
    case 'LTE':
      return compareScalars(value, first) <= 0;
    case 'LIKE':
    case 'CONTAINS':
      return String(value).includes(String(first));
    case 'NLIKE':
      return !String(value).includes(String(first));
    case 'STARTWITH':
      return String(value).startsWith(String(first));
    case 'ENDWITH':
      return String(value).endsWith(String(first));
    case 'BETWEEN':
      return compareScalars(value, first) >= 0 && compareScalars(value, wanted[1] ?? first) <= 0;
    case 'NBETWEEN':
      return compareScalars(value, first) < 0 || compareScalars(value, wanted[1] ?? first) > 0;
    case 'IS':
      return false;
    case 'ISN':
      return true;
  }
}

/** Whether a stored record passes one filter. */
function matches(record: StoredRecord, filter: CompiledFilter): boolean {
  const value = comparable(filter.kind, record[filter.field.apiName]);
  const { operator } = filter;
  if (value === undefined) {
    // Empty values: IS matches; the negative operators N/NIN/NLIKE match ("N … can query empty values",
    // spec §4.1); every comparison fails.
    return operator === 'IS' || operator === 'N' || operator === 'NIN' || operator === 'NLIKE';
  }
  if (Array.isArray(value)) {
    if (operator === 'IS') return false;
    if (operator === 'ISN') return true;
    // CONTAINS on an array field: the array holds every wanted value.
    if (operator === 'CONTAINS') return filter.values.every((w) => value.includes(String(w)));
    const negative =
      operator === 'N' || operator === 'NIN' || operator === 'NLIKE' || operator === 'NBETWEEN';
    if (negative) {
      const positive: Operator =
        operator === 'N' ? 'EQ' : operator === 'NIN' ? 'IN' : operator === 'NLIKE' ? 'LIKE' : 'BETWEEN';
      return !value.some((item) => scalarMatches(positive, item, filter.values));
    }
    return value.some((item) => scalarMatches(operator, item, filter.values));
  }
  return scalarMatches(operator, value, filter.values);
}

function sortKey(kind: ValueKind, stored: unknown): string | number | undefined {
  const value = comparable(kind, stored);
  if (value === undefined) return undefined;
  if (Array.isArray(value)) return value.join(',');
  if (typeof value === 'boolean') return value ? 1 : 0;
  return value;
}

/**
 * Filter, sort and page `records`. Returns the page and the number of matches.
 * `visible` applies data permissions and the default hiding of invalidated records.
 */
export function runQuery(
  records: Iterable<StoredRecord>,
  query: CompiledQuery,
  visible: (record: StoredRecord) => boolean,
): { page: StoredRecord[]; total: number } {
  const matched: StoredRecord[] = [];
  for (const record of records) {
    if (!visible(record)) continue;
    if (query.filters.every((filter) => matches(record, filter))) matched.push(record);
  }
  const orders = query.orders;
  matched.sort((a, b) => {
    for (const order of orders) {
      const left = sortKey(order.kind, a[order.field.apiName]);
      const right = sortKey(order.kind, b[order.field.apiName]);
      if (left === right) continue;
      // Empty values sort last ascending and first descending (as PostgreSQL's NULLS LAST/FIRST default).
      if (left === undefined) return order.asc ? 1 : -1;
      if (right === undefined) return order.asc ? -1 : 1;
      const cmp = compareScalars(left, right);
      if (cmp !== 0) return order.asc ? cmp : -cmp;
    }
    return 0;
  });
  return { page: matched.slice(query.offset, query.offset + query.limit), total: matched.length };
}
