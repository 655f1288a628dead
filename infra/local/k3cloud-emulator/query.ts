/**
 * ExecuteBillQuery / BillQuery (spec §4.5, §4.6) over the generic store.
 *
 * FieldKeys: header keys, sub-header keys, entry keys (one row per entry row), the PK, `<Entry>_FEntryID`,
 * and dotted paths through references (`FCustId.FNumber`, `FMaterialId.FName`). A plain reference key
 * returns the internal id.
 *
 * FilterString is the SQL-like WHERE clause K3 passes to SQL Server; the supported subset is:
 * `= <> != > >= < <=`, `[not] like`, `[not] in (…)`, `is [not] null`, `[not] between … and …`, `and`/`or`/`not`,
 * parentheses, `'quoted'` strings with `''` escapes (also `N'…'`), numbers, and dates as strings. String
 * comparisons are case-insensitive (SQL Server's default collation); dates compare as dates.
 */
import type { Engine } from './engine.ts';
import { K3Failure, MSG } from './envelope.ts';
import { OURS, unknownField } from './messages.ts';
import type { EntityMeta, FieldType, FieldValue, IndexedForm } from './metadata.ts';
import type { StoredRecord, StoredRow } from './store.ts';
import { getCI, normalizeDate, parseNumber } from './values.ts';

/** Patch 23.11 default maximum rows per query (`WebAPIMaxQueryLimit`, spec §4.5). */
export const DEFAULT_MAX_QUERY_LIMIT = 10_000;

interface RowContext {
  record: StoredRecord;
  row: StoredRow | null;
}

type QueryValue = string | number | boolean | null;

interface ResolvedField {
  get(ctx: RowContext): QueryValue;
  type: FieldType | 'id';
  /** the entry this key iterates over, if any */
  entry: EntityMeta | null;
  /** How an equality on this key can find its records without a scan (see `candidateRecords`). */
  lookup?: { by: 'pk' } | { by: 'value'; fieldKey: string; entryKey: string | undefined };
}

/** Field types whose stored values are strings compared case-insensitively: an index can answer `=`/`IN`. */
const INDEXABLE_TYPES: ReadonlySet<FieldType | 'id'> = new Set(['text', 'multilang', 'combo']);

// ── FilterString parser ─────────────────────────────────────────────────────────────────────────────────

type Token =
  | { t: 'str'; v: string }
  | { t: 'num'; v: number }
  | { t: 'id'; v: string }
  | { t: 'op'; v: string }
  | { t: 'kw'; v: string };

type Operand = { t: 'field'; key: string } | { t: 'lit'; v: string | number | null };

export type FilterExpr =
  | { t: 'and' | 'or'; a: FilterExpr; b: FilterExpr }
  | { t: 'not'; e: FilterExpr }
  | { t: 'cmp'; op: string; l: Operand; r: Operand }
  | { t: 'like'; neg: boolean; l: Operand; p: Operand }
  | { t: 'in'; neg: boolean; l: Operand; list: Operand[] }
  | { t: 'null'; neg: boolean; l: Operand }
  | { t: 'between'; neg: boolean; l: Operand; lo: Operand; hi: Operand }
  | { t: 'true' };

