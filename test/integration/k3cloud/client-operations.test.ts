import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { K3CloudEmulator } from '../../../infra/local/k3cloud-emulator/api.ts';
import type { K3CloudClient } from '../../../lib/k3cloud/client.ts';
import {
  AUTH_MODES,
  clientFor,
  countByNumber,
  newCustomer,
  rejection,
  startEmulator,
  type TestClient,
} from './client-harness.ts';

/** A sales order per spec §5 (minimal SAL_SaleOrder), with two lines. */
function salesOrder(billNo: string, customer = 'CUST0001') {
  return {
    FID: 0,
    FBillNo: billNo,
    FBillTypeID: { FNUMBER: 'XSDD01_SYS' },
    FDate: '2024-01-15',
    FSaleOrgId: { FNumber: '100' },
    FCustId: { FNumber: customer },
    FSalerId: { FNumber: 'SALER001' },
    FSaleOrderFinance: { FSettleCurrId: { FNumber: 'PRE001' } },
    FSaleOrderEntry: [
      {
        FMaterialId: { FNumber: 'WL0001' },
        FUnitID: { FNumber: 'Pcs' },
        FPriceUnitId: { FNumber: 'Pcs' },
        FQty: 10,
        FTaxPrice: 113,
        FEntryTaxRate: 13,
        FDeliveryDate: '2024-01-20',
        FSettleOrgIds: { FNumber: '100' },
      },
      {
        FMaterialId: { FNumber: 'WL0002' },
        FUnitID: { FNumber: 'Pcs' },
        FPriceUnitId: { FNumber: 'Pcs' },
        FQty: 2,
        FTaxPrice: 90.4,
        FEntryTaxRate: 13,
        FDeliveryDate: '2024-01-20',
        FSettleOrgIds: { FNumber: '100' },
      },
    ],
  };
}

let orderSerial = 0;
const nextOrderNo = () => `ITSO${process.pid}-${++orderSerial}`;

