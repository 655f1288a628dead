import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ServerlessConfigError } from '../../../infra/local/runtime/errors.ts';
import { nextFireTime, parseScheduleExpression } from '../../../infra/local/runtime/schedule-expression.ts';

const at = (iso: string) => Date.parse(iso);
const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());

/** The next `count` firing times after `from`. */
function firings(expression: string, from: string, count: number): (string | undefined)[] {
  const parsed = parseScheduleExpression(expression, 'test');
  const out: (string | undefined)[] = [];
  let after = at(from);
  for (let i = 0; i < count; i++) {
    const next = nextFireTime(parsed, after, at(from));
    out.push(iso(next));
    if (next === undefined) break;
    after = next;
  }
  return out;
}

describe('schedule expressions', () => {
  describe('rate', () => {
    it('fires every interval from the anchor', () => {
      assert.deepEqual(firings('rate(5 minutes)', '2026-01-05T09:00:30Z', 3), [
        '2026-01-05T09:05:30.000Z',
        '2026-01-05T09:10:30.000Z',
        '2026-01-05T09:15:30.000Z',
      ]);
      assert.deepEqual(firings('rate(1 day)', '2026-01-05T09:00:00Z', 1), ['2026-01-06T09:00:00.000Z']);
    });

    it('rejects what AWS rejects', () => {
      for (const bad of [
        'rate(1 minutes)',
        'rate(2 hour)',
        'rate(0 minutes)',
        'rate(5 seconds)',
        'rate(five minutes)',
      ]) {
        assert.throws(
          () => parseScheduleExpression(bad, 'functions.x.events[0].schedule'),
          ServerlessConfigError,
          bad,
        );
      }
    });
  });

  describe('cron (UTC, six fields)', () => {
    it('daily at a fixed time', () => {
      assert.deepEqual(firings('cron(0 2 * * ? *)', '2026-01-05T09:00:00Z', 2), [
        '2026-01-06T02:00:00.000Z',
        '2026-01-07T02:00:00.000Z',
      ]);
    });

    it('increments, ranges and weekday names (Mon–Fri every 15 minutes from 08:00 to 09:59)', () => {
      assert.deepEqual(firings('cron(0/15 8-9 ? * MON-FRI *)', '2026-01-09T09:50:00Z', 3), [
        '2026-01-12T08:00:00.000Z',
        '2026-01-12T08:15:00.000Z',
        '2026-01-12T08:30:00.000Z',
      ]);
    });

    it('L, W and # forms', () => {
      assert.deepEqual(firings('cron(0 0 L * ? *)', '2026-02-01T00:00:00Z', 2), [
        '2026-02-28T00:00:00.000Z',
        '2026-03-31T00:00:00.000Z',
      ]);
      // The 2nd Tuesday of each month.
      assert.deepEqual(firings('cron(30 1 ? * 3#2 *)', '2026-01-01T00:00:00Z', 2), [
        '2026-01-13T01:30:00.000Z',
        '2026-02-10T01:30:00.000Z',
      ]);
      // The last Friday of the month.
      assert.deepEqual(firings('cron(0 12 ? * 6L *)', '2026-01-01T00:00:00Z', 1), [
        '2026-01-30T12:00:00.000Z',
      ]);
      // The weekday nearest the 1st: 2026-08-01 is a Saturday → Monday the 3rd.
      assert.deepEqual(firings('cron(0 0 1W AUG ? 2026)', '2026-07-01T00:00:00Z', 1), [
        '2026-08-03T00:00:00.000Z',
      ]);
    });

    it('a year field bounds the schedule', () => {
      assert.deepEqual(firings('cron(0 0 1 1 ? 2027)', '2026-06-01T00:00:00Z', 2), [
        '2027-01-01T00:00:00.000Z',
        undefined,
      ]);
    });

    it('rejects malformed expressions with the reason', () => {
      assert.throws(
        () => parseScheduleExpression('cron(0 12 * * * *)', 'loc'),
        /exactly one of day-of-month and day-of-week/,
      );
      assert.throws(() => parseScheduleExpression('cron(0 12 * *)', 'loc'), /6 fields/);
      assert.throws(() => parseScheduleExpression('cron(61 12 * * ? *)', 'loc'), /61 is outside 0–59/);
      assert.throws(() => parseScheduleExpression('every day', 'loc'), /expected rate/);
    });
  });
});