const KEYWORDS = new Set(['and', 'or', 'not', 'like', 'in', 'is', 'null', 'between']);

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i] ?? '';
    if (/\s/.test(c)) {
      i += 1;
      continue;
    }
    if (c === "'" || ((c === 'N' || c === 'n') && text[i + 1] === "'")) {
      i += c === "'" ? 1 : 2;
      let value = '';
      for (;;) {
        if (i >= text.length) throw new SyntaxError('字符串缺少结束引号 / unterminated string');
        const ch = text[i];
        if (ch === "'") {
          if (text[i + 1] === "'") {
            value += "'";
            i += 2;
            continue;
          }
          i += 1;
          break;
        }
        value += ch;
        i += 1;
      }
      tokens.push({ t: 'str', v: value });
      continue;
    }
    const number = /^\d+(?:\.\d+)?/.exec(text.slice(i));
    const previous = tokens[tokens.length - 1];
    const unaryMinus =
      c === '-' && /\d/.test(text[i + 1] ?? '') && (!previous || previous.t === 'op' || previous.t === 'kw');
    if (number || unaryMinus) {
      const match = /^-?\d+(?:\.\d+)?/.exec(text.slice(i));
      if (!match) throw new SyntaxError(`无法识别 / unexpected "${c}"`);
      tokens.push({ t: 'num', v: Number(match[0]) });
      i += match[0].length;
      continue;
    }
    const ident = /^[A-Za-z_][A-Za-z0-9_.]*/.exec(text.slice(i));
    if (ident) {
      const lower = ident[0].toLowerCase();
      tokens.push(KEYWORDS.has(lower) ? { t: 'kw', v: lower } : { t: 'id', v: ident[0] });
      i += ident[0].length;
      continue;
    }
    const op = /^(<>|!=|>=|<=|=|<|>|\(|\)|,)/.exec(text.slice(i));
    if (op) {
      tokens.push({ t: 'op', v: op[0] });
      i += op[0].length;
      continue;
    }
    throw new SyntaxError(`无法识别的字符 / unexpected character "${c}" at ${i + 1}`);
  }
  return tokens;
}

/**
 * Parse a FilterString into an expression tree.
 * @throws {SyntaxError} with a bilingual description of the first problem.
 */
export function parseFilter(text: string): FilterExpr {
  const tokens = tokenize(text);
  let pos = 0;
  const peek = () => tokens[pos];
  const isKw = (v: string) => peek()?.t === 'kw' && peek()?.v === v;
  const isOp = (v: string) => peek()?.t === 'op' && peek()?.v === v;
  const expectOp = (v: string) => {
    if (!isOp(v)) throw new SyntaxError(`缺少 / expected "${v}"`);
    pos += 1;
  };

  const operand = (): Operand => {
    const token = tokens[pos];
    if (!token) throw new SyntaxError('条件不完整 / unexpected end of filter');
    pos += 1;
    if (token.t === 'str' || token.t === 'num') return { t: 'lit', v: token.v };
    if (token.t === 'id') return { t: 'field', key: token.v };
    if (token.t === 'kw' && token.v === 'null') return { t: 'lit', v: null };
    throw new SyntaxError(`无法识别 / unexpected "${token.v}"`);
  };

  const predicate = (): FilterExpr => {
    const left = operand();
    const negated = isKw('not');
    if (negated) pos += 1;
    if (isKw('like')) {
      pos += 1;
      return { t: 'like', neg: negated, l: left, p: operand() };
    }
    if (isKw('in')) {
      pos += 1;
      expectOp('(');
      const list: Operand[] = [operand()];
      while (isOp(',')) {
        pos += 1;
        list.push(operand());
      }
      expectOp(')');
      return { t: 'in', neg: negated, l: left, list };
    }
    if (isKw('between')) {
      pos += 1;
      const lo = operand();
      if (!isKw('and')) throw new SyntaxError('between 缺少 and / between needs "and"');
      pos += 1;
      return { t: 'between', neg: negated, l: left, lo, hi: operand() };
    }
    if (negated) throw new SyntaxError('not 后缺少 like/in/between / expected like, in or between after not');
    if (isKw('is')) {
      pos += 1;
      const neg = isKw('not');
      if (neg) pos += 1;
      if (!isKw('null')) throw new SyntaxError('is 后缺少 null / expected null after is');
      pos += 1;
      return { t: 'null', neg, l: left };
    }
    const op = peek();
    if (op?.t === 'op' && ['=', '<>', '!=', '>', '>=', '<', '<='].includes(op.v)) {
      pos += 1;
      return { t: 'cmp', op: op.v === '!=' ? '<>' : op.v, l: left, r: operand() };
    }
    throw new SyntaxError(
      `缺少比较运算符 / expected a comparison after ${left.t === 'field' ? left.key : 'value'}`,
    );
  };

  const unary = (): FilterExpr => {
    if (isKw('not')) {
      pos += 1;
      return { t: 'not', e: unary() };
    }
    if (isOp('(')) {
      pos += 1;
      const inner = or();
      expectOp(')');
      return inner;
    }
    return predicate();
  };
  const and = (): FilterExpr => {
    let left = unary();
    while (isKw('and')) {
      pos += 1;
      left = { t: 'and', a: left, b: unary() };
    }
    return left;
  };
  const or = (): FilterExpr => {
    let left = and();
    while (isKw('or')) {
      pos += 1;
      left = { t: 'or', a: left, b: and() };
    }
    return left;
  };

  if (tokens.length === 0) return { t: 'true' };
  const expr = or();
  if (pos < tokens.length) {
    const token = tokens[pos];
    throw new SyntaxError(`多余的内容 / unexpected "${String(token?.v)}"`);
  }
  return expr;
}

