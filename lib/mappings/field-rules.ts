/**
 * The declarative field rules of the config, applied to one record or row: read a value (or take a
 * constant), fall back to a default, translate it through a dictionary, check it is present when required,
 * then format it (trim, truncate with a note, round, wrap as a K3 reference).
 *
 * Problems are collected, not thrown, so one mapping reports every bad field of a record at once.
 */
import {
  crmEpochMsToIsoDate,
  readCrmEpochMs,
  readCrmFirstId,
  readCrmNumber,
  readCrmRaw,
  readCrmString,
} from '../fxiaoke/records.ts';
import type { CrmToK3Rule, Dictionary, ErpToCrmRule, SyncConfig } from './config.ts';
import { findDictionary } from './config.ts';
import { type MappingNote, type ProblemList, showValue } from './errors.ts';
import { cellText, type K3Model, type K3Row, type K3Value, parseK3NaiveMs } from './k3-requests.ts';

type Scalar = string | number | boolean;

/** Where rules run: the flow (for dictionary lookup and messages) and the collectors. */
export interface RuleContext {
  config: SyncConfig;
  /** Config path of the flow, e.g. `flows.accountToCustomer`. */
  flowPath: string;
  flowDictionaries: Readonly<Record<string, Dictionary>>;
  problems: ProblemList;
  notes: MappingNote[];
  /** Names the line a problem is about (`订单产品「主板」: ` / `line "主板": `); empty for the header. */
  scope?: { zh: string; en: string };
}

/** Round half away from zero without binary drift (1.005 → 1.01). */
export function roundDecimal(value: number, decimals: number): number {
  const sign = value < 0 ? -1 : 1;
  const abs = Math.abs(value);
  // Shifting through the decimal text (`1.005e2` = 100.5) avoids 1.005 * 100 = 100.49999…; values already
  // in exponent notation are tiny or huge, where plain arithmetic is as good as it gets.
  const text = String(abs);
  const result = text.includes('e')
    ? (sign * Math.round(abs * 10 ** decimals)) / 10 ** decimals
    : sign * Number(`${Math.round(Number(`${text}e${decimals}`))}e-${decimals}`);
  return Object.is(result, -0) ? 0 : result;
}

/** Cut text to `max` UTF-16 units (K3 nvarchar lengths count those) without splitting a surrogate pair. */
export function truncateText(text: string, max: number): string {
  if (text.length <= max) return text;
  let out = '';
  for (const char of text) {
    if (out.length + char.length > max) break;
    out += char;
  }
  return out;
}

function scopeOf(ctx: RuleContext): { zh: string; en: string } {
  return ctx.scope ?? { zh: '', en: '' };
}

function dictionaryPath(ctx: RuleContext, name: string): string {
  return Object.hasOwn(ctx.flowDictionaries, name)
    ? `${ctx.flowPath}.dictionaries.${name}`
    : `dictionaries.${name}`;
}

function invalid(
  ctx: RuleContext,
  field: string,
  value: unknown,
  what: { zh: string; en: string; code: string },
) {
  const scope = scopeOf(ctx);
  ctx.problems.add({
    kind: 'business',
    code: what.code,
    field,
    value,
    zh: `${scope.zh}字段 ${field} 的值 ${showValue(value)} 不是有效的${what.zh}`,
    en: `${scope.en}field ${field} has ${showValue(value)}, which is not a valid ${what.en}`,
  });
}

/** Default → dictionary → required, shared by both directions. Returns undefined when there is no value. */
function settle(
  value: Scalar | undefined,
  rule: { dictionary?: string | undefined; default?: Scalar | undefined; required: boolean },
  source: string,
  target: string,
  ctx: RuleContext,
): Scalar | undefined {
  let result = value ?? rule.default;
  if (rule.dictionary !== undefined) {
    const dictionary = findDictionary(ctx.config, ctx.flowDictionaries, rule.dictionary);
    // Config validation guarantees the dictionary exists; a missing one here is a bug, not bad data.
    if (!dictionary) throw new Error(`dictionary ${rule.dictionary} vanished after validation`);
    if (result === undefined) {
      result = dictionary.default;
    } else {
      const key = String(result);
      if (Object.hasOwn(dictionary.values, key)) {
        result = dictionary.values[key];
      } else if (dictionary.unmapped === 'default' && dictionary.default !== undefined) {
        const scope = scopeOf(ctx);
        ctx.notes.push({
          code: 'DICTIONARY_DEFAULT',
          target,
          zh: `${scope.zh}${source} 的值 ${showValue(key)} 不在字典 ${dictionaryPath(ctx, rule.dictionary)} 中，${target} 使用默认值 ${dictionary.default}`,
          en: `${scope.en}${source} value ${showValue(key)} is not in ${dictionaryPath(ctx, rule.dictionary)}; ${target} took the default ${dictionary.default}`,
        });
        result = dictionary.default;
      } else {
        const path = dictionaryPath(ctx, rule.dictionary);
        const scope = scopeOf(ctx);
        ctx.problems.add({
          kind: 'config',
          code: 'UNMAPPED_VALUE',
          field: source,
          value: key,
          zh: `${scope.zh}字段 ${source} 的值 ${showValue(key)} 在字典 ${path} 中没有对应值（${target}）；请在 ${path}.values 中添加，或设置 unmapped: default`,
          en: `${scope.en}field ${source} has ${showValue(key)}, which dictionary ${path} does not map (${target}); add it to ${path}.values or set unmapped: default`,
        });
        return undefined;
      }
    }
  }
  if (result === undefined && rule.required) {
    const scope = scopeOf(ctx);
    ctx.problems.add({
      kind: 'business',
      code: 'REQUIRED_FIELD_MISSING',
      field: source,
      zh: `${scope.zh}必填字段 ${source} 为空（用于 ${target}）`,
      en: `${scope.en}required field ${source} is empty (needed for ${target})`,
    });
  }
  return result;
}

