/**
 * Query building for `/cgi/crm/v2/data/query`: typed filters and orders, checked client-side against the
 * documented limits so a mistake is reported in the caller's terms before any quota is spent.
 *
 * Wire names are mixed exactly as Fxiaoke documents them (spec §4.1): `field_name` / `operator` /
 * `field_values` (snake case) but `fieldName` / `isAsc` / `fieldProjection` (camel case).
 */
import { InvalidInputError } from '../errors.ts';

/**
 * Every operator of the per-object query pages (spec §4.1, FACT table). The generic "values" page lists
 * another spelling (`NE, GE, LE, NOT_IN, NOT_LIKE`); per-object pages and every client use these.
 */
export const FILTER_OPERATORS = [
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

export type FilterOperator = (typeof FILTER_OPERATORS)[number];

/** A value to compare with. Fxiaoke documents `field_values` as strings; numbers are sent as decimal text. */
export type FilterValue = string | number | boolean;

/** `IS` (is empty) / `ISN` (is not empty) take no value. */
export type NoValueOperator = 'IS' | 'ISN';
/** `BETWEEN` / `NBETWEEN` take exactly [low, high]. */
export type RangeOperator = 'BETWEEN' | 'NBETWEEN';
/** `IN` / `NIN` / `CONTAINS` (array field contains) take one or more values. */
export type ListOperator = 'IN' | 'NIN' | 'CONTAINS';
/** Everything else compares with exactly one value. */
export type SingleValueOperator = Exclude<FilterOperator, NoValueOperator | RangeOperator | ListOperator>;

/** One condition; several filters are AND-ed (v2 query has no OR syntax — spec §4.1). */
export type Filter =
  | { field: string; operator: NoValueOperator; values?: readonly [] }
  | { field: string; operator: RangeOperator; values: readonly [FilterValue, FilterValue] }
  | { field: string; operator: ListOperator; values: readonly FilterValue[] }
  | { field: string; operator: SingleValueOperator; values: readonly [FilterValue] };

export interface Order {
  field: string;
  /** Default true. */
  ascending?: boolean;
}

/** Fxiaoke's page size limit ("Page size (max 100)", spec §4.1). */
export const QUERY_MAX_LIMIT = 100;
/** Fxiaoke refuses `offset > 10000` with errorCode 10013 (spec §4.1, official deep-paging page). */
export const QUERY_MAX_OFFSET = 10_000;

export interface QueryOptions {
  filters?: readonly Filter[];
  orders?: readonly Order[];
  /** Fields to return; `_id` is always added (records are keyed by it). Default: every field. */
  fieldProjection?: readonly string[];
  /** 1–100, default 100. */
  limit?: number;
  /** A multiple of `limit`, at most 10 000; default 0. Use `queryPages`/`queryAll` to go further. */
  offset?: number;
  /**
   * Ask for `total` (`find_explicit_total_num`). Fxiaoke's default is true but "setting to false can speed
   * up the API" (spec §4.1), so ours is false.
   */
  withTotal?: boolean;
}

export interface WireFilter {
  field_name: string;
  operator: FilterOperator;
  field_values: string[];
}

export interface SearchQueryInfo {
  limit: number;
  offset: number;
  filters: WireFilter[];
  orders: { fieldName: string; isAsc: boolean }[];
  fieldProjection?: string[];
}

const FIELD_NAME = /^[A-Za-z_][A-Za-z0-9_.]*$/;
const OPERATOR_SET: ReadonlySet<string> = new Set(FILTER_OPERATORS);

function bad(message: string): InvalidInputError {
  return new InvalidInputError(message, 'FXIAOKE_QUERY_INVALID');
}

function checkField(field: unknown, where: string): string {
  if (typeof field !== 'string' || !FIELD_NAME.test(field)) {
    throw bad(
      `${where} 字段名不合法：${JSON.stringify(field)} / ${where}: invalid field apiName ${JSON.stringify(field)}`,
    );
  }
  return field;
}

function wireValue(value: unknown, where: string): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  if (typeof value === 'boolean') return String(value);
  throw bad(
    `${where} 的值必须是字符串、数字或布尔值 / ${where}: values must be strings, finite numbers or booleans`,
  );
}