/** The field keys a filter mentions (to resolve them before evaluating). */
function filterFields(expr: FilterExpr, out: Set<string>): Set<string> {
  const add = (o: Operand) => {
    if (o.t === 'field') out.add(o.key);
  };
  switch (expr.t) {
    case 'and':
    case 'or':
      filterFields(expr.a, out);
      filterFields(expr.b, out);
      break;
    case 'not':
      filterFields(expr.e, out);
      break;
    case 'cmp':
      add(expr.l);
      add(expr.r);
      break;
    case 'like':
      add(expr.l);
      add(expr.p);
      break;
    case 'in':
      add(expr.l);
      expr.list.forEach(add);
      break;
    case 'null':
      add(expr.l);
      break;
    case 'between':
      add(expr.l);
      add(expr.lo);
      add(expr.hi);
      break;
    case 'true':
      break;
  }
  return out;
}

// ── evaluation ──────────────────────────────────────────────────────────────────────────────────────────

interface Typed {
  value: QueryValue;
  type: FieldType | 'id' | 'literal';
}

function coerce(a: Typed, b: Typed): [QueryValue, QueryValue] {
  let x = a.value;
  let y = b.value;
  const isDate = (t: Typed['type']) => t === 'date' || t === 'datetime';
  if (isDate(a.type) && typeof y === 'string') y = normalizeDate(y, false) ?? y;
  if (isDate(b.type) && typeof x === 'string') x = normalizeDate(x, false) ?? x;
  if (typeof x === 'boolean') x = x ? 1 : 0;
  if (typeof y === 'boolean') y = y ? 1 : 0;
  if (typeof x === 'number' && typeof y === 'string') {
    const lower = y.trim().toLowerCase();
    y = lower === 'true' ? 1 : lower === 'false' ? 0 : (parseNumber(y) ?? y);
  }
  if (typeof y === 'number' && typeof x === 'string') x = parseNumber(x) ?? x;
  return [x, y];
}

/** SQL three-valued logic collapsed to false: any comparison with NULL is not true. */
function compare(a: Typed, b: Typed): number | null {
  const [x, y] = coerce(a, b);
  if (x === null || y === null) return null;
  if (typeof x === 'number' && typeof y === 'number') return x === y ? 0 : x < y ? -1 : 1;
  const sx = String(x).toLowerCase();
  const sy = String(y).toLowerCase();
  return sx === sy ? 0 : sx < sy ? -1 : 1;
}

function likeRegex(pattern: string): RegExp {
  let source = '';
  for (let i = 0; i < pattern.length; i += 1) {
    const c = pattern[i] ?? '';
    if (c === '%') source += '.*';
    else if (c === '_') source += '.';
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 1);
      if (end === -1) source += '\\[';
      else {
        const body = pattern.slice(i + 1, end).replace(/\\/g, '\\\\');
        source += body.startsWith('^') ? `[^${body.slice(1)}]` : `[${body}]`;
        i = end;
      }
    } else source += c.replace(/[.*+?^${}()|\\/]/g, '\\$&');
  }
  return new RegExp(`^${source}$`, 'is');
}

