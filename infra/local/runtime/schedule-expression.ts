/**
 * EventBridge schedule expressions: `rate(value unit)` and `cron(minutes hours day-of-month month
 * day-of-week year)`, evaluated in UTC as EventBridge rules are.
 *
 * Grammar from the EventBridge User Guide ("Schedule expressions for rules"):
 * - rate: a positive integer and `minute|minutes|hour|hours|day|days`, singular exactly when the value is 1
 *   (`rate(1 minutes)` is rejected by AWS, so it is rejected here before a deployment finds out);
 * - cron: six fields; `,` lists, `-` ranges, `*` all, `/` increments; month names JAN–DEC and weekday names
 *   SUN–SAT (1 = Sunday … 7 = Saturday); `?` in exactly one of day-of-month / day-of-week; `L` (last day of
 *   the month, or `<weekday>L` = last such weekday), `W` (nearest weekday to a day of the month, `LW`), and
 *   `#` (`<weekday>#<n>` = n-th such weekday of the month).
 */
import { ServerlessConfigError } from './errors.ts';

export type ScheduleExpression =
  | { kind: 'rate'; text: string; everyMs: number }
  | { kind: 'cron'; text: string; fields: CronFields };

interface CronFields {
  minutes: Set<number>;
  hours: Set<number>;
  /** `undefined` when the field is `?`. */
  dayOfMonth: DayOfMonthRule | undefined;
  months: Set<number>;
  dayOfWeek: DayOfWeekRule | undefined;
  /** `undefined` = every year. */
  years: Set<number> | undefined;
}

type DayOfMonthRule =
  | { kind: 'set'; days: Set<number> }
  | { kind: 'last'; offset: number }
  | { kind: 'nearest-weekday'; day: number }
  | { kind: 'last-weekday' };

type DayOfWeekRule =
  | { kind: 'set'; days: Set<number> }
  | { kind: 'last'; weekday: number }
  | { kind: 'nth'; weekday: number; n: number };

const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const WEEKDAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];
const MINUTE_MS = 60_000;
/** Give up looking for the next cron time after this many years (e.g. `cron(0 0 30 FEB ? *)`). */
const MAX_SEARCH_YEARS = 8;

class ExpressionError extends Error {}

function rangeSet(
  field: string,
  text: string,
  min: number,
  max: number,
  names: readonly string[] = [],
  nameBase = min,
): Set<number> {
  const values = new Set<number>();
  const toNumber = (token: string): number => {
    const upper = token.toUpperCase();
    const named = names.indexOf(upper);
    if (named >= 0) return named + nameBase;
    if (!/^\d+$/.test(token)) throw new ExpressionError(`${field}: "${token}" is not a number`);
    const n = Number(token);
    if (n < min || n > max) throw new ExpressionError(`${field}: ${n} is outside ${min}–${max}`);
    return n;
  };
  for (const item of text.split(',')) {
    const [range = '', stepText] = item.split('/');
    const step = stepText === undefined ? 1 : Number(stepText);
    if (!Number.isInteger(step) || step < 1)
      throw new ExpressionError(`${field}: bad increment "${stepText}"`);
    let from: number;
    let to: number;
    if (range === '*') {
      from = min;
      to = max;
    } else if (range.includes('-')) {
      const [a = '', b = ''] = range.split('-');
      from = toNumber(a);
      to = toNumber(b);
      if (to < from) throw new ExpressionError(`${field}: range ${range} runs backwards`);
    } else {
      from = toNumber(range);
      to = stepText === undefined ? from : max;
    }
    for (let v = from; v <= to; v += step) values.add(v);
  }
  return values;
}