function finish(
  value: Scalar,
  rule: { maxLength?: number | undefined; decimals?: number | undefined },
  target: string,
  ctx: RuleContext,
): Scalar {
  if (typeof value === 'string' && rule.maxLength !== undefined && value.length > rule.maxLength) {
    const cut = truncateText(value, rule.maxLength);
    const scope = scopeOf(ctx);
    ctx.notes.push({
      code: 'TRUNCATED',
      target,
      zh: `${scope.zh}${target} 超过 ${rule.maxLength} 个字符，已从 ${value.length} 截断`,
      en: `${scope.en}${target} was truncated from ${value.length} to ${rule.maxLength} characters`,
    });
    return cut;
  }
  if (typeof value === 'number' && rule.decimals !== undefined) return roundDecimal(value, rule.decimals);
  return value;
}

function readCrm(
  record: Readonly<Record<string, unknown>>,
  field: string,
  rule: CrmToK3Rule,
  ctx: RuleContext,
): Scalar | undefined {
  switch (rule.read) {
    case 'text': {
      const text = readCrmString(record, field);
      const value = rule.trim ? text?.trim() : text;
      return value === '' ? undefined : value;
    }
    case 'number': {
      const value = readCrmNumber(record, field);
      if (value === undefined && readCrmRaw(record, field) !== undefined) {
        invalid(ctx, field, readCrmRaw(record, field), { zh: '数字', en: 'number', code: 'INVALID_NUMBER' });
      }
      return value;
    }
    case 'date': {
      const value = readCrmEpochMs(record, field);
      if (value === undefined) {
        if (readCrmRaw(record, field) !== undefined) {
          invalid(ctx, field, readCrmRaw(record, field), { zh: '日期', en: 'date', code: 'INVALID_DATE' });
        }
        return undefined;
      }
      return crmEpochMsToIsoDate(value);
    }
    case 'boolean': {
      const raw = readCrmRaw(record, field);
      if (raw === undefined) return undefined;
      const parsed = parseBoolean(raw);
      if (parsed === undefined)
        invalid(ctx, field, raw, { zh: '布尔值', en: 'true/false value', code: 'INVALID_BOOLEAN' });
      return parsed;
    }
    case 'id':
      return readCrmFirstId(record, field);
  }
}

function parseBoolean(raw: unknown): boolean | undefined {
  if (typeof raw === 'boolean') return raw;
  const text = String(raw).trim().toLowerCase();
  if (text === 'true' || text === '1') return true;
  if (text === 'false' || text === '0') return false;
  return undefined;
}

/**
 * Apply one CRM → K3 rule to a CRM record (or detail row). Problems go to `ctx.problems`, notes to
 * `ctx.notes`; the result is undefined when there is nothing to write.
 */
export function applyCrmRule(
  target: string,
  rule: CrmToK3Rule,
  record: Readonly<Record<string, unknown>>,
  ctx: RuleContext,
): K3Value | undefined {
  const source = rule.from ?? target;
  const before = ctx.problems.size;
  const read =
    rule.const !== undefined
      ? rule.const
      : rule.from !== undefined
        ? readCrm(record, rule.from, rule, ctx)
        : undefined;
  if (ctx.problems.size > before) return undefined;
  const settled = settle(read, rule, source, target, ctx);
  if (settled === undefined) return undefined;
  const value = finish(settled, rule, target, ctx);
  return rule.ref === undefined ? value : { [rule.ref]: String(value) };
}

/** What {@link applyCrmRules} wrote. */
export interface AppliedRules {
  /** Target keys written, in config order. */
  written: string[];
  /** Targets of `createOnly` rules. */
  createOnly: string[];
  /**
   * Targets of plain text rules (no `const`, no `ref`) whose CRM field is empty: on updates they are sent
   * as '' so the ERP does not keep text the CRM user deleted.
   */
  emptyText: string[];
}

/**
 * Apply a set of CRM → K3 rules in config order, writing into `model`. Dotted targets
 * (`FSaleOrderFinance.FExchangeRate`) go into the sub-header object.
 */