function evaluate(expr: FilterExpr, ctx: RowContext, fields: Map<string, ResolvedField>): boolean {
  const value = (o: Operand): Typed => {
    if (o.t === 'lit') return { value: o.v, type: 'literal' };
    const field = fields.get(o.key.toLowerCase());
    if (!field) throw new Error(`unresolved field ${o.key}`);
    return { value: field.get(ctx), type: field.type };
  };
  switch (expr.t) {
    case 'true':
      return true;
    case 'and':
      return evaluate(expr.a, ctx, fields) && evaluate(expr.b, ctx, fields);
    case 'or':
      return evaluate(expr.a, ctx, fields) || evaluate(expr.b, ctx, fields);
    case 'not':
      return !evaluate(expr.e, ctx, fields);
    case 'cmp': {
      const c = compare(value(expr.l), value(expr.r));
      if (c === null) return false;
      switch (expr.op) {
        case '=':
          return c === 0;
        case '<>':
          return c !== 0;
        case '>':
          return c > 0;
        case '>=':
          return c >= 0;
        case '<':
          return c < 0;
        default:
          return c <= 0;
      }
    }
    case 'like': {
      const left = value(expr.l).value;
      const pattern = value(expr.p).value;
      if (left === null || pattern === null) return false;
      return likeRegex(String(pattern)).test(String(left)) !== expr.neg;
    }
    case 'in': {
      const left = value(expr.l);
      if (left.value === null) return false;
      return expr.list.some((item) => compare(left, value(item)) === 0) !== expr.neg;
    }
    case 'null':
      return (value(expr.l).value === null) !== expr.neg;
    case 'between': {
      const left = value(expr.l);
      const lo = compare(left, value(expr.lo));
      const hi = compare(left, value(expr.hi));
      if (lo === null || hi === null) return false;
      return (lo >= 0 && hi <= 0) !== expr.neg;
    }
  }
}

// ── field resolution ────────────────────────────────────────────────────────────────────────────────────

function outputValue(type: FieldType, value: FieldValue | undefined): QueryValue {
  if (value === undefined) return null;
  return type === 'ref' && value === null ? 0 : value;
}

/**
 * Resolve a query key on a form.
 * @throws {K3Failure} `元数据中标识为X的字段不存在` (MsgCode 9) for unknown keys.
 */
function resolveField(engine: Engine, form: IndexedForm, key: string): ResolvedField {
  const trimmed = key.trim();
  const lower = trimmed.toLowerCase();
  // FieldName is null in the real capture of this error (spec §4.5).
  const unknown = () => new K3Failure(unknownField(trimmed), MSG.fieldMissing, null);
  if (lower === form.meta.pkKey.toLowerCase()) {
    return { type: 'id', entry: null, get: (c) => c.record.id, lookup: { by: 'pk' } };
  }
  if (lower === 'fmasterid' && form.meta.kind === 'base') {
    return { type: 'id', entry: null, get: (c) => c.record.masterId };
  }
  for (const entry of form.entries) {
    if (lower === `${entry.key.toLowerCase()}_fentryid`) {
      return { type: 'id', entry, get: (c) => c.row?.id ?? null };
    }
  }
  const [head, ...rest] = trimmed.split('.');
  const location = form.fields.get((head ?? '').toLowerCase());
  if (!location) throw unknown();
  const { field, entity } = location;
  const entry = entity?.kind === 'entry' ? entity : null;
  const own = (c: RowContext): FieldValue | undefined =>
    entry ? (c.row ? c.row.values[field.key] : undefined) : c.record.values[field.key];
  if (rest.length === 0) {
    return {
      type: field.type,
      entry,
      get: (c) => outputValue(field.type, own(c)),
      ...(INDEXABLE_TYPES.has(field.type)
        ? { lookup: { by: 'value' as const, fieldKey: field.key, entryKey: entry?.key } }
        : {}),
    };
  }
  if (field.type !== 'ref' || !field.ref) throw unknown();
  const target = engine.registry.require(field.ref);
  let inner: ResolvedField;
  try {
    inner = resolveField(engine, target, rest.join('.'));
  } catch {
    throw unknown();
  }
  if (inner.entry) throw unknown();
  return {
    type: inner.type,
    entry,
    get: (c) => {
      const id = own(c);
      if (typeof id !== 'number' || id === 0) return null;
      const record = engine.store.get(target.meta.formId, id);
      // A dangling reference behaves like SQL's LEFT JOIN: NULL columns.
      return record ? inner.get({ record, row: null }) : null;
    },
  };
}

