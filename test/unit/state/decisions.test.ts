import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidInputError } from '../../../lib/errors.ts';
import { compareWatermarks, watermarkIdKey } from '../../../lib/state/cursors.ts';
import { classifyChange, counterpartId, type Link, primaryKey } from '../../../lib/state/links.ts';

function link(overrides: Partial<Link> = {}): Link {
  return {
    origin: 'crm',
    apiName: 'AccountObj',
    formId: 'BD_Customer',
    crmId: '5f9cd4e6e4400e0001217faa',
    erpId: '100234',
    erpNumber: 'CUST0042',
    state: 'linked',
    version: 5,
    modifiedAtMs: 1_700_000_000_000,
    contentHash: 'h5',
    claim: undefined,
    createdAtMs: 1,
    updatedAtMs: 2,
    syncedAtMs: 2,
    syncCount: 3,
    lastCorrelationId: undefined,
    lastMessageId: undefined,
    ...overrides,
  };
}

describe('classifyChange', () => {
  it('creates when nothing is linked, and asks for a lookup first when a previous creator left a pending marker', () => {
    assert.deepEqual(classifyChange(undefined, { version: 1 }), { action: 'create', lookupFirst: false });
    assert.deepEqual(
      classifyChange(link({ state: 'pending', erpId: undefined, version: undefined }), { version: 1 }),
      {
        action: 'create',
        lookupFirst: true,
      },
    );
  });

  it('skips older versions as stale and the same version as duplicate', () => {
    assert.deepEqual(classifyChange(link(), { version: 4 }), { action: 'skip', reason: 'stale' });
    assert.deepEqual(classifyChange(link(), { version: 5, contentHash: 'other' }), {
      action: 'skip',
      reason: 'duplicate',
    });
  });

  it('skips a newer version whose mapped content is unchanged, and updates otherwise', () => {
    assert.deepEqual(classifyChange(link(), { version: 6, contentHash: 'h5' }), {
      action: 'skip',
      reason: 'unchanged',
    });
    assert.deepEqual(classifyChange(link(), { version: 6, contentHash: 'h6' }), { action: 'update' });
    assert.deepEqual(classifyChange(link(), { version: 6 }), { action: 'update' });
  });

  it('force re-sends the same version and unchanged content, but never an older version', () => {
    assert.deepEqual(classifyChange(link(), { version: 5, contentHash: 'h5', force: true }), {
      action: 'update',
    });
    assert.deepEqual(classifyChange(link(), { version: 4, force: true }), {
      action: 'skip',
      reason: 'stale',
    });
  });

  it('treats the counterpart by origin: ERP-origin links point at a CRM id', () => {
    const erpLink = link({ origin: 'erp', crmId: undefined, erpId: '9', state: 'linked' });
    assert.equal(counterpartId(erpLink), undefined);
    assert.deepEqual(classifyChange(erpLink, { version: 9 }), { action: 'create', lookupFirst: true });
  });
});

describe('primaryKey', () => {
  it('keys a link by its origin record and the other side type', () => {
    assert.deepEqual(
      primaryKey({ origin: 'crm', apiName: 'AccountObj', crmId: 'abc', formId: 'BD_Customer' }),
      {
        pk: 'crm#AccountObj#abc',
        sk: 'BD_Customer',
      },
    );
    assert.deepEqual(
      primaryKey({
        origin: 'erp',
        formId: 'SAL_DELIVERYNOTICE',
        erpId: '100234',
        apiName: 'DeliveryNoteObj',
      }),
      { pk: 'erp#SAL_DELIVERYNOTICE#100234', sk: 'DeliveryNoteObj' },
    );
  });

  it('refuses type names with separators and empty ids', () => {
    assert.throws(
      () => primaryKey({ origin: 'crm', apiName: 'A#B', crmId: 'x', formId: 'F' }),
      InvalidInputError,
    );
    assert.throws(
      () => primaryKey({ origin: 'crm', apiName: 'A', crmId: 'x', formId: '' }),
      InvalidInputError,
    );
    assert.throws(
      () => primaryKey({ origin: 'erp', apiName: 'A', erpId: '', formId: 'F' }),
      InvalidInputError,
    );
  });
});

describe('watermarks', () => {
  it('orders by modify time, then by id, numeric ids by value', () => {
    assert.ok(compareWatermarks({ modifiedAtMs: 1, id: '99' }, { modifiedAtMs: 2, id: '1' }) < 0);
    assert.ok(compareWatermarks({ modifiedAtMs: 2, id: '9' }, { modifiedAtMs: 2, id: '10' }) < 0);
    assert.ok(compareWatermarks({ modifiedAtMs: 2, id: 'b' }, { modifiedAtMs: 2, id: 'a' }) > 0);
    assert.equal(compareWatermarks({ modifiedAtMs: 2, id: '7' }, { modifiedAtMs: 2, id: '7' }), 0);
  });

  it('encodes ids so that text order equals id order (used inside the conditional write)', () => {
    const ids = ['10', '9', '100', '5f9cd4e6', '0', '18446744073709551615'];
    const byKey = [...ids].sort((a, b) => (watermarkIdKey(a) < watermarkIdKey(b) ? -1 : 1));
    assert.deepEqual(byKey, ['0', '9', '10', '100', '18446744073709551615', '5f9cd4e6']);
  });
});
