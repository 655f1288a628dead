/**
 * `fxk3 replay` against both emulators, dynalite and the local SQS service: a failed order replayed by record
 * once its missing material exists ends as exactly one ERP order (and a record whose newest attempt succeeded
 * is not replayed without --force); a replay by filter and error code after a config fix; a purchase order
 * whose push failed, replayed in-process; a dead-letter queue listed, then moved back with its FIFO groups,
 * ending in exactly one ERP customer.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { z } from 'zod';
import { exampleConfigData, SyncStack, scheduledEvent } from '../sync/harness.ts';
import { fxk3, jsonOf } from './support.ts';

const replaySchema = z.object({
  command: z.literal('replay'),
  runId: z.string(),
  dryRun: z.boolean(),
  items: z.array(
    z
      .object({
        record: z.object({ system: z.string(), type: z.string(), id: z.string() }),
        flow: z.string(),
        decision: z.enum(['replay', 'skip']),
        result: z.string().optional(),
        lastError: z.object({ code: z.string() }).loose().optional(),
      })
      .loose(),
  ),
});

const redriveSchema = z.object({
  mode: z.literal('dlq'),
  moved: z.number(),
  messages: z.array(z.object({ messageId: z.string(), groupId: z.string().optional() }).loose()),
});

describe('fxk3 replay', () => {
  let stack: SyncStack;
  let products: Map<string, string>;

  before(async () => {
    stack = await SyncStack.start();
    products = new Map(
      (await stack.fx.listRecords('ProductObj')).map((p) => [String(p.product_code), String(p._id)]),
    );
  });
  after(async () => {
    await stack?.close();
  });

  async function erpOrders(crmId: string): Promise<Set<unknown>> {
    const rows = await stack.k3Rows('SAL_SaleOrder', ['FID'], `F_FXK_CrmId = '${crmId}'`);
    return new Set(rows.map((row) => row[0]));
  }

  async function erpCustomers(crmId: string): Promise<number> {
    const rows = await stack.k3Rows(
      'BD_Customer',
      ['FCUSTID'],
      `F_FXK_CrmId = '${crmId}' AND FUseOrgId.FNumber = '100'`,
    );
    return rows.length;
  }

  async function newestOutcome(type: string, id: string, flow: string): Promise<string | undefined> {
    const entries = (await stack.syncLog('crm', type, id)).filter((e) => e.flow === flow);
    return entries.at(-1)?.outcome;
  }

  it('a failed order, replayed by record after its missing material was added: exactly one ERP order', async () => {
    const [productId] = await stack.fx.insertRecords('ProductObj', [
      { name: '定制法兰盘 DN80', product_code: 'WL9999', unit: '1', price: '88.00' },
    ]);
    const [accountId] = await stack.fx.insertRecords('AccountObj', [
      { name: '烟台港湾物流有限公司', account_level: '2' },
    ]);
    assert.ok(productId && accountId);
    const { dataId } = await stack.fx.edit({
      apiName: 'SalesOrderObj',
      fields: { account_id: accountId },
      details: {
        SalesOrderProductObj: [
          { product_id: products.get('WL0003'), quantity: '1', sales_price: '18.80' },
          { product_id: productId, quantity: '2', sales_price: '88.00' },
        ],
      },
    });
    await stack.settle();
    assert.equal(await newestOutcome('SalesOrderObj', dataId, 'sales-order-to-sale-order'), 'failed');
    assert.equal((await erpOrders(dataId)).size, 0);

    // What would be replayed: listed, nothing sent.
    const listed = await fxk3(stack, [
      'replay',
      '--flow',
      'sales-order-to-sale-order',
      '--since',
      '1h',
      '--dry-run',
      '--json',
    ]);
    assert.equal(listed.code, 0, listed.stderr);
    const plan = jsonOf(listed, replaySchema);
    assert.equal(plan.dryRun, true);
    const item = plan.items.find((i) => i.record.id === dataId);
    assert.equal(item?.decision, 'replay');
    assert.equal(item?.result, 'planned');
    assert.equal(item?.lastError?.code, 'MAPPING_PRODUCT_WITHOUT_MATERIAL');
    assert.equal(stack.counts('salesOrderToSaleOrder').visible, 0, 'a dry run queues nothing');

    // The fix, in the ERP: the material exists, audited, in the sale organisation.
    const k3 = stack.k3Client();
    await k3.save({
      formId: 'BD_MATERIAL',
      model: {
        FMATERIALID: 0,
        FNumber: 'WL9999',
        FName: '定制法兰盘 DN80',
        FCreateOrgId: { FNumber: '100' },
        FUseOrgId: { FNumber: '100' },
        SubHeadEntity: { FBaseUnitId: { FNumber: 'Pcs' } },
      },
    });
    await k3.submit({ formId: 'BD_MATERIAL', numbers: ['WL9999'] });
    await k3.audit({ formId: 'BD_MATERIAL', numbers: ['WL9999'] });

    const replayed = await fxk3(stack, ['replay', '--record', `SalesOrderObj:${dataId}`, '--json']);
    assert.equal(replayed.code, 0, replayed.stderr);
    assert.deepEqual(
      jsonOf(replayed, replaySchema).items.map((i) => [i.flow, i.decision, i.result]),
      [['sales-order-to-sale-order', 'replay', 'queued']],
    );
    await stack.settle();
    assert.equal((await erpOrders(dataId)).size, 1, 'one ERP order');
    assert.equal(await newestOutcome('SalesOrderObj', dataId, 'sales-order-to-sale-order'), 'succeeded');

    // The newest attempt succeeded: not replayed again…
    const again = await fxk3(stack, ['replay', '--record', `SalesOrderObj:${dataId}`, '--json']);
    assert.equal(again.code, 0);
    assert.deepEqual(
      jsonOf(again, replaySchema).items.map((i) => [i.decision, i.result]),
      [['skip', 'skipped']],
    );
    assert.equal(stack.counts('salesOrderToSaleOrder').visible, 0);
    // …unless forced, and even then the pipeline's idempotency keeps it at one ERP order.
    const forced = await fxk3(stack, ['replay', '--record', `SalesOrderObj:${dataId}`, '--force']);
    assert.equal(forced.code, 0, forced.stderr);
    assert.match(forced.stdout, /已入队 queued/);
    await stack.settle();
    assert.equal((await erpOrders(dataId)).size, 1, 'still one ERP order');
  });

  it('by filter and error code, after fixing the mapping config: only the matching failures are replayed', async () => {
    const text = JSON.stringify(exampleConfigData());
    await stack.useConfig(
      z.record(z.string(), z.unknown()).parse(JSON.parse(text.replace(',"3":"KHLB001_SYS"', ''))),
    );
    const { dataId } = await stack.fx.edit({
      apiName: 'AccountObj',
      fields: { name: '连云港海州矿业有限公司', account_level: '3' },
    });
    await stack.settle();
    const failed = (await stack.syncLog('crm', 'AccountObj', dataId)).at(-1);
    assert.equal(failed?.outcome, 'failed');
    const code = failed?.error?.code ?? '';

    const none = await fxk3(stack, [
      'replay',
      '--flow',
      'account-to-customer',
      '--code',
      'K3_MSGCODE_11',
      '--json',
    ]);
    assert.equal(jsonOf(none, replaySchema).items.length, 0);

    await stack.useConfig(exampleConfigData());
    const run = await fxk3(stack, [
      'replay',
      '--flow',
      'account-to-customer',
      '--since',
      '24h',
      '--code',
      code,
      '--json',
    ]);
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(
      jsonOf(run, replaySchema).items.map((i) => [i.record.id, i.result]),
      [[dataId, 'queued']],
    );
    await stack.settle();
    assert.equal(await erpCustomers(dataId), 1);
    assert.equal(await newestOutcome('AccountObj', dataId, 'account-to-customer'), 'succeeded');
  });

  it('a purchase order whose push failed: replayed in this process on request, pushed once', async () => {
    const saved = await stack.auditedPurchaseOrder(7);
    stack.k3.setFaults({ responseError: { operations: ['Push'], formIds: ['PUR_PurchaseOrder'] } });
    try {
      await stack.runPurchaseOrders(scheduledEvent());
    } finally {
      stack.k3.setFaults({});
    }
    const failures = (await stack.syncLog('erp', 'PUR_PurchaseOrder', saved.id)).filter(
      (e) => e.outcome === 'failed',
    );
    assert.ok(failures.length > 0, 'the push failed');

    const run = await fxk3(stack, ['replay', '--flow', 'purchase-order-to-in-stock', '--json']);
    assert.equal(run.code, 0, run.stdout + run.stderr);
    const items = jsonOf(run, replaySchema).items;
    // Every purchase order the failed run touched (the seeded one too) is pushed now.
    assert.ok(items.some((i) => i.record.id === saved.id));
    assert.deepEqual(new Set(items.map((i) => i.result)), new Set(['succeeded']));
    const inStock = await stack.k3Rows('STK_InStock', ['FID'], `FSrcBillNo = '${saved.number}'`);
    assert.equal(new Set(inStock.map((row) => row[0])).size, 1, 'one in-stock bill');
  });

  it('a delivery whose CRM write failed: the poll runs again in this process, one CRM delivery note', async () => {
    const [accountId] = await stack.fx.insertRecords('AccountObj', [
      { name: '泰州医药物流有限公司', account_level: '2' },
    ]);
    const { dataId: orderId } = await stack.fx.edit({
      apiName: 'SalesOrderObj',
      fields: { account_id: accountId, field_ship_request__c: true },
      details: {
        SalesOrderProductObj: [{ product_id: products.get('WL0001'), quantity: '6', sales_price: '35.00' }],
      },
    });
    await stack.settle();
    const [order] = await stack.k3Rows('SAL_SaleOrder', ['FBillNo'], `F_FXK_CrmId = '${orderId}'`);
    const [notice] = await stack.k3Rows('SAL_DELIVERYNOTICE', ['FBillNo'], `FSrcBillNo = '${order?.[0]}'`);
    const k3 = stack.k3Client();
    const shipped = await k3.push({
      formId: 'SAL_DELIVERYNOTICE',
      numbers: [String(notice?.[0])],
      ruleId: 'DeliveryNotice-OutStock',
      targetFormId: 'SAL_OUTSTOCK',
    });
    const outStock = shipped.targets[0];
    assert.ok(outStock?.number && outStock.id);
    await k3.submit({ formId: 'SAL_OUTSTOCK', numbers: [outStock.number] });
    await k3.audit({ formId: 'SAL_OUTSTOCK', numbers: [outStock.number] });
    const notes = async () =>
      (await stack.fx.listRecords('DeliveryNoteObj')).filter(
        (n) => n.field_erp_bill_no__c === outStock.number,
      );

    stack.fx.setFaults({ systemBusy: { paths: ['/cgi/crm/v2/data/create'] } });
    try {
      const first = await stack.runDeliveries(scheduledEvent());
      assert.ok(first.failed > 0, JSON.stringify(first.items));
    } finally {
      stack.fx.setFaults({});
    }
    assert.equal((await notes()).length, 0);
    // Later bills moved the cursor past this one (as after a final failure): the replay moves it back.
    const cursors = (await stack.runtime()).state.cursors;
    await cursors.reset('delivery-to-fxiaoke.SAL_OUTSTOCK', {
      modifiedAtMs: Date.now() + 3_600_000,
      id: '999999',
    });

    const run = await fxk3(stack, ['replay', '--flow', 'delivery-to-fxiaoke', '--json']);
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.deepEqual(
      jsonOf(run, replaySchema).items.map((i) => [i.record.type, i.record.id, i.result]),
      [['SAL_OUTSTOCK', outStock.id, 'succeeded']],
    );
    assert.equal((await notes()).length, 1, 'one delivery note');
    const after = await (await stack.runtime()).state.cursors.get('delivery-to-fxiaoke.SAL_OUTSTOCK');
    assert.ok(after && after.watermark.modifiedAtMs < Date.now(), 'the cursor was moved back to the bill');
  });

  it('a delivery-notice push that kept failing (its request dead-lettered): a new request, one notice, also after a redrive', async () => {
    const [accountId] = await stack.fx.insertRecords('AccountObj', [
      { name: '镇江香醋食品有限公司', account_level: '2' },
    ]);
    stack.k3.setFaults({ responseError: { operations: ['Push'], formIds: ['SAL_SaleOrder'] } });
    const { dataId: orderId } = await stack.fx.edit({
      apiName: 'SalesOrderObj',
      fields: { account_id: accountId, field_ship_request__c: true },
      details: {
        SalesOrderProductObj: [{ product_id: products.get('WL0004'), quantity: '20', sales_price: '4.20' }],
      },
    });
    await stack.settle({ writeBacks: false });
    for (let attempt = 2; attempt <= 3; attempt += 1) {
      stack.sqsClock.advance(15 * 60_000);
      await stack.pump('saleOrderToDeliveryNotice');
    }
    stack.sqsClock.advance(15 * 60_000);
    await stack.pump('saleOrderToDeliveryNotice');
    stack.k3.setFaults({});
    assert.equal(stack.counts('saleOrderToDeliveryNotice').deadLetters, 1, 'the request is dead-lettered');
    assert.equal(await newestOutcome('SalesOrderObj', orderId, 'sale-order-to-delivery-notice'), 'failed');
    const [order] = await stack.k3Rows('SAL_SaleOrder', ['FBillNo'], `F_FXK_CrmId = '${orderId}'`);
    const notices = async () =>
      new Set(
        (await stack.k3Rows('SAL_DELIVERYNOTICE', ['FID'], `FSrcBillNo = '${order?.[0]}'`)).map(
          (row) => row[0],
        ),
      ).size;
    assert.equal(await notices(), 0);

    const run = await fxk3(stack, ['replay', '--record', `SalesOrderObj:${orderId}`, '--json']);
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(
      jsonOf(run, replaySchema).items.map((i) => [i.flow, i.result]),
      [['sale-order-to-delivery-notice', 'queued']],
    );
    await stack.pump('saleOrderToDeliveryNotice');
    assert.equal(await notices(), 1);
    assert.equal(await newestOutcome('SalesOrderObj', orderId, 'sale-order-to-delivery-notice'), 'succeeded');

    // The dead letter redriven as well: the order is still pushed only once.
    assert.equal((await fxk3(stack, ['replay', '--dlq', 'sale-order-to-delivery-notice'])).code, 0);
    await stack.pump('saleOrderToDeliveryNotice');
    assert.equal(await notices(), 1, 'still one delivery notice');
  });

  it('a dead-letter queue: --dry-run lists it and leaves it; the redrive moves it back with its group; one ERP customer', async () => {
    stack.k3.setFaults({ http500: { operations: ['ExecuteBillQuery'], formIds: ['BD_Customer'] } });
    const { dataId } = await stack.fx.edit({
      apiName: 'AccountObj',
      fields: { name: '淮安运河船舶有限公司' },
    });
    await stack.fx.pushesSettled();
    for (let attempt = 1; attempt <= 3; attempt += 1) {
      await stack.pump('accountToCustomer');
      stack.sqsClock.advance(15 * 60_000);
    }
    await stack.pump('accountToCustomer');
    stack.k3.setFaults({});
    assert.equal(stack.counts('accountToCustomer').deadLetters, 1);

    const listed = await fxk3(stack, ['replay', '--dlq', 'account-to-customer', '--dry-run', '--json']);
    assert.equal(listed.code, 0, listed.stderr);
    const list = jsonOf(listed, redriveSchema);
    assert.equal(list.moved, 0);
    assert.deepEqual(
      list.messages.map((m) => m.groupId),
      [`AccountObj:${dataId}`],
    );
    assert.equal(
      stack.sqsEngine.counts('test-account-to-customer-dlq.fifo').visible,
      1,
      'still there, visible',
    );

    const moved = await fxk3(stack, ['replay', '--dlq', 'account-to-customer', '--json']);
    assert.equal(moved.code, 0, moved.stderr);
    assert.equal(jsonOf(moved, redriveSchema).moved, 1);
    assert.equal(stack.counts('accountToCustomer').deadLetters, 0);
    const [back] = stack.sqsEngine.receiveNow('test-account-to-customer.fifo', { maxMessages: 10 });
    assert.ok(back);
    assert.equal(back.message.groupId, `AccountObj:${dataId}`, 'the FIFO group is kept');
    stack.sqsEngine.changeVisibility('test-account-to-customer.fifo', back.receiptHandle, 0);

    await stack.settle();
    assert.equal(await erpCustomers(dataId), 1, 'exactly one ERP customer');
    const nothing = await fxk3(stack, ['replay', '--dlq', 'account-to-customer', '--json']);
    assert.equal(jsonOf(nothing, redriveSchema).moved, 0);
  });
});
