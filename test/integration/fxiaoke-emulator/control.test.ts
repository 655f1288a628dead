import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { FxiaokeEmulator } from '../../../infra/local/fxiaoke-emulator/api.ts';
import { FX_CODE_DATA_VALIDATION } from '../../../infra/local/fxiaoke-emulator/errors.ts';
import { legacySession, startTestEmulator, testClock } from './helpers.ts';

interface JsonAnswer {
  status: number;
  body: unknown;
}

function field(value: unknown, key: string): unknown {
  assert.ok(typeof value === 'object' && value !== null, `object expected, got ${JSON.stringify(value)}`);
  return Reflect.get(value, key);
}

describe('fxiaoke emulator: control endpoint and edit page', () => {
  let emulator: FxiaokeEmulator;

  const control = async (method: string, path: string, body?: unknown): Promise<JsonAnswer> => {
    const response = await fetch(`${emulator.url}${path}`, {
      method,
      headers: { 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    });
    return { status: response.status, body: await response.json() };
  };

  before(async () => {
    emulator = await startTestEmulator(testClock(), { controlEnabled: true });
  });
  after(() => emulator.close());

  it('GET / serves the edit page', async () => {
    const response = await fetch(`${emulator.url}/`);
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /text\/html/);
    const html = await response.text();
    assert.match(html, /纷享销客模拟器/);
    assert.match(html, /\/__emulator\/edit/);
  });

  it('GET /__emulator/stats reports calls, tokens, pushes and record counts', async () => {
    await legacySession(emulator);
    const { status, body } = await control('GET', '/__emulator/stats');
    assert.equal(status, 200);
    assert.equal(field(field(body, 'calls'), '/cgi/corpAccessToken/get/V2'), 1);
    assert.equal(field(body, 'tokensIssued'), 1);
    assert.equal(field(body, 'tokenCalls'), 1);
    assert.deepEqual(field(body, 'pushes'), { sent: 0, acknowledged: 0, abandoned: 0, pending: 0 });
    assert.equal(field(field(body, 'records'), 'ProductObj'), 5);
  });

  it('POST /__emulator/faults switches faults on and off; a malformed spec is 400', async () => {
    const session = await legacySession(emulator);
    const set = await control('POST', '/__emulator/faults', { systemBusy: { times: 1 } });
    assert.equal(set.status, 200);
    const busy = await session.call('/cgi/crm/v2/object/list', {});
    assert.equal(busy.errorCode, -1);
    assert.equal((await session.call('/cgi/crm/v2/object/list', {})).errorCode, 0);
    assert.equal((await control('POST', '/__emulator/faults', { systemBusy: { times: -1 } })).status, 400);
    assert.equal((await control('POST', '/__emulator/faults', { unknownFault: true })).status, 400);
    assert.equal((await control('POST', '/__emulator/faults', '{nope')).status, 400);
    assert.equal((await control('POST', '/__emulator/faults', {})).status, 200);
  });

  it('POST /__emulator/callbacks replaces the push targets (URLs validated)', async () => {
    assert.equal((await control('POST', '/__emulator/callbacks', { urls: ['not a url'] })).status, 400);
    const set = await control('POST', '/__emulator/callbacks', { urls: ['http://127.0.0.1:9/hook'] });
    assert.deepEqual(field(set.body, 'urls'), ['http://127.0.0.1:9/hook']);
    assert.deepEqual(field((await control('GET', '/__emulator/callbacks')).body, 'urls'), [
      'http://127.0.0.1:9/hook',
    ]);
    await control('POST', '/__emulator/callbacks', { urls: [] });
  });

  it('POST /__emulator/edit creates and updates like a salesperson; validation errors are 400 with the Fxiaoke code', async () => {
    const created = await control('POST', '/__emulator/edit', {
      apiName: 'AccountObj',
      fields: { name: '控制接口客户', account_level: '1' },
    });
    assert.equal(created.status, 200);
    const id = String(field(created.body, 'dataId'));
    const updated = await control('POST', '/__emulator/edit', {
      apiName: 'AccountObj',
      id,
      fields: { tel: '12345' },
    });
    assert.equal(updated.status, 200);
    const record = await control('GET', `/__emulator/records/AccountObj?id=${id}`);
    assert.equal(field(record.body, 'tel'), '12345');
    assert.equal(field(record.body, 'version'), '2');
    const bad = await control('POST', '/__emulator/edit', { apiName: 'AccountObj', fields: { tel: 'x' } });
    assert.equal(bad.status, 400);
    assert.equal(field(bad.body, 'errorCode'), FX_CODE_DATA_VALIDATION);
    assert.equal((await control('POST', '/__emulator/edit', { apiName: 'AccountObj' })).status, 400);
    assert.equal(
      (await control('POST', '/__emulator/edit', { apiName: 'NoSuchObj', fields: {} })).status,
      400,
    );
    assert.equal(
      (await control('GET', '/__emulator/records/AccountObj?id=000000000000000000000000')).status,
      404,
    );
  });

  it('GET/POST /__emulator/records/<apiName> lists and bulk-inserts records', async () => {
    const inserted = await control('POST', '/__emulator/records/ContactObj', {
      records: [{ name: '批量联系人 1' }, { name: '批量联系人 2' }],
    });
    assert.equal(inserted.status, 200);
    const ids = field(inserted.body, 'ids');
    assert.ok(Array.isArray(ids) && ids.length === 2);
    const list = await control('GET', '/__emulator/records/ContactObj');
    assert.ok(Array.isArray(list.body));
    assert.ok(list.body.some((row: unknown) => field(row, '_id') === ids[0]));
    const invalid = await control('POST', '/__emulator/records/ContactObj', { records: [{ mobile: '1' }] });
    assert.equal(invalid.status, 400, 'a row without the required name is refused');
  });

  it('GET/POST /__emulator/objects lists describes and declares custom objects; bad declarations are 400', async () => {
    const listed = await control('GET', '/__emulator/objects');
    const objects = field(listed.body, 'objects');
    assert.ok(Array.isArray(objects));
    const order = objects.find((o: unknown) => field(o, 'api_name') === 'SalesOrderObj');
    assert.deepEqual(field(order, 'detail_api_names'), ['SalesOrderProductObj']);
    const declared = await control('POST', '/__emulator/objects', {
      objects: [
        {
          apiName: 'object_ticket__c',
          displayName: '工单',
          fields: [
            { apiName: 'name', type: 'text', label: '标题', required: true },
            { apiName: 'field_account__c', type: 'object_reference', label: '客户', target: 'AccountObj' },
          ],
        },
      ],
    });
    assert.equal(declared.status, 200);
    assert.deepEqual(field(declared.body, 'declared'), ['object_ticket__c']);
    const session = await legacySession(emulator);
    const created = await session.call('/cgi/crm/custom/v2/data/create', {
      data: { object_data: { dataObjectApiName: 'object_ticket__c', name: '安装调试' } },
    });
    assert.equal(created.errorCode, 0);
    const badTarget = await control('POST', '/__emulator/objects', {
      objects: [
        {
          apiName: 'object_bad__c',
          displayName: '坏',
          fields: [
            { apiName: 'name', type: 'text', label: 'n' },
            { apiName: 'field_x__c', type: 'object_reference', label: 'x', target: 'Missing' },
          ],
        },
      ],
    });
    assert.equal(badTarget.status, 400);
    const noName = await control('POST', '/__emulator/objects', {
      objects: [
        {
          apiName: 'object_noname__c',
          displayName: 'x',
          fields: [{ apiName: 'a', type: 'text', label: 'a' }],
        },
      ],
    });
    assert.equal(noName.status, 400);
    const redeclarePreset = await control('POST', '/__emulator/objects', {
      objects: [
        { apiName: 'AccountObj', displayName: 'x', fields: [{ apiName: 'name', type: 'text', label: 'n' }] },
      ],
    });
    assert.equal(redeclarePreset.status, 400);
    // A refused declaration leaves the registry as it was.
    assert.equal(
      (await session.call('/cgi/crm/v2/object/describe', { data: { apiName: 'AccountObj' } })).errorCode,
      0,
    );
  });

  it('GET /__emulator/requests lists recent API calls; unknown control paths are 404', async () => {
    const recent = await control('GET', '/__emulator/requests');
    assert.ok(Array.isArray(recent.body) && recent.body.length > 0);
    assert.ok(recent.body.every((entry: unknown) => typeof field(entry, 'path') === 'string'));
    assert.equal((await control('GET', '/__emulator/nothing')).status, 404);
  });

  it('POST /__emulator/reset drops everything and re-seeds', async () => {
    await emulator.insertRecords('AccountObj', [{ name: '将被清空' }]);
    const reset = await control('POST', '/__emulator/reset');
    assert.equal(reset.status, 200);
    assert.deepEqual((await emulator.listRecords('ProductObj')).map((p) => p.product_code).sort(), [
      'WL0001',
      'WL0002',
      'WL0003',
      'WL0004',
      'WL0005',
    ]);
    assert.equal(emulator.stats().records.AccountObj, 3);
  });
});