// ── index use ───────────────────────────────────────────────────────────────────────────────────────────

function conjuncts(expr: FilterExpr): FilterExpr[] {
  return expr.t === 'and' ? [...conjuncts(expr.a), ...conjuncts(expr.b)] : [expr];
}

/** `field = literal` or `field IN (literals…)` as the field and its literal values; undefined otherwise. */
function equality(
  expr: FilterExpr,
  fields: ReadonlyMap<string, ResolvedField>,
): { field: ResolvedField; values: (string | number | null)[] } | undefined {
  const fieldOf = (o: Operand) => (o.t === 'field' ? fields.get(o.key.toLowerCase()) : undefined);
  if (expr.t === 'cmp' && expr.op === '=') {
    const [f, lit] = expr.l.t === 'field' ? [fieldOf(expr.l), expr.r] : [fieldOf(expr.r), expr.l];
    return f && lit.t === 'lit' ? { field: f, values: [lit.v] } : undefined;
  }
  if (expr.t === 'in' && !expr.neg) {
    const f = fieldOf(expr.l);
    if (!f || !expr.list.every((item) => item.t === 'lit')) return undefined;
    return { field: f, values: expr.list.map((item) => (item.t === 'lit' ? item.v : null)) };
  }
  return undefined;
}

/**
 * The records a filter can match: when a top-level AND term is an equality or IN on the primary key or on
 * a string key field (FNumber, FBillNo, F_FXK_CrmId, an entry's FSrcBillNo…), only the records an index
 * names — the smallest such set — instead of the whole form. Every candidate is still evaluated against
 * the whole filter, so the index only has to be a superset; the order is the scan's.
 */
function candidateRecords(
  engine: Engine,
  form: IndexedForm,
  filter: FilterExpr,
  fields: ReadonlyMap<string, ResolvedField>,
): Iterable<StoredRecord> {
  const formId = form.meta.formId;
  let best: number[] | undefined;
  for (const term of conjuncts(filter)) {
    const eq = equality(term, fields);
    const lookup = eq?.field.lookup;
    if (!eq || !lookup) continue;
    let ids: number[] | undefined;
    if (lookup.by === 'pk') {
      // compare() turns a literal into a number against the numeric id; one that does not parse never matches.
      ids = engine.store.existingIds(
        formId,
        eq.values.flatMap((v) => {
          const n = typeof v === 'number' ? v : typeof v === 'string' ? parseNumber(v) : null;
          return typeof n === 'number' && Number.isInteger(n) ? [n] : [];
        }),
      );
    } else if (eq.values.every((v) => typeof v === 'string')) {
      // A number literal against a text field compares numerically ('007' = 7): no index for that.
      ids = engine.store.idsWithValues(
        formId,
        lookup.fieldKey,
        lookup.entryKey,
        eq.values.filter((v): v is string => typeof v === 'string'),
      );
    }
    if (ids && (best === undefined || ids.length < best.length)) best = ids;
  }
  if (best === undefined) return engine.store.all(formId);
  return best.flatMap((id) => {
    const record = engine.store.get(formId, id);
    return record ? [record] : [];
  });
}

// ── ExecuteBillQuery / BillQuery ────────────────────────────────────────────────────────────────────────

const FILTER_CACHE_SIZE = 500;
const filterCache = new Map<string, FilterExpr>();

function cachedFilter(text: string): FilterExpr {
  const hit = filterCache.get(text);
  if (hit) return hit;
  let expr: FilterExpr;
  try {
    expr = parseFilter(text);
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    throw new K3Failure(OURS.filterSyntax(detail), MSG.badParameter);
  }
  if (filterCache.size >= FILTER_CACHE_SIZE) filterCache.clear();
  filterCache.set(text, expr);
  return expr;
}

export interface QueryOptions {
  maxLimit: number;
}

/**
 * Run a query described by ExecuteBillQuery's `data`, returning the selected field keys (as given) and
 * the value rows.
 * @throws {K3Failure} unknown form / field, bad FilterString (callers wrap it as `[[…]]`).
 */
