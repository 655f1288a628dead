/**
 * Value conventions of the K3Cloud wire: dates, booleans sent as strings, case-insensitive keys.
 */

/**
 * K3 servers answer in their own local time without an offset (`2019-02-13T15:46:44.72`, public View
 * capture). The emulator's server time zone is China Standard Time by default (UTC+8, where K3Cloud is
 * deployed); the option `utcOffsetMinutes` changes it.
 */
export const DEFAULT_UTC_OFFSET_MINUTES = 480;

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

/** Epoch ms → `yyyy-MM-ddTHH:mm:ss[.fff]`, fraction trimmed as .NET serialises DateTime. */
export function formatDateTime(epochMs: number, utcOffsetMinutes: number): string {
  const local = new Date(epochMs + utcOffsetMinutes * 60_000);
  const base =
    `${pad(local.getUTCFullYear(), 4)}-${pad(local.getUTCMonth() + 1)}-${pad(local.getUTCDate())}` +
    `T${pad(local.getUTCHours())}:${pad(local.getUTCMinutes())}:${pad(local.getUTCSeconds())}`;
  const ms = local.getUTCMilliseconds();
  return ms === 0 ? base : `${base}.${pad(ms, 3).replace(/0+$/, '')}`;
}

/** Epoch ms → today's date at midnight, `yyyy-MM-ddT00:00:00`. */
export function formatToday(epochMs: number, utcOffsetMinutes: number): string {
  return `${formatDateTime(epochMs, utcOffsetMinutes).slice(0, 10)}T00:00:00`;
}

const DATE_PATTERN =
  /^(\d{4})[-/](\d{1,2})[-/](\d{1,2})(?:[T ](\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,7}))?)?)?(Z|[+-]\d{2}:?\d{2})?$/;

/**
 * Parse a date as clients send it (`2024-01-15`, `2024/1/15`, `2024-01-15 10:20:30`, ISO with or without
 * fraction) into the stored form `yyyy-MM-ddTHH:mm:ss[.fff]`. A trailing offset is ignored: K3 reads the
 * wall-clock value as server time (ASSUMPTION, matches .NET's DateTime parsing of such strings on a CST server).
 * Returns undefined when the text is not a date.
 */
export function normalizeDate(text: string, dateOnly: boolean): string | undefined {
  const match = DATE_PATTERN.exec(text.trim());
  if (!match) return undefined;
  const [, y, mo, d, h, mi, s, frac] = match;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  const probe = new Date(Date.UTC(year, month - 1, day));
  if (probe.getUTCMonth() !== month - 1 || probe.getUTCDate() !== day) return undefined;
  const hour = Number(h ?? 0);
  const minute = Number(mi ?? 0);
  const second = Number(s ?? 0);
  if (hour > 23 || minute > 59 || second > 59) return undefined;
  const datePart = `${pad(year, 4)}-${pad(month)}-${pad(day)}`;
  if (dateOnly) return `${datePart}T00:00:00`;
  const fraction = frac ? frac.slice(0, 3).replace(/0+$/, '') : '';
  return `${datePart}T${pad(hour)}:${pad(minute)}:${pad(second)}${fraction ? `.${fraction}` : ''}`;
}

/**
 * Booleans arrive as JSON booleans or as the strings `"true"`/`"false"` (spec §4.1: "Booleans are often sent
 * as strings and accepted"); `1`/`0` are accepted too. Returns undefined for anything else.
 */
export function parseBoolean(value: unknown): boolean | undefined {
  if (typeof value === 'boolean') return value;
  if (typeof value === 'number') return value === 1 ? true : value === 0 ? false : undefined;
  if (typeof value === 'string') {
    const lower = value.trim().toLowerCase();
    if (lower === 'true' || lower === '1') return true;
    if (lower === 'false' || lower === '0') return false;
  }
  return undefined;
}

/** A flag with a default: absent, null and empty string mean "use the default". */
export function flag(value: unknown, fallback: boolean): boolean {
  if (value === undefined || value === null || value === '') return fallback;
  return parseBoolean(value) ?? fallback;
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Case-insensitive property lookup (K3 binds parameter and field names case-insensitively, spec §1.2). */
export function getCI(object: Record<string, unknown>, name: string): unknown {
  if (name in object) return object[name];
  const lower = name.toLowerCase();
  for (const key of Object.keys(object)) {
    if (key.toLowerCase() === lower) return object[key];
  }
  return undefined;
}

/** Round half away from zero to `decimals` places (K3 amounts use 2). */
export function round(value: number, decimals: number): number {
  const factor = 10 ** decimals;
  // toPrecision(15) removes binary noise first (1.005 * 100 = 100.49999999999999 → 100.5).
  return (Math.sign(value) * Math.round(Number((Math.abs(value) * factor).toPrecision(15)))) / factor;
}

/** A number from a JSON number or numeric string; undefined otherwise. Empty string counts as 0. */
export function parseNumber(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value === 'string') {
    const trimmed = value.trim();
    if (trimmed === '') return 0;
    const n = Number(trimmed);
    return Number.isFinite(n) ? n : undefined;
  }
  return undefined;
}

/** A comma-separated id list (`"1001,1002"`), a number, or an array of either → numbers (bad items dropped). */
export function parseIdList(value: unknown): { ids: number[]; bad: string[] } {
  const items: unknown[] = Array.isArray(value)
    ? value
    : typeof value === 'string'
      ? value.split(',')
      : value === undefined || value === null
        ? []
        : [value];
  const ids: number[] = [];
  const bad: string[] = [];
  for (const item of items) {
    const text = String(item).trim();
    if (text === '') continue;
    const n = Number(text);
    if (Number.isInteger(n) && n > 0) ids.push(n);
    else bad.push(text);
  }
  return { ids, bad };
}

/** `Numbers` as an array of strings (also accepted: one comma-separated string). */
export function parseNumberList(value: unknown): string[] {
  const items: unknown[] = Array.isArray(value) ? value : typeof value === 'string' ? value.split(',') : [];
  return items.map((item) => String(item).trim()).filter((s) => s !== '');
}
