import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { FxiaokeEmulator } from '../../../infra/local/fxiaoke-emulator/api.ts';
import { InvalidInputError } from '../../../lib/errors.ts';
import type { FxiaokeClient, QueryCursor } from '../../../lib/fxiaoke/client.ts';
import { FxiaokeError } from '../../../lib/fxiaoke/errors.ts';
import { readCrmFirstId, readCrmNumber } from '../../../lib/fxiaoke/records.ts';
import { callsTo, clientFor, type ManualClock, manualClock, startEmulator } from './emulator-harness.ts';

const QUERY = '/cgi/crm/v2/data/query';

describe('Fxiaoke client CRM data against the emulator', () => {
  let clock: ManualClock;
  let emulator: FxiaokeEmulator;
  let client: FxiaokeClient;

  before(async () => {
    clock = manualClock();
    emulator = await startEmulator(clock);
    client = clientFor(emulator, 'legacy', clock);
  });
  after(async () => {
    await client.close();
    await emulator.close();
  });

  it('create → get → update (workflow off) → invalid on a preset object', async () => {
    const { dataId } = await client.create('AccountObj', {
      name: '杭州示例科技有限公司',
      tel: '0571-88888888',
    });
    const created = await client.get('AccountObj', dataId);
    assert.equal(created.name, '杭州示例科技有限公司');
    assert.equal(created.life_status, 'normal');
    assert.ok(Array.isArray(created.owner));
    assert.equal(typeof created.version, 'number');

    clock.advance(1_000);
    await client.update('AccountObj', dataId, { field_erp_no__c: 'C-0001' }, { triggerWorkFlow: false });
    const updated = await client.get('AccountObj', dataId);
    assert.equal(updated.field_erp_no__c, 'C-0001');
    assert.equal(updated.tel, '0571-88888888', 'partial update keeps other fields');
    assert.ok((updated.version ?? 0) > (created.version ?? 0), 'version grows with every write');
    assert.ok((updated.last_modified_time ?? 0) > (created.last_modified_time ?? 0));

    await client.invalid('AccountObj', dataId);
    const afterInvalid = await client.get('AccountObj', dataId).catch((error: unknown) => error);
    if (afterInvalid instanceof FxiaokeError) {
      assert.equal(afterInvalid.kind, 'not-found');
    } else {
      assert.ok(afterInvalid && typeof afterInvalid === 'object' && 'life_status' in afterInvalid);
      assert.equal(afterInvalid.life_status, 'invalid');
    }
  });

  it('a missing record is not-found; a validation refusal is business with the remote text verbatim', async () => {
    await assert.rejects(client.get('AccountObj', '0000000000000000deadbeef'), { kind: 'not-found' });
    const refusal = await client.create('AccountObj', { tel: '1' }).catch((error: unknown) => error);
    assert.ok(refusal instanceof FxiaokeError);
    assert.equal(refusal.kind, 'business');
    assert.ok(refusal.errorMessage && refusal.errorMessage.length > 0);
    assert.ok(refusal.message.includes(refusal.errorMessage), 'the remote message is kept verbatim');
  });

  it('custom objects go through /cgi/crm/custom/v2/data/…', async () => {
    emulator.resetStats();
    const { dataId } = await client.create('object_erp_sync_log__c', {
      name: '同步日志 1',
      field_status__c: 'success',
    });
    await client.update('object_erp_sync_log__c', dataId, { field_message__c: '完成' });
    const record = await client.get('object_erp_sync_log__c', dataId);
    assert.equal(record.field_message__c, '完成');
    const page = await client.query('object_erp_sync_log__c', {
      filters: [{ field: 'field_status__c', operator: 'EQ', values: ['success'] }],
    });
    assert.deepEqual(
      page.records.map((r) => r._id),
      [dataId],
    );
    const calls = emulator.stats().calls;
    for (const action of ['create', 'update', 'get', 'query']) {
      assert.equal(calls[`/cgi/crm/custom/v2/data/${action}`], 1, action);
      assert.equal(calls[`/cgi/crm/v2/data/${action}`] ?? 0, 0, action);
    }
  });

  it('describe returns typed field metadata', async () => {
    const described = await client.describe('AccountObj');
    assert.equal(described.apiName, 'AccountObj');
    assert.equal(described.fields.name?.type, 'text');
    assert.ok(described.fields.account_level?.options?.some((o) => o.value === '1'));
  });

  describe('master + detail rows (SalesOrderObj + SalesOrderProductObj)', () => {
    const orderIds: string[] = [];
    let productIds: string[] = [];

    before(async () => {
      const { dataId: accountId } = await client.create('AccountObj', { name: '订单客户' });
      productIds = await emulator.insertRecords('ProductObj', [
        { name: '螺丝 M3', price: '0.50' },
        { name: '螺母 M3', price: '0.20' },
      ]);
      for (let i = 0; i < 3; i++) {
        const { dataId } = await client.create(
          'SalesOrderObj',
          { account_id: accountId },
          {
            details: {
              SalesOrderProductObj: productIds.map((productId, line) => ({
                product_id: productId,
                quantity: String(10 * (i + 1) + line),
                sales_price: '2.00',
              })),
            },
            triggerWorkFlow: false,
          },
        );
        orderIds.push(dataId);
      }
    });

    it('creates a master with its detail rows and reads them back by the master lookup', async () => {
      const [first] = orderIds;
      assert.ok(first);
      const order = await client.getWithDetails('SalesOrderObj', first);
      assert.equal(order.record._id, first);
      const rows = order.details.SalesOrderProductObj ?? [];
      assert.equal(rows.length, 2);
      for (const row of rows) assert.equal(readCrmFirstId(row, 'order_id'), first);
      assert.deepEqual(
        rows.map((r) => readCrmNumber(r, 'quantity')).sort((a, b) => (a ?? 0) - (b ?? 0)),
        [10, 11],
      );
    });

    it('updates detail rows with the master', async () => {
      const [first] = orderIds;
      assert.ok(first);
      const before = await client.getWithDetails('SalesOrderObj', first);
      const rows = before.details.SalesOrderProductObj ?? [];
      await client.update(
        'SalesOrderObj',
        first,
        { remark: '改数量' },
        { details: { SalesOrderProductObj: rows.map((r) => ({ _id: r._id, quantity: '99' })) } },
      );
      const afterUpdate = await client.getWithDetails('SalesOrderObj', first);
      assert.equal(afterUpdate.record.remark, '改数量');
      assert.deepEqual(
        (afterUpdate.details.SalesOrderProductObj ?? []).map((r) => readCrmNumber(r, 'quantity')),
        [99, 99],
      );
    });

    it('reads many masters with their details in a handful of calls', async () => {
      emulator.resetStats();
      const all = await client.getManyWithDetails('SalesOrderObj', [...orderIds, 'ffffffffffffffffffffffff']);
      assert.equal(all.size, 3);
      for (const id of orderIds) assert.equal(all.get(id)?.details.SalesOrderProductObj?.length, 2);
      assert.equal(callsTo(emulator, QUERY), 2, 'one query for the masters, one for all their rows');
    });
  });

  describe('batched re-reads and paging', () => {
    let ids: string[] = [];

    before(async () => {
      const records = Array.from({ length: 10_150 }, (_, i) => ({ name: `批量客户 ${i}` }));
      ids = [];
      for (let i = 0; i < records.length; i += 2_000) {
        ids.push(...(await emulator.insertRecords('AccountObj', records.slice(i, i + 2_000))));
      }
    });

    it('getMany turns 1 000 ids (duplicates included) into 10 queries, and leaves out missing ones', async () => {
      emulator.resetStats();
      const wanted = ids.slice(0, 1_000);
      const found = await client.getMany('AccountObj', [...wanted, ...wanted.slice(0, 10)]);
      assert.equal(found.size, 1_000);
      assert.equal(found.get(wanted[999] ?? '')?.name, '批量客户 999');
      assert.equal(callsTo(emulator, QUERY), 10);
      assert.equal(callsTo(emulator, '/cgi/crm/v2/data/get'), 0);

      const partial = await client.getMany('AccountObj', [wanted[0] ?? '', 'ffffffffffffffffffffffff']);
      assert.deepEqual([...partial.keys()], [wanted[0]]);
    });

    it('offset paging stops at 10 000 with a clear error; the _id keyset reads every record past it', async () => {
      await assert.rejects(client.query('AccountObj', { limit: 100, offset: 10_100 }), InvalidInputError);

      emulator.resetStats();
      const seen = new Set<string>();
      let previous = '';
      for await (const record of client.queryAll('AccountObj', {
        filters: [{ field: 'name', operator: 'STARTWITH', values: ['批量客户'] }],
        fieldProjection: ['name'],
      })) {
        assert.ok(record._id > previous, 'ascending _id, no repeats');
        previous = record._id;
        seen.add(record._id);
      }
      assert.equal(seen.size, 10_150);
      for (const id of ids) assert.ok(seen.has(id));
      assert.equal(callsTo(emulator, QUERY), 102, '101 full pages + 1 short page');
    });

    it('queryPages can stop and resume from a cursor', async () => {
      const pages = client.queryPages('AccountObj', { pageSize: 50 });
      const first = await pages.next();
      await pages.return();
      assert.ok(!first.done);
      const cursor = first.value.cursor;
      const resumed = client.queryPages('AccountObj', { pageSize: 50, after: cursor });
      const second = await resumed.next();
      await resumed.return();
      assert.ok(!second.done);
      assert.ok((second.value.records[0]?._id ?? '') > (first.value.records.at(-1)?._id ?? ''));
    });
  });

  describe('polling by last_modified_time', () => {
    it('returns every changed record exactly once, in (time, _id) order, even with >100 changes in one ms', async () => {
      const since = clock.now() + 1;
      clock.advance(60_000);
      const expected: string[] = [];
      // 250 records changed in the same millisecond, then 130 spread over time with small ties
      expected.push(
        ...(await emulator.insertRecords(
          'ContactObj',
          Array.from({ length: 250 }, (_, i) => ({ name: `同时 ${i}` })),
        )),
      );
      for (let i = 0; i < 130; i++) {
        if (i % 3 === 0) clock.advance(1);
        expected.push(...(await emulator.insertRecords('ContactObj', [{ name: `逐个 ${i}` }])));
      }
      emulator.resetStats();
      const seen: { id: string; time: number }[] = [];
      let lastCursor: QueryCursor | undefined;
      for await (const page of client.queryPages('ContactObj', {
        keyset: 'modified',
        after: { keyset: 'modified', afterModifiedMs: since, afterId: '' },
      })) {
        for (const record of page.records)
          seen.push({ id: record._id, time: record.last_modified_time ?? -1 });
        lastCursor = page.cursor;
      }
      assert.equal(seen.length, 380);
      assert.equal(new Set(seen.map((s) => s.id)).size, 380, 'no duplicates');
      assert.deepEqual(new Set(seen.map((s) => s.id)), new Set(expected));
      for (let i = 1; i < seen.length; i++) {
        const a = seen[i - 1];
        const b = seen[i];
        assert.ok(a && b && (a.time < b.time || (a.time === b.time && a.id < b.id)), `order at ${i}`);
      }
      assert.ok(callsTo(emulator, QUERY) <= 10, `few calls (${callsTo(emulator, QUERY)})`);

      // polling again from the last cursor finds nothing new
      assert.ok(lastCursor);
      const again: string[] = [];
      for await (const record of client.queryAll('ContactObj', { keyset: 'modified', after: lastCursor })) {
        again.push(record._id);
      }
      assert.equal(again.length, 0);
    });
  });
});
