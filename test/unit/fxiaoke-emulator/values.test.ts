import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Directory } from '../../../infra/local/fxiaoke-emulator/directory.ts';
import { FX_CODE_DATA_VALIDATION, FxiaokeApiError } from '../../../infra/local/fxiaoke-emulator/errors.ts';
import {
  dateStampGmt8,
  newMessageId,
  newRecordId,
  startOfDayGmt8,
} from '../../../infra/local/fxiaoke-emulator/ids.ts';
import { BUILTIN_OBJECTS, ObjectRegistry } from '../../../infra/local/fxiaoke-emulator/metadata.ts';
import {
  formatDecimal,
  normalizeFieldValue,
  parseDecimal,
} from '../../../infra/local/fxiaoke-emulator/values.ts';

const registry = new ObjectRegistry(BUILTIN_OBJECTS);
const directory = new Directory('FSUID_00000000000000000000000000001000', 'ea');
const order = registry.require('SalesOrderObj');
const line = registry.require('SalesOrderProductObj');
const account = registry.require('AccountObj');

function normalize(object: typeof order, field: string, raw: unknown): unknown {
  const spec = object.fields.get(field);
  assert.ok(spec, field);
  return normalizeFieldValue(object, spec, raw, directory);
}

function validationError(fn: () => unknown): FxiaokeApiError {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof FxiaokeApiError);
    assert.equal(error.errorCode, FX_CODE_DATA_VALIDATION);
    return error;
  }
  assert.fail('expected a validation error');
}

describe('field values', () => {
  it('formats decimals like Fxiaoke (strings, fixed decimals, half away from zero)', () => {
    assert.equal(formatDecimal(1.005, 2), '1.01');
    assert.equal(formatDecimal(-1.005, 2), '-1.01');
    assert.equal(formatDecimal(2, 2), '2.00');
    assert.equal(formatDecimal(2.5, undefined), '2.5');
    assert.equal(parseDecimal(' 12.50 '), 12.5);
    assert.equal(parseDecimal('1e3'), undefined);
    assert.equal(parseDecimal(Number.NaN), undefined);
  });

  it('normalizes by describe type', () => {
    assert.equal(normalize(line, 'quantity', 3), '3.00');
    assert.equal(normalize(line, 'sales_price', '9.9'), '9.90');
    assert.equal(normalize(order, 'order_time', '1795363200000'), 1795363200000);
    assert.equal(normalize(order, 'field_ship_request__c', 'true'), true);
    assert.equal(normalize(order, 'field_delivery_status__c', 'partial'), 'partial');
    assert.deepEqual(normalize(order, 'owner', 'FSUID_00000000000000000000000000001000'), ['1000']);
    assert.deepEqual(normalize(order, 'owner', ['1001']), ['1001']);
    assert.equal(normalize(account, 'name', 42), '42');
    assert.equal(normalize(account, 'name', ''), null, 'empty clears the field');
    assert.equal(normalize(account, 'name', null), null);
  });

  it('refuses values that do not fit, naming the field in Chinese', () => {
    assert.match(validationError(() => normalize(line, 'quantity', 'abc')).errorMessage, /数量\(quantity\)/);
    validationError(() => normalize(order, 'order_time', 1.5));
    validationError(() => normalize(order, 'order_time', '2026-11-23'));
    validationError(() => normalize(order, 'field_ship_request__c', 'yes'));
    validationError(() => normalize(order, 'field_delivery_status__c', 'lost'));
    validationError(() => normalize(order, 'owner', ['9999']));
    validationError(() => normalize(account, 'email', 'nobody'));
    validationError(() => normalize(account, 'name', { x: 1 }));
    validationError(() => normalize(account, 'name', 'x'.repeat(256)));
  });
});

describe('identifiers and dates', () => {
  it('record ids are 24 lower-hex and unique; message ids 33 upper-hex', () => {
    const ids = new Set(Array.from({ length: 1000 }, () => newRecordId(Date.UTC(2026, 10, 23))));
    assert.equal(ids.size, 1000);
    for (const id of ids) assert.match(id, /^[0-9a-f]{24}$/);
    assert.match(newMessageId(), /^[0-9A-F]{33}$/);
  });

  it('dates are computed in GMT+8', () => {
    const lateUtc = Date.UTC(2026, 10, 23, 17, 30); // 2026-11-24 01:30 GMT+8
    assert.equal(dateStampGmt8(lateUtc), '20261124');
    assert.equal(startOfDayGmt8(lateUtc), Date.UTC(2026, 10, 23, 16));
  });
});
