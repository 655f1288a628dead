import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  flag,
  formatDateTime,
  formatToday,
  getCI,
  normalizeDate,
  parseIdList,
  round,
} from '../../../infra/local/k3cloud-emulator/values.ts';

describe('k3cloud emulator values', () => {
  it('formats server time as K3 does (local, no offset, trimmed fraction)', () => {
    const ms = Date.UTC(2019, 1, 13, 7, 46, 44, 720);
    assert.equal(formatDateTime(ms, 480), '2019-02-13T15:46:44.72');
    assert.equal(formatDateTime(Date.UTC(2024, 0, 1), 480), '2024-01-01T08:00:00');
    assert.equal(
      formatToday(Date.UTC(2024, 0, 1, 20), 480),
      '2024-01-02T00:00:00',
      'the day is the server day',
    );
  });

  it('normalises the date spellings clients send and refuses non-dates', () => {
    assert.equal(normalizeDate('2024-01-15', true), '2024-01-15T00:00:00');
    assert.equal(normalizeDate('2024/1/5 8:03', false), '2024-01-05T08:03:00');
    assert.equal(normalizeDate('2024-01-15T10:20:30.1230000', false), '2024-01-15T10:20:30.123');
    assert.equal(normalizeDate('2024-01-15T10:20:30Z', false), '2024-01-15T10:20:30');
    for (const bad of ['2024-02-30', 'soon', '2024-13-01', '2024-01-01 25:00'])
      assert.equal(normalizeDate(bad, false), undefined);
  });

  it('reads booleans sent as strings, ids as comma strings, keys case-insensitively', () => {
    assert.equal(flag('false', true), false);
    assert.equal(flag('', true), true);
    assert.equal(flag(undefined, false), false);
    assert.deepEqual(parseIdList('1001, 1002,,x'), { ids: [1001, 1002], bad: ['x'] });
    assert.deepEqual(parseIdList(7), { ids: [7], bad: [] });
    assert.equal(getCI({ FormId: 'a' }, 'formid'), 'a');
    assert.equal(round(1.005, 2), 1.01);
    assert.equal(round(-2.5, 0), -3);
  });
});
