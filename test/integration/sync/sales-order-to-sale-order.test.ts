/**
 * Flows 2 and 3 end to end: CRM sales orders → K3 sales orders (customer dependency resolved in the flow,
 * materials resolved, audited-order updates), and the push to a delivery notice once the CRM order requests
 * delivery — each order pushed at most once, whatever the redeliveries and lost responses.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { crmLinkKey } from '../../../lib/sync/crm-to-erp.ts';
import { deliveryNoticeMessage } from '../../../lib/sync/messages.ts';
import { exampleConfigData, pushBody, SyncStack } from './harness.ts';

describe('sales-order-to-sale-order and sale-order-to-delivery-notice', () => {
  let stack: SyncStack;
  let products: { id: string; code: string }[];

  before(async () => {
    stack = await SyncStack.start();
    products = (await stack.fx.listRecords('ProductObj')).map((p) => ({
      id: String(p._id),
      code: String(p.product_code),
    }));
  });
  after(async () => {
    await stack?.close();
  });

  const product = (code: string) => {
    const found = products.find((p) => p.code === code);
    assert.ok(found, `product ${code} is seeded`);
    return found.id;
  };

  async function newAccount(name: string): Promise<string> {
    const ids = await stack.fx.insertRecords('AccountObj', [{ name, account_level: '2' }]);
    const [id] = ids;
    assert.ok(id);
    return id;
  }

  async function newOrder(accountId: string, lines: { code: string; quantity: number; price: number }[]) {
    return await stack.fx.edit({
      apiName: 'SalesOrderObj',
      fields: { account_id: accountId, remark: '集成测试订单' },
      details: {
        SalesOrderProductObj: lines.map((line) => ({
          product_id: product(line.code),
          quantity: String(line.quantity),
          sales_price: line.price.toFixed(2),
        })),
      },
    });
  }

  async function erpOrder(crmId: string) {
    return await stack.k3Rows(
      'SAL_SaleOrder',
      ['FID', 'FBillNo', 'FDocumentStatus', 'FCustId.FNumber', 'FMaterialId.FNumber', 'FQty'],
      `F_FXK_CrmId = '${crmId}'`,
    );
  }

  /** Delivery notices made from an order (one row per notice; the query answers one per entry). */
  async function notices(billNo: string) {
    const rows = await stack.k3Rows(
      'SAL_DELIVERYNOTICE',
      ['FID', 'FBillNo', 'FDocumentStatus'],
      `FSrcBillNo = '${billNo}'`,
    );
    return [...new Map(rows.map((row) => [row[0], row])).values()];
  }

  it('re-reads an order’s products only when no copy is as new as the events the read serves (Fxiaoke budget)', async () => {
    const runtime = await stack.runtime();
    const accountId = await newAccount('产品快照复用测试有限公司');
    const lines = [
      { code: 'WL0001', quantity: 1, price: 10 },
      { code: 'WL0002', quantity: 2, price: 20 },
    ];
    const first = await newOrder(accountId, lines);
    const second = await newOrder(accountId, lines);
    const third = await newOrder(accountId, lines);
    const receivedAtMs = Date.now();
    // Their pushes (sent asynchronously) become pending reads: take them, as another worker would, so that
    // each read below is its own.
    const orderIds = new Set([first.dataId, second.dataId, third.dataId]);
    const claimed = new Set<string>();
    for (let i = 0; i < 100 && claimed.size < orderIds.size; i += 1) {
      const pending = await runtime.state.inbox.listPendingReads('SalesOrderObj', { limit: 100, sinceMs: 0 });
      for (const entry of pending) {
        if (!orderIds.has(entry.dataId)) continue;
        await runtime.state.inbox.claimPendingRead(entry.messageId);
        claimed.add(entry.dataId);
      }
      if (claimed.size < orderIds.size) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.equal(claimed.size, 3, 'the three pushes arrived');
    const queries = () => stack.fx.stats().calls['/cgi/crm/v2/data/query'] ?? 0;
    const reader = runtime.reader();

    let before = queries();
    await reader.read('SalesOrderObj', [{ id: first.dataId, notBeforeMs: receivedAtMs }]);
    assert.equal(queries() - before, 3, 'the order, its lines, their products');

    before = queries();
    const read = await reader.read('SalesOrderObj', [{ id: second.dataId, notBeforeMs: receivedAtMs }]);
    assert.equal(read.get(second.dataId)?.found, true);
    assert.equal(queries() - before, 2, 'the products fetched since the event was received are reused');

    await new Promise((resolve) => setTimeout(resolve, 5));
    before = queries();
    await reader.read('SalesOrderObj', [{ id: third.dataId, notBeforeMs: Date.now() }]);
    assert.equal(queries() - before, 3, 'an event newer than those copies has its products read again');
  });

  it('an order whose customer is not in the ERP yet: the customer is created first, then the audited order', async () => {
    const accountId = await newAccount('青岛海滨重工有限公司');
    const { dataId } = await newOrder(accountId, [
      { code: 'WL0001', quantity: 10, price: 35 },
      { code: 'WL0002', quantity: 4, price: 12.5 },
    ]);
    await stack.settle();

    const customers = await stack.k3Rows(
      'BD_Customer',
      ['FNumber', 'FUseOrgId.FNumber'],
      `F_FXK_CrmId = '${accountId}'`,
    );
    const customerNumber = customers.find((row) => row[1] === '100')?.[0];
    assert.ok(customerNumber, 'the customer was created by the order flow');
    const rows = await erpOrder(dataId);
    assert.equal(new Set(rows.map((row) => row[0])).size, 1, 'one ERP order');
    assert.deepEqual(
      rows.map((row) => [row[4], row[5]]),
      [
        ['WL0001', 10],
        ['WL0002', 4],
      ],
    );
    assert.equal(rows[0]?.[2], 'C', 'audited');
    assert.equal(rows[0]?.[3], customerNumber, 'for the new customer');
    const billNo = String(rows[0]?.[1]);
    assert.equal((await stack.fx.getRecord('SalesOrderObj', dataId))?.field_erp_bill_no__c, billNo);
    assert.equal((await stack.fx.getRecord('AccountObj', accountId))?.field_erp_no__c, customerNumber);

    const [customerEntry] = await stack.syncLog('crm', 'AccountObj', accountId);
    assert.equal(customerEntry?.outcome, 'succeeded');
    assert.match(customerEntry?.reason ?? '', /needed by a sales order/);
    const [orderEntry] = await stack.syncLog('crm', 'SalesOrderObj', dataId);
    assert.equal(orderEntry?.outcome, 'succeeded');
    assert.deepEqual(orderEntry?.operations, ['Save', 'Submit', 'Audit']);
  });

  it('a product without an ERP material fails its order with a business error naming the product', async () => {
    const [productId] = await stack.fx.insertRecords('ProductObj', [
      { name: '定制法兰盘 DN80', product_code: 'WL9999', unit: '1', price: '88.00' },
    ]);
    assert.ok(productId);
    products.push({ id: productId, code: 'WL9999' });
    const accountId = await newAccount('烟台港湾物流有限公司');
    const { dataId } = await newOrder(accountId, [
      { code: 'WL0003', quantity: 1, price: 18.8 },
      { code: 'WL9999', quantity: 2, price: 88 },
    ]);
    await stack.settle();

    assert.equal((await erpOrder(dataId)).length, 0);
    const [entry] = await stack.syncLog('crm', 'SalesOrderObj', dataId);
    assert.equal(entry?.outcome, 'failed');
    assert.equal(entry?.error?.kind, 'business');
    assert.match(entry?.error?.message ?? '', /定制法兰盘 DN80/);
    assert.match(entry?.error?.message ?? '', new RegExp(productId));
    assert.equal(
      stack.counts('salesOrderToSaleOrder').visible + stack.counts('salesOrderToSaleOrder').inFlight,
      0,
    );
  });

  it('an audited order is updated by UnAudit → Save → Submit → Audit, logged; one order with the new lines', async () => {
    const accountId = await newAccount('潍坊风筝文化有限公司');
    const { dataId } = await newOrder(accountId, [{ code: 'WL0004', quantity: 5, price: 4.2 }]);
    await stack.settle();
    const before = await erpOrder(dataId);
    assert.equal(before[0]?.[2], 'C');

    await stack.fx.edit({
      apiName: 'SalesOrderObj',
      id: dataId,
      fields: { remark: '数量调整' },
      details: {
        SalesOrderProductObj: [
          { product_id: product('WL0004'), quantity: '8', sales_price: '4.20' },
          { product_id: product('WL0001'), quantity: '1', sales_price: '35.00' },
        ],
      },
    });
    await stack.settle();

    const after = await erpOrder(dataId);
    assert.equal(new Set(after.map((row) => row[0])).size, 1);
    assert.equal(after[0]?.[0], before[0]?.[0], 'the same ERP order');
    assert.deepEqual(
      after.map((row) => [row[4], row[5]]),
      [
        ['WL0004', 8],
        ['WL0001', 1],
      ],
    );
    assert.equal(after[0]?.[2], 'C', 'audited again');
    const last = (await stack.syncLog('crm', 'SalesOrderObj', dataId)).at(-1);
    assert.deepEqual(last?.operations, ['UnAudit', 'Save', 'Submit', 'Audit']);
    assert.ok(
      stack.logEvents('sync.k3.unaudit-before-update').some((line) => line.crmId === dataId),
      'the un-audit is logged with the order',
    );
  });

  it('with unAuditToUpdate: false an audited order is not touched: a business error says why', async () => {
    const accountId = await newAccount('淄博陶瓷制品有限公司');
    const { dataId } = await newOrder(accountId, [{ code: 'WL0005', quantity: 1, price: 1680 }]);
    await stack.settle();
    const config = exampleConfigData();
    const flows = config.flows as Record<string, Record<string, unknown>>;
    flows.salesOrderToSaleOrder = { ...flows.salesOrderToSaleOrder, unAuditToUpdate: false };
    await stack.useConfig(config);
    try {
      await stack.fx.edit({ apiName: 'SalesOrderObj', id: dataId, fields: { remark: '改备注' } });
      await stack.settle();
      const last = (await stack.syncLog('crm', 'SalesOrderObj', dataId)).at(-1);
      assert.equal(last?.outcome, 'failed');
      assert.equal(last?.error?.code, 'K3_AUDITED_UPDATE_DISABLED');
      assert.equal((await erpOrder(dataId))[0]?.[2], 'C', 'the ERP order stays audited');
    } finally {
      await stack.useConfig(exampleConfigData());
    }
  });

  it('a change pushed for an order line (SalesOrderProductObj) syncs its order', async () => {
    const accountId = await newAccount('临沂商城物流有限公司');
    const { dataId } = await newOrder(accountId, [{ code: 'WL0001', quantity: 2, price: 35 }]);
    await stack.settle();
    const line = (await stack.fx.listRecords('SalesOrderProductObj')).find((l) => l.order_id === dataId);
    assert.ok(line);
    const runtime = await stack.runtime();
    await runtime
      .fx()
      .update('SalesOrderProductObj', String(line._id), { quantity: '9', subtotal: '315.00' });
    const reply = await stack.push(pushBody('SalesOrderProductObj', String(line._id)));
    assert.equal(reply.statusCode, 200);
    await stack.settle();
    const rows = await erpOrder(dataId);
    assert.deepEqual(
      rows.map((row) => [row[4], row[5]]),
      [['WL0001', 9]],
    );
  });

  it('the account flow and an order needing the same new account, at the same time, make one customer', async () => {
    const accountId = await newAccount('济宁运河农机有限公司');
    await newOrder(accountId, [{ code: 'WL0002', quantity: 1, price: 12.5 }]);
    await stack.fx.pushesSettled();
    assert.equal((await stack.push(pushBody('AccountObj', accountId))).statusCode, 200);
    for (let round = 0; round < 3; round += 1) {
      await Promise.all([stack.pump('accountToCustomer'), stack.pump('salesOrderToSaleOrder')]);
      // Whoever lost the race retries after its backoff.
      stack.sqsClock.advance(60_000);
    }
    const copies = await stack.k3Rows(
      'BD_Customer',
      ['FCUSTID', 'FUseOrgId.FNumber'],
      `F_FXK_CrmId = '${accountId}'`,
    );
    assert.equal(copies.filter((row) => row[1] === '100').length, 1, 'one customer');
    assert.equal(copies.length, 3, 'allocated once');
  });

  it('a customer event that finds the customer busy comes back within seconds, not after the whole claim', async () => {
    const accountId = await newAccount('泰安岱岳机电有限公司');
    await stack.fx.pushesSettled();
    const runtime = await stack.runtime();
    // Another worker (an order creating this customer) holds the link.
    const key = crmLinkKey('AccountObj', accountId, 'BD_Customer');
    assert.equal((await runtime.state.links.claim(key, { owner: 'order-worker' })).status, 'claimed');
    assert.equal((await stack.push(pushBody('AccountObj', accountId))).statusCode, 200);
    const busy = await stack.pump('accountToCustomer');
    assert.equal(busy.failed, 1);
    assert.equal(stack.counts('accountToCustomer').visible, 0);
    // The holder finishes quickly; the event is visible again after about a second (jitter ±20 %).
    assert.equal(await runtime.state.links.release(key, 'order-worker'), true);
    stack.sqsClock.advance(1_300);
    assert.equal(stack.counts('accountToCustomer').visible, 1);
    const retried = await stack.pump('accountToCustomer');
    assert.equal(retried.failed, 0);
    const copies = await stack.k3Rows(
      'BD_Customer',
      ['FCUSTID', 'FUseOrgId.FNumber'],
      `F_FXK_CrmId = '${accountId}'`,
    );
    assert.equal(copies.filter((row) => row[1] === '100').length, 1, 'one customer');
  });

  it('requesting delivery pushes the order to one audited delivery notice; repeats never push twice', async () => {
    const accountId = await newAccount('日照钢铁配件有限公司');
    const { dataId } = await newOrder(accountId, [{ code: 'WL0002', quantity: 20, price: 12.5 }]);
    await stack.settle();
    const billNo = String((await erpOrder(dataId))[0]?.[1]);

    await stack.fx.edit({ apiName: 'SalesOrderObj', id: dataId, fields: { field_ship_request__c: true } });
    await stack.settle();
    const pushed = await notices(billNo);
    assert.equal(pushed.length, 1, 'one delivery notice');
    assert.equal(pushed[0]?.[2], 'C', 'submitted and audited (flow setting)');
    const [noticeEntry] = await stack
      .syncLog('crm', 'SalesOrderObj', dataId)
      .then((entries) => entries.filter((e) => e.flow === 'sale-order-to-delivery-notice'));
    assert.deepEqual(noticeEntry?.operations, ['Push', 'Submit', 'Audit']);

    // The trigger is a level: another edit keeps it true, and a stray request arrives again.
    await stack.fx.edit({ apiName: 'SalesOrderObj', id: dataId, fields: { remark: '请尽快发货' } });
    const runtime = await stack.runtime();
    await runtime.queues.send('saleOrderToDeliveryNotice', [
      deliveryNoticeMessage({
        kind: 'delivery-notice',
        orderId: dataId,
        orderVersion: 1,
        requestedAtMs: Date.now(),
      }),
    ]);
    await stack.settle();
    assert.equal((await notices(billNo)).length, 1, 'still one notice');
  });

  it('a Push whose response is lost does not create a second notice: the retry adopts the first', async () => {
    const accountId = await newAccount('东营石化设备有限公司');
    const { dataId } = await newOrder(accountId, [{ code: 'WL0003', quantity: 3, price: 18.8 }]);
    await stack.settle();
    const billNo = String((await erpOrder(dataId))[0]?.[1]);

    stack.k3.setFaults({ dropResponseAfterCommit: { operations: ['Push'], times: 1 } });
    await stack.fx.edit({ apiName: 'SalesOrderObj', id: dataId, fields: { field_ship_request__c: true } });
    await stack.settle();
    assert.equal(stack.counts('saleOrderToDeliveryNotice').inFlight, 1, 'the request waits for its retry');
    assert.equal((await notices(billNo)).length, 1, 'the lost Push did commit');
    stack.sqsClock.advance(60_000);
    await stack.pump('saleOrderToDeliveryNotice');
    stack.k3.setFaults({});

    const found = await notices(billNo);
    assert.equal(found.length, 1, 'still one notice');
    assert.equal(found[0]?.[2], 'C', 'the adopted notice was submitted and audited');
    const entries = (await stack.syncLog('crm', 'SalesOrderObj', dataId)).filter(
      (e) => e.flow === 'sale-order-to-delivery-notice',
    );
    assert.equal(entries[0]?.error?.kind, 'outcome-unknown');
    assert.equal(entries[1]?.outcome, 'succeeded');
    assert.equal(entries[1]?.reason, 'adopted existing notice');
  });
});