function parseDayOfMonth(text: string): DayOfMonthRule | undefined {
  if (text === '?') return undefined;
  const upper = text.toUpperCase();
  if (upper === 'L') return { kind: 'last', offset: 0 };
  if (upper === 'LW') return { kind: 'last-weekday' };
  const lastOffset = /^L-(\d+)$/.exec(upper);
  if (lastOffset) return { kind: 'last', offset: Number(lastOffset[1]) };
  const weekday = /^(\d+)W$/.exec(upper);
  if (weekday) {
    const day = Number(weekday[1]);
    if (day < 1 || day > 31) throw new ExpressionError(`day-of-month: ${day}W is outside 1–31`);
    return { kind: 'nearest-weekday', day };
  }
  return { kind: 'set', days: rangeSet('day-of-month', text, 1, 31) };
}

function parseDayOfWeek(text: string): DayOfWeekRule | undefined {
  if (text === '?') return undefined;
  const upper = text.toUpperCase();
  const weekdayNumber = (token: string): number => {
    const named = WEEKDAYS.indexOf(token);
    if (named >= 0) return named + 1;
    const n = Number(token);
    if (!Number.isInteger(n) || n < 1 || n > 7)
      throw new ExpressionError(`day-of-week: "${token}" is not 1–7 or SUN–SAT`);
    return n;
  };
  const last = /^([A-Z0-9]+)L$/.exec(upper);
  if (last?.[1]) return { kind: 'last', weekday: weekdayNumber(last[1]) };
  const nth = /^([A-Z0-9]+)#(\d)$/.exec(upper);
  if (nth?.[1]) {
    const n = Number(nth[2]);
    if (n < 1 || n > 5) throw new ExpressionError(`day-of-week: #${n} must be 1–5`);
    return { kind: 'nth', weekday: weekdayNumber(nth[1]), n };
  }
  if (upper === 'L') return { kind: 'last', weekday: 7 };
  return { kind: 'set', days: rangeSet('day-of-week', text, 1, 7, WEEKDAYS, 1) };
}

/**
 * Parse a schedule expression.
 *
 * @throws {ServerlessConfigError} `LOCAL_SERVERLESS_INVALID` naming `location` and what is wrong.
 */
export function parseScheduleExpression(text: string, location: string): ScheduleExpression {
  const trimmed = text.trim();
  try {
    const rate = /^rate\(\s*(\d+)\s+([a-z]+)\s*\)$/.exec(trimmed);
    if (rate) {
      const value = Number(rate[1]);
      const unit = rate[2] ?? '';
      const units: Record<string, number> = {
        minute: MINUTE_MS,
        hour: 60 * MINUTE_MS,
        day: 1_440 * MINUTE_MS,
      };
      const singular = unit.replace(/s$/, '');
      const unitMs = units[singular];
      if (unitMs === undefined)
        throw new ExpressionError(`unit "${unit}" must be minute(s), hour(s) or day(s)`);
      if (value < 1) throw new ExpressionError('the value must be a positive integer');
      if ((value === 1) !== (unit === singular)) {
        throw new ExpressionError(
          `AWS requires "${value === 1 ? singular : `${singular}s`}" for a value of ${value}`,
        );
      }
      return { kind: 'rate', text: trimmed, everyMs: value * unitMs };
    }
    const cron = /^cron\((.*)\)$/.exec(trimmed);
    if (cron) {
      const parts = (cron[1] ?? '').trim().split(/\s+/);
      if (parts.length !== 6)
        throw new ExpressionError(
          `cron needs 6 fields (minutes hours day-of-month month day-of-week year), got ${parts.length}`,
        );
      const [minutes = '', hours = '', dom = '', month = '', dow = '', year = ''] = parts;
      if ((dom === '?') === (dow === '?')) {
        throw new ExpressionError('exactly one of day-of-month and day-of-week must be "?"');
      }
      return {
        kind: 'cron',
        text: trimmed,
        fields: {
          minutes: rangeSet('minutes', minutes, 0, 59),
          hours: rangeSet('hours', hours, 0, 23),
          dayOfMonth: parseDayOfMonth(dom),
          months: rangeSet('month', month, 1, 12, MONTHS, 1),
          dayOfWeek: parseDayOfWeek(dow),
          years: year === '*' ? undefined : rangeSet('year', year, 1970, 2199),
        },
      };
    }
    throw new ExpressionError('expected rate(<value> <unit>) or cron(<6 fields>)');
  } catch (error) {
    if (!(error instanceof ExpressionError)) throw error;
    throw new ServerlessConfigError(
      location,
      `无效的定时表达式 "${trimmed}" / invalid schedule expression "${trimmed}": ${error.message}`,
      'LOCAL_SERVERLESS_INVALID',
    );
  }
}

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

