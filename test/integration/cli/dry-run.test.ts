/**
 * `fxk3 dry-run` against both emulators, dynalite and the local SQS service: the K3Cloud requests it prints
 * are exactly those the pipeline sends afterwards (compared with the bodies a recorder in front of the K3Cloud
 * emulator saw), for a new customer, a new order and the update of an audited order; an order whose customer
 * is not in the ERP yet shows the customer first; a record that would fail says why; and a dry run writes
 * nothing — no link, claim, sync-log entry, inbox entry, snapshot, cursor, queue message or K3 write.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { QueueRole } from '../../../lib/sync/queues.ts';
import { pushBody, SyncStack } from '../sync/harness.ts';
import { dryRunSchema, fxk3, jsonOf, type K3Recorder, startK3Recorder, tableItems } from './support.ts';

const READS = new Set(['ExecuteBillQuery', 'BillQuery', 'View', 'GetDataCenterList']);
const ROLES: QueueRole[] = [
  'accountToCustomer',
  'salesOrderToSaleOrder',
  'saleOrderToDeliveryNotice',
  'crmWriteBack',
];

describe('fxk3 dry-run', () => {
  let stack: SyncStack;
  let recorder: K3Recorder;
  let products: Map<string, string>;

  before(async () => {
    stack = await SyncStack.start();
    recorder = await startK3Recorder(stack.k3.url);
    // The CLI and the handlers both talk to K3Cloud through the recorder.
    await stack.reconfigure({ K3CLOUD_SERVER_URL: recorder.url });
    products = new Map(
      (await stack.fx.listRecords('ProductObj')).map((p) => [String(p.product_code), String(p._id)]),
    );
  });
  after(async () => {
    await stack?.close();
    await recorder?.close();
  });

  const writes = () => recorder.requests.filter((r) => !READS.has(r.operation));

  /** Everything a dry run could write to, as comparable data. */
  async function everything() {
    const client = stack.dynamo.client;
    const [links, inbox, syncLog, coordination] = await Promise.all([
      tableItems(client, stack.tables.links),
      tableItems(client, stack.tables.inbox),
      tableItems(client, stack.tables.syncLog),
      tableItems(client, stack.tables.coordination),
    ]);
    return {
      links,
      inbox,
      syncLog,
      // The shared K3 session / Fxiaoke token and the shared rate-limit counters are not sync state.
      coordination: coordination.filter((item) => !/"pk":\{"S":"(credential|rate)#/.test(item)),
      queues: ROLES.map((role) => stack.counts(role)),
      k3Writes: writes().length,
      k3Records: stack.k3.stats().records,
    };
  }

  async function newAccount(name: string): Promise<string> {
    const [id] = await stack.fx.insertRecords('AccountObj', [
      { name, account_level: '2', tel: '0510-88880000' },
    ]);
    assert.ok(id);
    return id;
  }

  function product(code: string): string {
    const id = products.get(code);
    assert.ok(id, `product ${code} is seeded`);
    return id;
  }

  let linkedAccount = '';

  it('a new customer: Save, Submit, Audit, Allocate — exactly what the pipeline then sends; the dry run wrote nothing', async () => {
    const id = await newAccount('无锡太湖机床有限公司');
    const before = await everything();
    const run = await fxk3(stack, ['dry-run', 'AccountObj', id, '--json']);
    assert.equal(run.code, 0, run.stderr);
    const doc = jsonOf(run, dryRunSchema);
    assert.equal(doc.results.length, 1);
    assert.equal(doc.results[0]?.verdict, 'create');
    assert.deepEqual(
      doc.k3Requests.map((r) => `${r.operation} ${r.formId}`),
      ['Save BD_Customer', 'Submit BD_Customer', 'Audit BD_Customer', 'Allocate BD_Customer'],
    );
    const model = doc.k3Requests[0]?.data.Model;
    assert.ok(typeof model === 'object' && model !== null);
    assert.equal(Reflect.get(model, 'FCUSTID'), 0);
    assert.equal(Reflect.get(model, 'F_FXK_CrmId'), id);
    assert.match(JSON.stringify(doc.k3Requests[1]?.data), /新建 new BD_Customer #1 FID/);
    assert.equal(doc.queued.length, 1, 'the write-back of the new number would be queued');

    assert.deepEqual(await everything(), before, 'the dry run wrote nothing');

    // The pipeline, for real.
    const sentBefore = writes().length;
    await stack.push(pushBody('AccountObj', id));
    await stack.pump('accountToCustomer');
    const sent = writes().slice(sentBefore);
    assert.deepEqual(
      sent.map((r) => `${r.operation} ${r.formId}`),
      doc.k3Requests.map((r) => `${r.operation} ${r.formId}`),
    );
    assert.deepEqual(sent[0]?.data, doc.k3Requests[0]?.data, 'the Save body is the one the dry run printed');
    const allocated = sent[3]?.data;
    const dryAllocate = doc.k3Requests[3]?.data;
    assert.ok(typeof allocated === 'object' && allocated !== null && dryAllocate);
    assert.equal(Reflect.get(allocated, 'TOrgIds'), dryAllocate.TOrgIds);
    assert.equal(Reflect.get(allocated, 'IsAutoSubmitAndAudit'), dryAllocate.IsAutoSubmitAndAudit);
    linkedAccount = id;
  });

  it('an order of a linked customer, then the update of the audited order: UnAudit → Save → Submit → Audit, bodies equal', async () => {
    assert.ok(linkedAccount);
    const lines = (quantity: number) => ({
      SalesOrderProductObj: [
        { product_id: product('WL0001'), quantity: String(quantity), sales_price: '35.00' },
        { product_id: product('WL0002'), quantity: '4', sales_price: '12.50' },
      ],
    });
    const { dataId } = await stack.fx.edit({
      apiName: 'SalesOrderObj',
      fields: { account_id: linkedAccount, remark: '预演测试订单' },
      details: lines(10),
    });
    await stack.fx.pushesSettled();

    const before = await everything();
    const created = jsonOf(await fxk3(stack, ['dry-run', 'SalesOrderObj', dataId, '--json']), dryRunSchema);
    assert.deepEqual(await everything(), before, 'the dry run wrote nothing');
    assert.deepEqual(
      created.results.map((r) => `${r.flow} ${r.verdict}`),
      ['sales-order-to-sale-order create'],
    );
    assert.deepEqual(
      created.k3Requests.map((r) => r.operation),
      ['Save', 'Submit', 'Audit'],
    );

    let sentBefore = writes().length;
    await stack.pump('salesOrderToSaleOrder');
    let sent = writes().slice(sentBefore);
    assert.deepEqual(
      sent[0]?.data,
      created.k3Requests[0]?.data,
      'the order Save is the one the dry run printed',
    );

    // The salesperson changes a quantity; the event waits in the queue while we look at it.
    await stack.fx.edit({
      apiName: 'SalesOrderObj',
      id: dataId,
      fields: { remark: '改了数量' },
      details: lines(12),
    });
    await stack.fx.pushesSettled();
    const updated = jsonOf(await fxk3(stack, ['dry-run', 'SalesOrderObj', dataId, '--json']), dryRunSchema);
    assert.equal(updated.results[0]?.verdict, 'update');
    assert.deepEqual(
      updated.k3Requests.map((r) => r.operation),
      ['UnAudit', 'Save', 'Submit', 'Audit'],
    );
    const save = updated.k3Requests[1]?.data;
    assert.ok(Array.isArray(save?.NeedUpDateFields), 'an update names its fields');
    assert.equal(save?.IsDeleteEntry, false);

    sentBefore = writes().length;
    await stack.pump('salesOrderToSaleOrder');
    sent = writes().slice(sentBefore);
    assert.deepEqual(
      sent.map((r) => ({ operation: r.operation, data: r.data })),
      updated.k3Requests.map((r) => ({ operation: r.operation, data: r.data })),
      'UnAudit, Save (with FID, FEntryIDs, NeedUpDateFields), Submit and Audit exactly as printed',
    );

    // Nothing changed since: the pipeline would skip it.
    const again = jsonOf(await fxk3(stack, ['dry-run', 'SalesOrderObj', dataId, '--json']), dryRunSchema);
    assert.equal(again.results[0]?.verdict, 'skip');
    assert.equal(again.k3Requests.length, 0);
  });

  it('an order whose customer is not in the ERP yet: the customer comes first, the order refers to it', async () => {
    const accountId = await newAccount('江阴长江钢构有限公司');
    const { dataId } = await stack.fx.edit({
      apiName: 'SalesOrderObj',
      fields: { account_id: accountId },
      details: {
        SalesOrderProductObj: [{ product_id: product('WL0003'), quantity: '2', sales_price: '18.80' }],
      },
    });
    await stack.fx.pushesSettled();
    const before = await everything();
    const run = await fxk3(stack, ['dry-run', 'SalesOrderProductObj', await lineOf(dataId), '--json']);
    assert.equal(run.code, 0, run.stderr);
    const doc = jsonOf(run, dryRunSchema);
    assert.deepEqual(await everything(), before, 'the dry run wrote nothing');
    assert.deepEqual(doc.results.map((r) => `${r.flow} ${r.verdict}`).sort(), [
      'account-to-customer create',
      'sales-order-to-sale-order create',
    ]);
    assert.deepEqual(
      doc.k3Requests.map((r) => `${r.operation} ${r.formId}`),
      [
        'Save BD_Customer',
        'Submit BD_Customer',
        'Audit BD_Customer',
        'Allocate BD_Customer',
        'Save SAL_SaleOrder',
        'Submit SAL_SaleOrder',
        'Audit SAL_SaleOrder',
      ],
    );
    assert.match(
      JSON.stringify(doc.k3Requests[4]?.data),
      /"FCustId":\{"FNumber":"<新建 new BD_Customer #1 编码 number>"\}/,
    );
    await stack.pump('salesOrderToSaleOrder');
  });

  async function lineOf(orderId: string): Promise<string> {
    const lines = await stack.fx.listRecords('SalesOrderProductObj');
    const line = lines.find((l) => l.order_id === orderId);
    assert.ok(line, 'the order has a line');
    return String(line._id);
  }

  it('a product without an ERP material: the business error the order would fail with, exit code 1, nothing sent', async () => {
    const [productId] = await stack.fx.insertRecords('ProductObj', [
      { name: '非标齿轮箱 GX-7', product_code: 'WL7777', unit: '1', price: '990.00' },
    ]);
    assert.ok(productId);
    const { dataId } = await stack.fx.edit({
      apiName: 'SalesOrderObj',
      fields: { account_id: linkedAccount },
      details: { SalesOrderProductObj: [{ product_id: productId, quantity: '1', sales_price: '990.00' }] },
    });
    await stack.fx.pushesSettled();
    const before = await everything();
    const run = await fxk3(stack, ['dry-run', 'SalesOrderObj', dataId, '--json']);
    assert.equal(run.code, 1);
    const doc = jsonOf(run, dryRunSchema);
    assert.equal(doc.results[0]?.verdict, 'fail');
    assert.equal(doc.results[0]?.error?.kind, 'business');
    assert.match(doc.results[0]?.error?.message ?? '', /非标齿轮箱 GX-7/);
    assert.equal(doc.k3Requests.length, 0);
    assert.deepEqual(await everything(), before);

    const human = await fxk3(stack, ['dry-run', 'SalesOrderObj', dataId]);
    assert.equal(human.code, 1);
    assert.match(human.stdout, /将失败 would FAIL/);
    assert.match(human.stdout, /类别 kind: business/);
    await stack.pump('salesOrderToSaleOrder');
  });

  it('human output: the verdict, each request with its endpoint, and the promise that nothing was written', async () => {
    const id = await newAccount('宜兴紫砂陶瓷有限公司');
    const run = await fxk3(stack, ['dry-run', 'AccountObj', id]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /结论 Verdict\s+将新建 would CREATE BD_Customer/);
    assert.match(
      run.stdout,
      /\[1\] Save BD_Customer\s+POST http:\/\/127\.0\.0\.1:\d+\/k3cloud\/Kingdee\.BOS\.WebApi\.ServicesStub\.DynamicFormService\.Save\.common\.kdsvc/,
    );
    assert.match(run.stdout, /"NeedUpDateFields"|"FCUSTID": 0/);
    assert.match(run.stdout, /未写入任何内容/);
    assert.equal(run.stderr, '');
  });

  it('a record that does not exist: exit code 1, said plainly', async () => {
    const run = await fxk3(stack, ['dry-run', 'AccountObj', '0123456789abcdef01234567']);
    assert.equal(run.code, 1);
    assert.match(run.stdout, /不存在或不可见 \/ not found or not visible/);
  });
});
