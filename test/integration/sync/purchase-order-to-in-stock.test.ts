/**
 * Flow 4: audited K3 purchase orders → in-stock bills (PUR_PurchaseOrder-STK_InStock), on the schedule
 * (EventBridge event) and on request (direct invoke with bill numbers), with lookup-before-push idempotency.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { InvalidInputError } from '../../../lib/errors.ts';
import { SyncStack, scheduledEvent } from './harness.ts';

describe('purchase-order-to-in-stock (PUR_PurchaseOrder → STK_InStock)', () => {
  let stack: SyncStack;
  before(async () => {
    stack = await SyncStack.start();
  });
  after(async () => {
    await stack?.close();
  });

  const auditedPurchaseOrder = async (quantity: number) =>
    (await stack.auditedPurchaseOrder(quantity)).number;

  /** In-stock bills made from a purchase order (one row per bill; the query answers one per entry). */
  async function inStocksOf(billNo: string) {
    const rows = await stack.k3Rows(
      'STK_InStock',
      ['FID', 'FBillNo', 'FDocumentStatus'],
      `FSrcBillNo = '${billNo}'`,
    );
    return [...new Map(rows.map((row) => [row[0], row])).values()];
  }

  it('the scheduled run pushes every audited purchase order once; the next run pushes nothing again', async () => {
    const first = await stack.runPurchaseOrders(scheduledEvent());
    assert.equal(first.trigger, 'schedule');
    assert.equal(first.failed, 0);
    assert.ok(first.items.some((item) => item.key === 'CGDD000001' && item.outcome === 'succeeded'));
    const pushed = await inStocksOf('CGDD000001');
    assert.equal(pushed.length, 1, 'the seeded order became one in-stock bill');
    assert.equal(pushed[0]?.[2], 'A', 'left for the warehouse to audit (submitAndAudit: false)');

    const second = await stack.runPurchaseOrders(scheduledEvent());
    assert.equal(second.succeeded, 0);
    assert.equal((await inStocksOf('CGDD000001')).length, 1, 'no second in-stock bill');
    const cursor = await (await stack.runtime()).state.cursors.get('purchase-order-to-in-stock');
    assert.ok(cursor, 'the cursor moved');
    const [fid] = (await stack.k3Rows('PUR_PurchaseOrder', ['FID'], "FBillNo = 'CGDD000001'"))[0] ?? [];
    const log = await stack.syncLog('erp', 'PUR_PurchaseOrder', String(fid));
    assert.equal(log[0]?.outcome, 'succeeded');
    assert.deepEqual(log[0]?.operations, ['Push']);
  });

  it('on request: the given audited orders are pushed; unknown numbers are reported, not invented', async () => {
    const billNo = await auditedPurchaseOrder(12);
    const summary = await stack.runPurchaseOrders({ billNos: [billNo, 'CGDD999999'] });
    assert.equal(summary.trigger, 'request');
    assert.deepEqual(
      summary.items.map((item) => [item.key, item.outcome]),
      [
        [billNo, 'succeeded'],
        ['CGDD999999', 'skipped'],
      ],
    );
    assert.match(summary.items[1]?.detail ?? '', /not eligible/);
    assert.equal((await inStocksOf(billNo)).length, 1);
  });

  it('a malformed request is refused with a clear error and nothing runs', async () => {
    await assert.rejects(
      stack.runPurchaseOrders({ billNos: [] }),
      (error: unknown) =>
        error instanceof InvalidInputError &&
        error.code === 'RUN_REQUEST_INVALID' &&
        /billNos/.test(error.message),
    );
    await assert.rejects(stack.runPurchaseOrders({ orders: ['CGDD000001'] }), InvalidInputError);
  });

  it('a Push whose response is lost is not repeated: the next run finds the in-stock bill', async () => {
    const billNo = await auditedPurchaseOrder(7);
    stack.k3.setFaults({
      dropResponseAfterCommit: { operations: ['Push'], formIds: ['PUR_PurchaseOrder'], times: 1 },
    });
    const first = await stack.runPurchaseOrders({ billNos: [billNo] });
    stack.k3.setFaults({});
    assert.equal(first.failed, 1);
    assert.equal((await inStocksOf(billNo)).length, 1, 'the lost Push did commit');

    // Past the claim the first run kept (its outcome was unknown).
    stack.clockOffsetMs += 5 * 60_000;
    const second = await stack.runPurchaseOrders({ billNos: [billNo] });
    assert.deepEqual(
      second.items.map((item) => [item.key, item.outcome]),
      [[billNo, 'skipped']],
    );
    assert.equal((await inStocksOf(billNo)).length, 1, 'still one in-stock bill');
  });
});