/**
 * Check one filter (also at run time: filters often come from configuration) and turn it into wire form.
 * @throws {InvalidInputError} `FXIAOKE_QUERY_INVALID` for an unknown operator, a bad field name or the wrong
 *   number of values for the operator.
 */
export function toWireFilter(filter: Filter): WireFilter {
  const field = checkField(filter.field, 'filter');
  const operator: unknown = filter.operator;
  if (typeof operator !== 'string' || !OPERATOR_SET.has(operator)) {
    throw bad(
      `不支持的查询操作符 ${JSON.stringify(operator)}（可用：${FILTER_OPERATORS.join(', ')}）/ unknown filter operator ${JSON.stringify(operator)} (use one of ${FILTER_OPERATORS.join(', ')})`,
    );
  }
  const where = `filter ${field} ${filter.operator}`;
  const values: readonly unknown[] = filter.values ?? [];
  if (!Array.isArray(values)) throw bad(`${where}: values 必须是数组 / values must be an array`);
  const count = values.length;
  const ok =
    filter.operator === 'IS' || filter.operator === 'ISN'
      ? count === 0
      : filter.operator === 'BETWEEN' || filter.operator === 'NBETWEEN'
        ? count === 2
        : filter.operator === 'IN' || filter.operator === 'NIN' || filter.operator === 'CONTAINS'
          ? count >= 1
          : count === 1;
  if (!ok) {
    throw bad(
      `${where}: 值的个数不对（收到 ${count} 个）/ wrong number of values for this operator (got ${count})`,
    );
  }
  return {
    field_name: field,
    operator: filter.operator,
    field_values: values.map((v) => wireValue(v, where)),
  };
}

/**
 * Validate query options and build `search_query_info`.
 * @throws {InvalidInputError} `FXIAOKE_QUERY_INVALID` when `limit` is not 1–100, `offset` is negative, not a
 *   multiple of `limit` or beyond 10 000, or a filter/order/projection entry is malformed.
 */
export function buildSearchQueryInfo(options: QueryOptions): SearchQueryInfo {
  const limit = options.limit ?? QUERY_MAX_LIMIT;
  const offset = options.offset ?? 0;
  if (!Number.isInteger(limit) || limit < 1 || limit > QUERY_MAX_LIMIT) {
    throw bad(
      `limit 必须是 1–${QUERY_MAX_LIMIT} 的整数（纷享销客每页最多 100 条），收到 ${limit} / limit must be an integer from 1 to ${QUERY_MAX_LIMIT} (Fxiaoke's page size cap), got ${limit}`,
    );
  }
  if (!Number.isInteger(offset) || offset < 0 || offset % limit !== 0) {
    throw bad(
      `offset 必须是 limit 的非负整数倍，收到 offset=${offset}, limit=${limit} / offset must be a non-negative multiple of limit, got offset=${offset}, limit=${limit}`,
    );
  }
  if (offset > QUERY_MAX_OFFSET) {
    throw bad(
      `offset 不能超过 ${QUERY_MAX_OFFSET}（纷享销客会返回 10013），请改用 queryPages/queryAll 的 _id 游标分页 / offset cannot exceed ${QUERY_MAX_OFFSET} (Fxiaoke answers 10013); use queryPages/queryAll, which page by _id keyset`,
    );
  }
  const info: SearchQueryInfo = {
    limit,
    offset,
    filters: (options.filters ?? []).map(toWireFilter),
    orders: (options.orders ?? []).map((order) => ({
      fieldName: checkField(order.field, 'order'),
      isAsc: order.ascending ?? true,
    })),
  };
  if (options.fieldProjection !== undefined) {
    const fields = options.fieldProjection.map((f) => checkField(f, 'fieldProjection'));
    info.fieldProjection = fields.includes('_id') ? fields : ['_id', ...fields];
  }
  return info;
}

/** Split `items` into consecutive chunks of at most `size`. */
export function chunk<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
