/**
 * Flow 5: ERP out-stock bills → CRM delivery notes (DeliveryNoteObj + lines) and the order's delivery
 * status, on the schedule, with the cursor, the overlap window and lookup-before-create idempotency.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SyncStack, scheduledEvent } from './harness.ts';

describe('delivery-to-fxiaoke (SAL_OUTSTOCK → DeliveryNoteObj + order status)', () => {
  let stack: SyncStack;
  let productIds: Map<string, string>;

  before(async () => {
    stack = await SyncStack.start();
    productIds = new Map(
      (await stack.fx.listRecords('ProductObj')).map((p) => [String(p.product_code), String(p._id)]),
    );
  });
  after(async () => {
    await stack?.close();
  });

  /** A CRM order synced to K3, its delivery notice pushed, and the notice shipped (out-stock audited). */
  async function shippedOrder(
    name: string,
    quantity: number,
  ): Promise<{ orderId: string; outStockNo: string }> {
    const [accountId] = await stack.fx.insertRecords('AccountObj', [{ name }]);
    assert.ok(accountId);
    const { dataId: orderId } = await stack.fx.edit({
      apiName: 'SalesOrderObj',
      fields: { account_id: accountId, field_ship_request__c: true },
      details: {
        SalesOrderProductObj: [
          { product_id: productIds.get('WL0001'), quantity: String(quantity), sales_price: '35.00' },
        ],
      },
    });
    await stack.settle();
    const order = await stack.k3Rows('SAL_SaleOrder', ['FBillNo'], `F_FXK_CrmId = '${orderId}'`);
    const notice = await stack.k3Rows('SAL_DELIVERYNOTICE', ['FBillNo'], `FSrcBillNo = '${order[0]?.[0]}'`);
    const noticeNo = String(notice[0]?.[0]);
    // The warehouse ships: notice → out-stock bill, audited (K3 work, outside the sync).
    const k3 = stack.k3Client();
    const shipped = await k3.push({
      formId: 'SAL_DELIVERYNOTICE',
      numbers: [noticeNo],
      ruleId: 'DeliveryNotice-OutStock',
      targetFormId: 'SAL_OUTSTOCK',
    });
    const outStockNo = shipped.targets[0]?.number;
    assert.ok(outStockNo);
    await k3.submit({ formId: 'SAL_OUTSTOCK', numbers: [outStockNo] });
    await k3.audit({ formId: 'SAL_OUTSTOCK', numbers: [outStockNo] });
    return { orderId, outStockNo };
  }

  async function notesOf(outStockNo: string) {
    return (await stack.fx.listRecords('DeliveryNoteObj')).filter(
      (n) => n.field_erp_bill_no__c === outStockNo,
    );
  }

  it('an audited out-stock bill becomes one CRM delivery note with its lines; the order shows shipped', async () => {
    const { orderId, outStockNo } = await shippedOrder('泰安泰山机械有限公司', 6);
    const summary = await stack.runDeliveries(scheduledEvent());
    assert.equal(summary.failed, 0, JSON.stringify(summary.items));
    assert.equal(summary.succeeded, 1);
    const notes = await notesOf(outStockNo);
    assert.equal(notes.length, 1);
    const note = await stack.fx.getRecord('DeliveryNoteObj', String(notes[0]?._id));
    assert.equal(note?.sales_order_id, orderId);
    assert.equal(note?.field_erp_form_id__c, 'SAL_OUTSTOCK');
    const lines = (await stack.fx.listRecords('DeliveryNoteProductObj')).filter(
      (line) => line.delivery_note_id === notes[0]?._id,
    );
    assert.deepEqual(
      lines.map((line) => [line.product_id, Number(line.delivery_num)]),
      [[productIds.get('WL0001'), 6]],
    );

    await stack.pump('crmWriteBack');
    assert.equal((await stack.fx.getRecord('SalesOrderObj', orderId))?.field_delivery_status__c, 'shipped');

    const again = await stack.runDeliveries(scheduledEvent());
    assert.equal(again.succeeded, 0, 'the overlap re-reads the bill but changes nothing');
    assert.equal((await notesOf(outStockNo)).length, 1, 'still one note');
    const cursor = await (await stack.runtime()).state.cursors.get('delivery-to-fxiaoke.SAL_OUTSTOCK');
    assert.ok(cursor, 'the form’s cursor moved');
  });

  it('a create whose response is lost is not repeated: the next run finds the note by its external key', async () => {
    const { outStockNo } = await shippedOrder('莱芜钢城贸易有限公司', 2);
    stack.fx.setFaults({ dropResponseAfterCommit: { paths: ['/cgi/crm/v2/data/create'], times: 1 } });
    const first = await stack.runDeliveries(scheduledEvent());
    stack.fx.setFaults({});
    assert.equal(first.failed, 1);
    assert.equal(first.incomplete, true, 'the cursor stops before the bill to retry');
    assert.equal((await notesOf(outStockNo)).length, 1, 'the lost create did commit');

    stack.clockOffsetMs += 5 * 60_000;
    const second = await stack.runDeliveries(scheduledEvent());
    assert.equal(second.failed, 0, JSON.stringify(second.items));
    assert.equal((await notesOf(outStockNo)).length, 1, 'still one note');
  });
});