function weekdayOf(year: number, month: number, day: number): number {
  return new Date(Date.UTC(year, month - 1, day)).getUTCDay() + 1;
}

function dayMatches(fields: CronFields, year: number, month: number, day: number): boolean {
  const last = daysInMonth(year, month);
  const dom = fields.dayOfMonth;
  if (dom) {
    switch (dom.kind) {
      case 'set':
        return dom.days.has(day);
      case 'last':
        return day === last - dom.offset;
      case 'nearest-weekday': {
        const target = Math.min(dom.day, last);
        const wd = weekdayOf(year, month, target);
        let nearest = target;
        if (wd === 7) nearest = target === 1 ? 3 : target - 1;
        else if (wd === 1) nearest = target === last ? target - 2 : target + 1;
        return day === nearest;
      }
      case 'last-weekday': {
        const wd = weekdayOf(year, month, last);
        const lastWeekday = wd === 7 ? last - 1 : wd === 1 ? last - 2 : last;
        return day === lastWeekday;
      }
    }
  }
  const dow = fields.dayOfWeek;
  if (!dow) return false;
  const wd = weekdayOf(year, month, day);
  switch (dow.kind) {
    case 'set':
      return dow.days.has(wd);
    case 'last':
      return wd === dow.weekday && day + 7 > last;
    case 'nth':
      return wd === dow.weekday && Math.ceil(day / 7) === dow.n;
  }
}

/**
 * The first time strictly after `afterMs` at which a cron expression fires (UTC, whole minutes), or
 * undefined when it never fires again within {@link MAX_SEARCH_YEARS} years.
 */
export function nextCronTime(fields: CronFields, afterMs: number): number | undefined {
  // One cursor in epoch ms; Date.UTC carries overflowing days, hours and months into the next unit, so
  // skipping to "the next day" or "the next month" is one call.
  let at = Math.floor(afterMs / MINUTE_MS) * MINUTE_MS + MINUTE_MS;
  const endMs = Date.UTC(new Date(at).getUTCFullYear() + MAX_SEARCH_YEARS + 1, 0, 1);
  while (at < endMs) {
    const now = new Date(at);
    const year = now.getUTCFullYear();
    const month = now.getUTCMonth() + 1;
    const day = now.getUTCDate();
    const hour = now.getUTCHours();
    if (fields.years && !fields.years.has(year)) at = Date.UTC(year + 1, 0, 1);
    else if (!fields.months.has(month)) at = Date.UTC(year, month, 1);
    else if (!dayMatches(fields, year, month, day)) at = Date.UTC(year, month - 1, day + 1);
    else if (!fields.hours.has(hour)) at = Date.UTC(year, month - 1, day, hour + 1);
    else if (!fields.minutes.has(now.getUTCMinutes())) at += MINUTE_MS;
    else return at;
  }
  return undefined;
}

/**
 * When a schedule fires next after `afterMs`. A rate fires every `everyMs` counted from `anchorMs` (the
 * moment the rule was created — for the local stack, its start), as a new EventBridge rule does.
 */
export function nextFireTime(
  expression: ScheduleExpression,
  afterMs: number,
  anchorMs: number,
): number | undefined {
  if (expression.kind === 'cron') return nextCronTime(expression.fields, afterMs);
  const elapsed = Math.max(0, afterMs - anchorMs);
  return anchorMs + (Math.floor(elapsed / expression.everyMs) + 1) * expression.everyMs;
}
