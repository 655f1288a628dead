/**
 * Field values: from what a client sends to the stored (canonical) form, per describe type.
 *
 * Canonical forms follow the wire (spec §5.1): numbers, currency and percentiles are decimal strings
 * (`"1.00"`), dates are epoch-ms numbers, employees/departments are arrays of ids (current convention,
 * `"1000"`), select_many is an array of option values, true_or_false a boolean. `null` means empty.
 */
import type { Directory } from './directory.ts';
import { validationFailed } from './errors.ts';
import type { CompiledField, CompiledObject } from './metadata.ts';

/** Empty as Fxiaoke treats it: absent, null, '' (web UI) or an empty list. */
export function isEmptyValue(value: unknown): boolean {
  return (
    value === undefined || value === null || value === '' || (Array.isArray(value) && value.length === 0)
  );
}

const DECIMAL = /^[+-]?(\d+(\.\d*)?|\.\d+)$/;

/** Parse a number sent as a number or a decimal string; undefined when it is neither. */
export function parseDecimal(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value === 'string' && DECIMAL.test(value.trim())) return Number(value.trim());
  return undefined;
}

/** The decimal string Fxiaoke returns for a number (`"12.50"` with 2 decimals). */
export function formatDecimal(value: number, decimalPlaces: number | undefined): string {
  if (decimalPlaces === undefined) return String(value);
  // Round half away from zero on the decimal representation (toFixed alone turns 1.005 into "1.00").
  const factor = 10 ** decimalPlaces;
  const rounded =
    (Math.sign(value) * Math.round(Math.abs(value) * factor + Number.EPSILON * factor)) / factor;
  return rounded.toFixed(decimalPlaces);
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

function label(object: CompiledObject, field: CompiledField): string {
  return `${object.displayName}.${field.label}(${field.apiName})`;
}

function bad(object: CompiledObject, field: CompiledField, chinese: string, english: string): never {
  throw validationFailed(`字段 ${label(object, field)} ${chinese}`, `field ${field.apiName}: ${english}`);
}

function asIdList(
  object: CompiledObject,
  field: CompiledField,
  raw: unknown,
  convert: (id: string) => string | undefined,
): string[] {
  const items = Array.isArray(raw) ? raw : [raw];
  return items.map((item) => {
    if (typeof item !== 'string' && typeof item !== 'number') {
      bad(object, field, '的值必须是ID列表', `expected a list of ids, got ${JSON.stringify(item)}`);
    }
    const converted = convert(String(item));
    if (converted === undefined)
      bad(object, field, `的员工 ${String(item)} 不存在`, `employee ${String(item)} does not exist`);
    return converted;
  });
}

function optionValue(object: CompiledObject, field: CompiledField, raw: unknown): string {
  if (typeof raw !== 'string' && typeof raw !== 'number') {
    bad(object, field, '的值必须是选项值', `expected an option value, got ${JSON.stringify(raw)}`);
  }
  const value = String(raw);
  if (!field.options?.some((option) => option.value === value)) {
    const allowed = (field.options ?? []).map((o) => `${o.value}(${o.label})`).join(', ');
    bad(
      object,
      field,
      `的选项值 ${value} 不存在，可选：${allowed}`,
      `option "${value}" does not exist; allowed: ${allowed}`,
    );
  }
  return value;
}

/**
 * Convert one client-sent value to its stored form.
 * Lookups are only shape-checked here; the engine checks that the target record exists.
 *
 * @throws {FxiaokeApiError} FX_CODE_DATA_VALIDATION with the field's label when the value does not fit.
 */
export function normalizeFieldValue(
  object: CompiledObject,
  field: CompiledField,
  raw: unknown,
  directory: Directory,
): unknown {
  if (raw === undefined || raw === null || raw === '') return null;
  switch (field.type) {
    case 'text':
    case 'long_text':
    case 'phone_number':
    case 'url':
    case 'auto_number':
    case 'location':
    case 'email': {
      if (typeof raw !== 'string' && typeof raw !== 'number' && typeof raw !== 'boolean') {
        bad(object, field, '的值必须是文本', `expected text, got ${JSON.stringify(raw).slice(0, 80)}`);
      }
      const value = String(raw);
      if (field.maxLength !== undefined && [...value].length > field.maxLength) {
        bad(object, field, `长度超过 ${field.maxLength} 个字符`, `longer than ${field.maxLength} characters`);
      }
      if (field.type === 'email' && !EMAIL.test(value)) {
        bad(object, field, `的邮箱格式不正确：${value}`, `"${value}" is not an e-mail address`);
      }
      return value;
    }
    case 'number':
    case 'currency':
    case 'percentile': {
      const value = parseDecimal(raw);
      if (value === undefined) {
        bad(
          object,
          field,
          `的值必须是数字：${JSON.stringify(raw)}`,
          `expected a number, got ${JSON.stringify(raw)}`,
        );
      }
      return formatDecimal(value, field.decimalPlaces);
    }
    case 'date':
    case 'date_time': {
      const value = parseDecimal(raw);
      if (value === undefined || !Number.isInteger(value)) {
        bad(
          object,
          field,
          `的值必须是毫秒时间戳：${JSON.stringify(raw)}`,
          `expected epoch milliseconds, got ${JSON.stringify(raw)}`,
        );
      }
      return value;
    }
    case 'true_or_false': {
      if (raw === true || raw === 'true') return true;
      if (raw === false || raw === 'false') return false;
      return bad(
        object,
        field,
        '的值必须是 true 或 false',
        `expected true or false, got ${JSON.stringify(raw)}`,
      );
    }
    case 'select_one':
    case 'record_type':
      return optionValue(object, field, raw);
    case 'select_many': {
      const items = Array.isArray(raw) ? raw : [raw];
      return items.map((item) => optionValue(object, field, item));
    }
    case 'object_reference':
    case 'master_detail': {
      if (typeof raw !== 'string') {
        bad(object, field, '的值必须是数据ID', `expected a record id, got ${JSON.stringify(raw)}`);
      }
      return raw;
    }
    case 'employee':
      return asIdList(object, field, raw, (id) => directory.toEmployeeId(id));
    case 'department':
      return asIdList(object, field, raw, (id) => id);
    case 'image':
    case 'file_attachment': {
      if (!Array.isArray(raw)) bad(object, field, '的值必须是文件列表', 'expected a list of files');
      return raw;
    }
  }
}