export function runQuery(
  engine: Engine,
  data: Record<string, unknown>,
  fallbackFormId: unknown,
  options: QueryOptions,
): { keys: string[]; rows: QueryValue[][] } {
  const form = engine.form(getCI(data, 'FormId') ?? fallbackFormId);
  const fieldKeysRaw = getCI(data, 'FieldKeys');
  const keys = (
    Array.isArray(fieldKeysRaw)
      ? fieldKeysRaw.map(String)
      : typeof fieldKeysRaw === 'string'
        ? fieldKeysRaw.split(',')
        : []
  )
    .map((k) => k.trim())
    .filter((k) => k !== '');
  if (keys.length === 0) throw new K3Failure(OURS.missingParameter('FieldKeys'), MSG.badParameter);

  const filterRaw = getCI(data, 'FilterString');
  if (Array.isArray(filterRaw)) throw new K3Failure(OURS.filterArrayUnsupported, MSG.badParameter);
  const filter = cachedFilter(typeof filterRaw === 'string' ? filterRaw : '');

  const orderRaw = getCI(data, 'OrderString');
  const order = (typeof orderRaw === 'string' ? orderRaw.split(',') : [])
    .map((part) => part.trim())
    .filter((part) => part !== '')
    .map((part) => {
      const match = /^(\S+)(?:\s+(asc|desc))?$/i.exec(part);
      if (!match?.[1]) throw new K3Failure(OURS.badParameter('OrderString', part), MSG.badParameter);
      return { key: match[1], desc: (match[2] ?? '').toLowerCase() === 'desc' };
    });

  const resolved = new Map<string, ResolvedField>();
  const resolve = (key: string) => {
    const lower = key.toLowerCase();
    let field = resolved.get(lower);
    if (!field) {
      field = resolveField(engine, form, key);
      resolved.set(lower, field);
    }
    return field;
  };
  const selected = keys.map(resolve);
  for (const key of filterFields(filter, new Set())) resolve(key);
  const orderFields = order.map((o) => ({ field: resolve(o.key), desc: o.desc }));

  const entries = new Set(
    [...resolved.values()].map((f) => f.entry).filter((e): e is EntityMeta => e !== null),
  );
  if (entries.size > 1) throw new K3Failure(OURS.tooManyEntries, MSG.badParameter);
  const entry = [...entries][0] ?? null;

  const matched: RowContext[] = [];
  for (const record of candidateRecords(engine, form, filter, resolved)) {
    if (entry) {
      for (const row of record.entries[entry.key] ?? []) {
        const ctx = { record, row };
        if (evaluate(filter, ctx, resolved)) matched.push(ctx);
      }
    } else {
      const ctx = { record, row: null };
      if (evaluate(filter, ctx, resolved)) matched.push(ctx);
    }
  }
  if (orderFields.length > 0) {
    matched.sort((a, b) => {
      for (const { field, desc } of orderFields) {
        const c = compare(
          { value: field.get(a), type: field.type },
          { value: field.get(b), type: field.type },
        );
        // NULLs sort first ascending, as in SQL Server.
        const result = c ?? (field.get(a) === null ? (field.get(b) === null ? 0 : -1) : 1);
        if (result !== 0) return desc ? -result : result;
      }
      return 0;
    });
  }

  const top = Math.max(0, Math.trunc(Number(parseNumber(getCI(data, 'TopRowCount')) ?? 0)));
  const start = Math.max(0, Math.trunc(Number(parseNumber(getCI(data, 'StartRow')) ?? 0)));
  const limitRaw = Math.trunc(Number(parseNumber(getCI(data, 'Limit')) ?? 0));
  // Limit 0 = "no limit", still capped by the server maximum (WebAPIMaxQueryLimit, spec §4.5).
  const limit = limitRaw > 0 ? Math.min(limitRaw, options.maxLimit) : options.maxLimit;
  // TopRowCount bounds the result before paging (used as an absolute end row by paging clients, spec §4.5).
  const bounded = top > 0 ? matched.slice(0, top) : matched;
  const page = bounded.slice(start, start + limit);
  return { keys, rows: page.map((ctx) => selected.map((field) => field.get(ctx))) };
}
