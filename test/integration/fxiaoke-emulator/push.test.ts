import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import type { FxiaokeEmulator } from '../../../infra/local/fxiaoke-emulator/api.ts';
import { createLogger } from '../../../lib/log.ts';
import {
  detailIdsOf,
  IDENTITY,
  type LegacySession,
  legacySession,
  startTestEmulator,
  type TestClock,
  testClock,
} from './helpers.ts';
import { type PushReceiver, startPushReceiver } from './push-receiver.ts';

const V2 = '/cgi/crm/v2/data';

describe('fxiaoke emulator: change push', () => {
  let clock: TestClock;
  let emulator: FxiaokeEmulator;
  let receiver: PushReceiver;
  let session: LegacySession;

  before(async () => {
    clock = testClock();
    receiver = await startPushReceiver({
      aesKey: IDENTITY.aesKey,
      enterpriseAccount: IDENTITY.enterpriseAccount,
      now: clock.now,
    });
    emulator = await startTestEmulator(clock, {
      callbackUrls: [receiver.url],
      pushRetryDelaysMs: [1, 1],
      pushTimeoutMs: 300,
      tenantId: 590163,
    });
    session = await legacySession(emulator);
  });
  after(async () => {
    await emulator.close();
    await receiver.close();
  });
  beforeEach(async () => {
    await emulator.pushesSettled();
    receiver.received.length = 0;
    receiver.rejected.length = 0;
    receiver.script = [];
    receiver.fallback = 'encrypted-success';
    emulator.setCallbackUrls([receiver.url]);
    emulator.resetStats();
  });

  const accountId = async (): Promise<string> => String((await emulator.listRecords('AccountObj'))[0]?._id);

  it('a salesperson’s edit reaches the receiver as a signed, encrypted update event', async () => {
    const id = await accountId();
    await emulator.edit({ apiName: 'AccountObj', id, fields: { tel: '010-99999999' } });
    await emulator.pushesSettled();
    assert.deepEqual(receiver.rejected, []);
    assert.equal(receiver.received.length, 1);
    const [push] = receiver.received;
    assert.ok(push);
    assert.equal(push.event.apiName, 'AccountObj');
    assert.equal(push.event.dataId, id);
    assert.equal(push.event.eventType, 'update');
    assert.equal(push.event.tenantId, '590163');
    assert.equal(push.event.retryTimes, 0);
    assert.equal(push.event.changedAtMs, clock.now());
    assert.equal('retryTimes' in push.body, false, 'no retryTimes on the first delivery');
    assert.equal(typeof push.body.timestamp, 'number');
    assert.match(push.event.messageId, /^[0-9A-F]{33}$/);
    assert.match(String(push.body.nonce), /^[A-Za-z0-9]{16}$/);
    assert.equal(push.body.enterpriseAccount, IDENTITY.enterpriseAccount);
    assert.deepEqual(emulator.stats().pushes, { sent: 1, acknowledged: 1, abandoned: 0, pending: 0 });
    const stored = await emulator.getRecord('AccountObj', id);
    assert.equal(stored?.tel, '010-99999999');
    assert.deepEqual(stored?.last_modified_by, ['1001'], 'edited by the sales rep');
  });

  it('creates push "add"; API writes push unless triggerWorkFlow is false', async () => {
    const { dataId } = await emulator.edit({ apiName: 'AccountObj', fields: { name: '新客户（界面新建）' } });
    const viaApi = await session.call(`${V2}/create`, {
      data: { object_data: { dataObjectApiName: 'AccountObj', name: '新客户（接口新建）' } },
    });
    await emulator.pushesSettled();
    // Deliveries run concurrently: compare without order.
    assert.deepEqual(
      receiver.received.map((p) => `${p.event.eventType}:${p.event.dataId}`).sort(),
      [`add:${dataId}`, `add:${String(viaApi.dataId)}`].sort(),
    );
    receiver.received.length = 0;

    const silent = await session.call(`${V2}/update`, {
      triggerWorkFlow: false,
      data: { object_data: { dataObjectApiName: 'AccountObj', _id: dataId, field_erp_no__c: 'CUST0100' } },
    });
    assert.equal(silent.errorCode, 0);
    const silentCreate = await session.call(`${V2}/create`, {
      triggerWorkFlow: false,
      data: { object_data: { dataObjectApiName: 'AccountObj', name: '回写创建' } },
    });
    assert.equal(silentCreate.errorCode, 0);
    await emulator.pushesSettled();
    assert.equal(
      receiver.received.length,
      0,
      'triggerWorkFlow: false sends no push (no echo of our write-back)',
    );
    assert.equal(emulator.stats().pushes.sent, 2, 'only the two creates above were pushed');

    await session.call(`${V2}/update`, {
      triggerWorkFlow: true,
      data: { object_data: { dataObjectApiName: 'AccountObj', _id: dataId, remark: '备注' } },
    });
    await emulator.pushesSettled();
    assert.deepEqual(
      receiver.received.map((p) => p.event.eventType),
      ['update'],
    );
  });

  it('detail-row changes push their master; invalid pushes "invalid"', async () => {
    const [product] = await emulator.listRecords('ProductObj');
    const created = await session.call(`${V2}/create`, {
      triggerWorkFlow: false,
      includeDetailIds: true,
      data: {
        object_data: { dataObjectApiName: 'SalesOrderObj', account_id: await accountId() },
        details: { SalesOrderProductObj: [{ product_id: product?._id, quantity: '1', sales_price: '9' }] },
      },
    });
    const orderId = String(created.dataId);
    const [lineId] = detailIdsOf(created, 'SalesOrderProductObj');
    await session.call(`${V2}/update`, {
      data: { object_data: { dataObjectApiName: 'SalesOrderProductObj', _id: lineId, quantity: '3' } },
    });
    await emulator.edit({
      apiName: 'SalesOrderObj',
      id: orderId,
      fields: { field_ship_request__c: true },
      details: { SalesOrderProductObj: [{ _id: lineId, quantity: '4' }] },
    });
    await session.call(`${V2}/invalid`, {
      data: { object_data_id: orderId, dataObjectApiName: 'SalesOrderObj' },
    });
    await emulator.pushesSettled();
    assert.deepEqual(
      receiver.received.map((p) => `${p.event.apiName}:${p.event.dataId}:${p.event.eventType}`).sort(),
      [
        `SalesOrderObj:${orderId}:invalid`,
        `SalesOrderObj:${orderId}:update`,
        `SalesOrderObj:${orderId}:update`,
      ],
    );
    const order = await emulator.getRecord('SalesOrderObj', orderId);
    assert.equal(order?.order_amount, '36.00', 'the master reflects its lines');
  });

  it('redelivers with retryTimes 1, 2 and the same messageId until the receiver answers success', async () => {
    receiver.script = ['http-500', 'wrong-body'];
    await emulator.edit({ apiName: 'AccountObj', id: await accountId(), fields: { remark: '重试测试' } });
    await emulator.pushesSettled();
    assert.deepEqual(receiver.rejected, []);
    assert.equal(receiver.received.length, 3);
    assert.deepEqual(
      receiver.received.map((p) => p.body.retryTimes),
      [undefined, 1, 2],
    );
    assert.equal(new Set(receiver.received.map((p) => p.event.messageId)).size, 1, 'same messageId');
    assert.equal(new Set(receiver.received.map((p) => p.body.nonce)).size, 3, 'fresh nonce per delivery');
    assert.deepEqual(emulator.stats().pushes, { sent: 3, acknowledged: 1, abandoned: 0, pending: 0 });
  });

  it('gives up after the last retry delay and counts the push as abandoned', async () => {
    receiver.fallback = 'http-500';
    await emulator.edit({ apiName: 'AccountObj', id: await accountId(), fields: { remark: '放弃测试' } });
    await emulator.pushesSettled();
    assert.equal(receiver.received.length, 3, 'first delivery + one per retry delay');
    assert.deepEqual(emulator.stats().pushes, { sent: 3, acknowledged: 0, abandoned: 1, pending: 0 });
  });

  it('accepts a plain "success" reply, and treats no answer within the timeout as a failure', async () => {
    receiver.script = ['plain-success'];
    await emulator.edit({ apiName: 'AccountObj', id: await accountId(), fields: { remark: 'plain' } });
    await emulator.pushesSettled();
    assert.equal(receiver.received.length, 1);
    receiver.received.length = 0;

    receiver.script = ['no-answer'];
    await emulator.edit({ apiName: 'AccountObj', id: await accountId(), fields: { remark: 'timeout' } });
    assert.equal(emulator.stats().pushes.pending, 1, 'the edit returned before the push was delivered');
    await emulator.pushesSettled();
    assert.deepEqual(
      receiver.received.map((p) => p.body.retryTimes),
      [undefined, 1],
    );
    assert.equal(emulator.stats().pushes.acknowledged, 2);
  });

  it('pushes to every callback URL, each with its own messageId', async () => {
    const second = await startPushReceiver({
      aesKey: IDENTITY.aesKey,
      enterpriseAccount: IDENTITY.enterpriseAccount,
      now: clock.now,
    });
    try {
      emulator.setCallbackUrls([receiver.url, second.url]);
      await emulator.edit({
        apiName: 'AccountObj',
        id: await accountId(),
        fields: { remark: 'two targets' },
      });
      await emulator.pushesSettled();
      assert.equal(receiver.received.length, 1);
      assert.equal(second.received.length, 1);
      assert.notEqual(receiver.received[0]?.event.messageId, second.received[0]?.event.messageId);
    } finally {
      await second.close();
    }
  });

  it('delivers many pushes with bounded concurrency and settles', async () => {
    const ids = await emulator.insertRecords(
      'AccountObj',
      Array.from({ length: 30 }, (_, i) => ({ name: `批量客户 ${i}` })),
    );
    assert.equal(emulator.stats().pushes.sent, 0, 'bulk inserts do not push');
    await Promise.all(
      ids.map((id) => emulator.edit({ apiName: 'AccountObj', id, fields: { remark: 'bulk' } })),
    );
    await emulator.pushesSettled();
    assert.equal(receiver.received.length, 30);
    assert.deepEqual(new Set(receiver.received.map((p) => p.event.dataId)), new Set(ids));
  });

  it('an import is created whole before its pushes start (the acknowledgement clock times the receiver)', async () => {
    const imported = emulator.importRecords({
      apiName: 'AccountObj',
      records: Array.from({ length: 20 }, (_, i) => ({ fields: { name: `导入客户 ${i}` } })),
    });
    // The import ran to its end in this turn; no delivery may have started during it, or its timing
    // would include the import's own work on this thread.
    assert.equal(emulator.stats().pushes.sent, 0);
    const { ids } = await imported;
    await emulator.pushesSettled();
    assert.deepEqual(new Set(receiver.received.map((p) => p.event.dataId)), new Set(ids));
    assert.equal(emulator.stats().pushes.acknowledged, 20);
  });

  /** An emulator whose callback is `url`, logging into `events`, retrying once after a minute. */
  const emulatorCalling = async (url: string, events: string[]) =>
    await startTestEmulator(clock, {
      callbackUrls: [url],
      pushRetryDelaysMs: [60_000],
      pushTimeoutMs: 300,
      tenantId: 590163,
      logger: createLogger({ level: 'debug', write: (line) => events.push(String(JSON.parse(line).event)) }),
    });
  const movedPushReachesReceiver = async (moved: FxiaokeEmulator, id: string) => {
    moved.setCallbackUrls([receiver.url]);
    await moved.pushesSettled();
    const delivered = receiver.received.filter((p) => p.event.dataId === id);
    assert.equal(delivered.length, 1);
    assert.equal(delivered[0]?.event.retryTimes, 1, 'a redelivery of the failed push');
    assert.deepEqual(moved.stats().pushes, { sent: 2, acknowledged: 1, abandoned: 0, pending: 0 });
  };

  it('a push waiting for its retry follows a moved callback URL at once (a restarted stack listens elsewhere)', async () => {
    // An address nothing listens on: the first delivery is refused and its retry would wait a minute.
    const gone = createServer();
    await new Promise<void>((resolve) => gone.listen(0, '127.0.0.1', resolve));
    const { port } = gone.address() as AddressInfo;
    await new Promise<void>((resolve) => gone.close(() => resolve()));
    const events: string[] = [];
    const moved = await emulatorCalling(`http://127.0.0.1:${port}/webhooks/fxiaoke`, events);
    try {
      const id = String((await moved.listRecords('AccountObj'))[0]?._id);
      await moved.edit({ apiName: 'AccountObj', id, fields: { remark: '换了地址 moved' } });
      await until(() => events.includes('fxiaoke_emulator.push_failed_will_retry'));
      await movedPushReachesReceiver(moved, id);
    } finally {
      await moved.close();
    }
  });

  it('a push in flight to the old callback URL goes to the new one when it fails', async () => {
    // Accepts the connection and never answers: the delivery stays in flight until its 300 ms timeout.
    const silent = createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as AddressInfo;
    const events: string[] = [];
    const moved = await emulatorCalling(`http://127.0.0.1:${port}/webhooks/fxiaoke`, events);
    try {
      const id = String((await moved.listRecords('AccountObj'))[0]?._id);
      await moved.edit({ apiName: 'AccountObj', id, fields: { remark: '途中换了地址 moved in flight' } });
      await until(() => moved.stats().pushes.sent === 1);
      assert.ok(!events.includes('fxiaoke_emulator.push_failed_will_retry'), 'still in flight');
      await movedPushReachesReceiver(moved, id);
      assert.ok(events.includes('fxiaoke_emulator.push_failed_readdressed'));
    } finally {
      await moved.close();
      silent.closeAllConnections();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });
});

/** Poll a condition every 5 ms (at most 5 s). */
async function until(condition: () => boolean): Promise<void> {
  for (let waited = 0; !condition(); waited += 5) {
    if (waited > 5_000) throw new Error('condition not met within 5 s');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