export function applyCrmRules(
  rules: Readonly<Record<string, CrmToK3Rule>>,
  record: Readonly<Record<string, unknown>>,
  model: K3Model,
  ctx: RuleContext,
): AppliedRules {
  const applied: AppliedRules = { written: [], createOnly: [], emptyText: [] };
  for (const [target, rule] of Object.entries(rules)) {
    if (rule.createOnly) applied.createOnly.push(target);
    const before = ctx.problems.size;
    const value = applyCrmRule(target, rule, record, ctx);
    if (value === undefined) {
      const plainText = rule.const === undefined && rule.ref === undefined && rule.read === 'text';
      if (plainText && ctx.problems.size === before) applied.emptyText.push(target);
      continue;
    }
    setModelValue(model, target, value);
    applied.written.push(target);
  }
  return applied;
}

function isK3Model(value: K3Model[string] | undefined): value is K3Model {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Write `value` at `target`, creating the sub-header object of a dotted key. */
export function setModelValue(model: K3Model, target: string, value: K3Value): void {
  const dot = target.indexOf('.');
  if (dot < 0) {
    model[target] = value;
    return;
  }
  const head = target.slice(0, dot);
  const existing = model[head];
  const sub: K3Model = isK3Model(existing) ? existing : {};
  sub[target.slice(dot + 1)] = value;
  model[head] = sub;
}

/** Fxiaoke date fields hold 00:00 China Standard Time of the calendar day (spec §5.1). */
const CHINA_OFFSET_MS = 8 * 3_600_000;

function readErp(row: K3Row, key: string, rule: ErpToCrmRule, ctx: RuleContext): Scalar | undefined {
  switch (rule.read) {
    case 'text': {
      const text = cellText(row, key);
      const value = rule.trim ? text?.trim() : text;
      return value === '' ? undefined : value;
    }
    case 'number': {
      const raw = row[key];
      if (raw === null || raw === undefined || raw === '') return undefined;
      const value = typeof raw === 'number' ? raw : typeof raw === 'string' ? Number(raw.trim()) : Number.NaN;
      if (!Number.isFinite(value)) {
        invalid(ctx, key, raw, { zh: '数字', en: 'number', code: 'INVALID_NUMBER' });
        return undefined;
      }
      return value;
    }
    case 'date':
    case 'datetime': {
      const text = cellText(row, key);
      if (text === undefined) return undefined;
      const naive = parseK3NaiveMs(text);
      if (naive === undefined) {
        invalid(ctx, key, text, { zh: '日期', en: 'date', code: 'INVALID_DATE' });
        return undefined;
      }
      if (rule.read === 'date') {
        const day = new Date(naive);
        return Date.UTC(day.getUTCFullYear(), day.getUTCMonth(), day.getUTCDate()) - CHINA_OFFSET_MS;
      }
      return naive - ctx.config.erp.utcOffsetMinutes * 60_000;
    }
    case 'boolean': {
      const raw = row[key];
      if (raw === null || raw === undefined || raw === '') return undefined;
      const parsed = parseBoolean(raw);
      if (parsed === undefined)
        invalid(ctx, key, raw, { zh: '布尔值', en: 'true/false value', code: 'INVALID_BOOLEAN' });
      return parsed;
    }
  }
}

/**
 * Apply one ERP → CRM rule to a K3 query row. Numbers are written as decimal text (with `decimals`
 * places when set), as Fxiaoke itself returns them (spec §5.1).
 */
export function applyErpRule(
  target: string,
  rule: ErpToCrmRule,
  row: K3Row,
  ctx: RuleContext,
): Scalar | undefined {
  const source = rule.from ?? target;
  const before = ctx.problems.size;
  const read =
    rule.const !== undefined
      ? rule.const
      : rule.from !== undefined
        ? readErp(row, rule.from, rule, ctx)
        : undefined;
  if (ctx.problems.size > before) return undefined;
  const settled = settle(read, rule, source, target, ctx);
  if (settled === undefined) return undefined;
  const value = finish(settled, rule, target, ctx);
  if (typeof value === 'number' && rule.read === 'number') {
    return rule.decimals === undefined ? String(value) : value.toFixed(rule.decimals);
  }
  return value;
}

/** Apply a set of ERP → CRM rules in config order into `data`. */
export function applyErpRules(
  rules: Readonly<Record<string, ErpToCrmRule>>,
  row: K3Row,
  data: Record<string, unknown>,
  ctx: RuleContext,
): void {
  for (const [target, rule] of Object.entries(rules)) {
    const value = applyErpRule(target, rule, row, ctx);
    if (value !== undefined) data[target] = value;
  }
}

/** The K3 query keys ERP → CRM rules read (added to the query's FieldKeys). */
export function erpRuleKeys(rules: Readonly<Record<string, ErpToCrmRule>>): string[] {
  return Object.values(rules).flatMap((rule) => (rule.from === undefined ? [] : [rule.from]));
}