for (const mode of AUTH_MODES)
  describe(`k3cloud client (${mode}): every operation against the emulator`, () => {
    let emulator: K3CloudEmulator;
    let test: TestClient;
    let k3: K3CloudClient;

    before(async () => {
      emulator = await startEmulator();
      test = clientFor(emulator.url, mode);
      k3 = test.client;
    });
    after(async () => {
      await k3.close();
      await emulator.close();
    });

    it('save creates, then updates without deleting entry rows by default (IsDeleteEntry false)', async () => {
      const billNo = nextOrderNo();
      const created = await k3.save({
        formId: 'SAL_SaleOrder',
        model: salesOrder(billNo),
        needReturnFields: ['FBillNo'],
      });
      assert.equal(created.number, billNo);
      const before = await k3.executeBillQuery({
        formId: 'SAL_SaleOrder',
        fieldKeys: ['FSaleOrderEntry_FEntryID', 'FQty'],
        filterString: `FBillNo = '${billNo}'`,
        orderString: 'FSaleOrderEntry_FEntryID',
      });
      assert.equal(before.length, 2);
      const firstEntryId = before[0]?.[0];
      // Update the quantity of the first line only, sending only that line.
      await k3.save({
        formId: 'SAL_SaleOrder',
        model: { FID: Number(created.id), FSaleOrderEntry: [{ FEntryID: firstEntryId, FQty: 15 }] },
        needUpdateFields: ['FSaleOrderEntry', 'FQty'],
      });
      const after = await k3.executeBillQuery({
        formId: 'SAL_SaleOrder',
        fieldKeys: ['FSaleOrderEntry_FEntryID', 'FQty'],
        filterString: `FBillNo = '${billNo}'`,
        orderString: 'FSaleOrderEntry_FEntryID',
      });
      assert.deepEqual(
        after.map((row) => row[1]),
        [15, 2],
        'the line that was not sent is still there',
      );
      // Opting in to K3's own semantics deletes the rows that were not sent.
      await k3.save({
        formId: 'SAL_SaleOrder',
        model: { FID: Number(created.id), FSaleOrderEntry: [{ FEntryID: firstEntryId, FQty: 16 }] },
        needUpdateFields: ['FSaleOrderEntry', 'FQty'],
        isDeleteEntry: true,
      });
      const replaced = await k3.executeBillQuery({
        formId: 'SAL_SaleOrder',
        fieldKeys: ['FQty'],
        filterString: `FBillNo = '${billNo}'`,
      });
      assert.deepEqual(replaced, [[16]]);
    });

    it('save refuses a duplicate number as a business error with K3’s text and field', async () => {
      const error = await rejection(
        k3.save({
          formId: 'BD_Customer',
          model: { FCUSTID: 0, FNumber: 'CUST0001', FName: '重复', FCreateOrgId: { FNumber: '100' } },
        }),
      );
      assert.equal(error.kind, 'business');
      assert.equal(error.msgCode, 11);
      assert.ok(error.remoteMessages.some((text) => text.startsWith('违反字段唯一性要求')));
      assert.ok(error.fieldNames.length > 0);
    });

    it('draft saves without validation; the draft has an id', async () => {
      const draft = await k3.draft({
        formId: 'SAL_SaleOrder',
        model: { ...salesOrder(nextOrderNo()), FSalerId: undefined },
      });
      assert.ok(Number(draft.id) > 0);
    });

    it('batchSave maps a partial failure back to the inputs by DIndex', async () => {
      const good1 = newCustomer('BS');
      const good2 = newCustomer('BS');
      const result = await k3.batchSave({
        formId: 'BD_Customer',
        models: [
          good1.model,
          { FCUSTID: 0, FNumber: 'CUST0002', FName: '重复', FCreateOrgId: { FNumber: '100' } },
          good2.model,
        ],
        batchCount: 2,
      });
      assert.equal(result.items.length, 3);
      assert.equal(result.succeeded, 2);
      assert.equal(result.failed, 1);
      const [first, second, third] = result.items;
      assert.ok(first?.ok && third?.ok);
      assert.equal(first.number, good1.number);
      assert.equal(third.number, good2.number);
      assert.ok(second && !second.ok);
      assert.equal(second.index, 1);
      assert.equal(second.error.kind, 'business');
      assert.ok(second.error.remoteMessages.some((text) => text.includes('CUST0002')));
      assert.equal(await countByNumber(emulator, 'BD_Customer', good1.number), 1);
      assert.equal(await countByNumber(emulator, 'BD_Customer', good2.number), 1);
    });

    it('view returns the record by number or id, and not-found for a missing number', async () => {
      const byNumber = await k3.view({ formId: 'BD_Customer', number: 'CUST0001' });
      assert.equal(byNumber.Number, 'CUST0001');
      const byId = await k3.view({ formId: 'BD_Customer', id: String(byNumber.Id) });
      assert.equal(byId.Number, 'CUST0001');
      const missing = await rejection(k3.view({ formId: 'BD_Customer', number: 'NO-SUCH-CUSTOMER' }));
      assert.equal(missing.kind, 'not-found');
    });

    it('executeBillQuery returns rows; an unknown field is a business error, never a data row', async () => {
      const rows = await k3.executeBillQuery({
        formId: 'BD_Customer',
        fieldKeys: 'FNumber,FName',
        filterString: "FNumber = 'CUST0002'",
      });
      assert.deepEqual(rows, [['CUST0002', '北京演示贸易有限公司']]);
      const error = await rejection(k3.executeBillQuery({ formId: 'BD_Customer', fieldKeys: 'FIssueType' }));
      assert.equal(error.kind, 'business');
      assert.equal(error.msgCode, 9);
    });

    it('queryAll pages with StartRow/Limit across several pages', async () => {
      const prefix = `QA${process.pid}`;
      const customers = Array.from({ length: 23 }, (_, i) => ({
        FCUSTID: 0,
        FNumber: `${prefix}-${String(i).padStart(3, '0')}`,
        FName: `分页客户 ${i}`,
        FCreateOrgId: { FNumber: '100' },
      }));
      const saved = await k3.batchSave({ formId: 'BD_Customer', models: customers });
      assert.equal(saved.succeeded, 23);
      emulator.resetStats();
      const query = {
        formId: 'BD_Customer',
        fieldKeys: ['FNumber', 'FName'],
        filterString: `FNumber like '${prefix}-%'`,
      };
      const rows = await k3.queryAll(query, { pageSize: 10 });
      assert.deepEqual(
        rows.map((row) => row[0]),
        customers.map((c) => c.FNumber),
      );
      assert.equal(emulator.stats().calls.ExecuteBillQuery, 3, 'pages of 10, 10 and 3');
      const pages: number[] = [];
      for await (const page of k3.queryPages(query, { pageSize: 23 })) pages.push(page.length);
      assert.deepEqual(
        pages,
        [23],
        'a full last page costs one more call that returns nothing and yields nothing',
      );
      const tooMany = await rejection(k3.queryAll(query, { pageSize: 5, maxRows: 12 }));
      assert.equal(tooMany.code, 'K3_QUERY_TOO_MANY_ROWS');
    });

    it('billQuery returns objects keyed by the field keys', async () => {
      const rows = await k3.billQuery({
        formId: 'BD_Customer',
        fieldKeys: ['FNumber', 'FName'],
        filterString: "FNumber = 'CUST0003'",
      });
      assert.deepEqual(rows, [{ FNumber: 'CUST0003', FName: '广州样例电子有限公司' }]);
    });

    it('submit → audit → unAudit → delete a sales order, with K3’s status changes', async () => {
      const billNo = nextOrderNo();
      const saved = await k3.save({ formId: 'SAL_SaleOrder', model: salesOrder(billNo) });
      const status = async () =>
        (
          await k3.executeBillQuery({
            formId: 'SAL_SaleOrder',
            fieldKeys: 'FDocumentStatus',
            filterString: `FBillNo = '${billNo}'`,
            topRowCount: 1,
          })
        )[0]?.[0];
      assert.equal(await status(), 'A');
      const submitted = await k3.submit({ formId: 'SAL_SaleOrder', numbers: [billNo] });
      assert.equal(submitted.successEntities[0]?.number, billNo);
      assert.equal(await status(), 'B');
      const audited = await k3.audit({ formId: 'SAL_SaleOrder', ids: [saved.id] });
      assert.equal(audited.successEntities[0]?.id, saved.id);
      assert.equal(await status(), 'C');
      const again = await rejection(k3.audit({ formId: 'SAL_SaleOrder', numbers: [billNo] }));
      assert.equal(again.kind, 'business');
      await k3.unAudit({ formId: 'SAL_SaleOrder', numbers: [billNo] });
      assert.equal(await status(), 'D');
      await k3.delete({ formId: 'SAL_SaleOrder', numbers: [billNo] });
      assert.equal(await countByNumber(emulator, 'SAL_SaleOrder', billNo), 0);
    });

    it('push returns the target bill and both statuses', async () => {
      const billNo = nextOrderNo();
      await k3.save({ formId: 'SAL_SaleOrder', model: salesOrder(billNo), isAutoSubmitAndAudit: true });
      const pushed = await k3.push({
        formId: 'SAL_SaleOrder',
        numbers: [billNo],
        ruleId: 'SaleOrder-DeliveryNotice',
        targetFormId: 'SAL_DELIVERYNOTICE',
      });
      assert.equal(pushed.responseStatus.isSuccess, true);
      assert.ok(pushed.convertResponseStatus, 'the conversion status is returned');
      assert.equal(pushed.convertResponseStatus.isSuccess, true);
      assert.equal(pushed.targets.length, 1);
      const target = pushed.targets[0];
      assert.ok(target?.id && target.number);
      assert.equal(await countByNumber(emulator, 'SAL_DELIVERYNOTICE', target.number), 1);
      const bad = await rejection(
        k3.push({ formId: 'SAL_SaleOrder', numbers: [billNo], ruleId: 'No-Such-Rule' }),
      );
      assert.equal(bad.kind, 'business');
      assert.ok(bad.remoteMessages.length > 0);
    });

    it('executeOperation (ExcuteOperation) forbids and enables base data', async () => {
      const { number, model } = newCustomer('OP');
      await k3.save({ formId: 'BD_Customer', model, isAutoSubmitAndAudit: true });
      const forbidden = await k3.executeOperation({
        formId: 'BD_Customer',
        opNumber: 'Forbid',
        numbers: [number],
      });
      assert.equal(forbidden.successEntities[0]?.number, number);
      const state = await k3.executeBillQuery({
        formId: 'BD_Customer',
        fieldKeys: 'FForbidStatus',
        filterString: `FNumber = '${number}'`,
      });
      assert.deepEqual(state, [['B']]);
      await k3.executeOperation({ formId: 'BD_Customer', opNumber: 'Enable', numbers: [number] });
    });

    it('allocate distributes a customer to another organisation', async () => {
      const { model } = newCustomer('AL');
      const saved = await k3.save({ formId: 'BD_Customer', model, isAutoSubmitAndAudit: true });
      const org = await k3.executeBillQuery({
        formId: 'ORG_Organizations',
        fieldKeys: 'FOrgID',
        filterString: "FNumber = '101'",
      });
      const orgId = org[0]?.[0];
      assert.ok(orgId !== undefined && orgId !== null);
      const result = await k3.allocate({
        formId: 'BD_Customer',
        pkIds: [saved.id],
        targetOrgIds: [String(orgId)],
      });
      assert.ok(result.successEntities.length >= 1);
    });

    it('getDataCenterList lists the data centre without logging in', async () => {
      const anonymous = clientFor(emulator.url, 'password');
      try {
        emulator.resetStats();
        const centres = await anonymous.client.getDataCenterList();
        assert.ok(centres.some((centre) => centre.id === '5f1a2b3c4d5e6f'));
        assert.equal(emulator.stats().logins, 0);
      } finally {
        await anonymous.client.close();
      }
    });

    it('bad input is a rejected promise with an invalid-input error, and nothing is sent', async () => {
      emulator.resetStats();
      const empty = await rejection(k3.save({ formId: '', model: {} }));
      assert.equal(empty.kind, 'invalid-input');
      const unserialisable = await rejection(
        k3.save({ formId: 'BD_Customer', model: { FCUSTID: 0, FNumber: 'X', FAmount: 10n } }),
      );
      assert.equal(unserialisable.code, 'K3_INVALID_INPUT');
      const noTarget = await rejection(k3.audit({ formId: 'SAL_SaleOrder', numbers: [] }));
      assert.equal(noTarget.fault, 'caller');
      assert.equal(emulator.stats().calls.Save ?? 0, 0);
      assert.equal(emulator.stats().calls.Audit ?? 0, 0);
    });

    it('reports one event per exchange through onCall', () => {
      assert.ok(test.events.length > 10);
      for (const event of test.events) {
        assert.ok(event.durationMs >= 0);
        assert.ok(event.attempt >= 1);
      }
      assert.ok(test.events.some((event) => event.operation === 'Save' && event.outcome === 'business'));
    });
  });
