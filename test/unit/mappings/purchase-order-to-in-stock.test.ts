import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidInputError } from '../../../lib/errors.ts';
import {
  buildInStockPush,
  buildPurchaseOrderQuery,
  parsePurchaseOrderRows,
} from '../../../lib/mappings/purchase-order-to-in-stock.ts';
import { configWith, exampleConfig, k3Rows } from './helpers.ts';

const config = exampleConfig();
const PO = ['flows', 'purchaseOrderToInStock'] as const;

describe('purchase-order-to-in-stock', () => {
  describe('which purchase orders', () => {
    it('audited orders of the configured organisations and bill types, in modify-date order', () => {
      const query = buildPurchaseOrderQuery(config);
      assert.equal(query.FormId, 'PUR_PurchaseOrder');
      assert.equal(query.FieldKeys, k3Rows('purchaseOrders').FieldKeys);
      assert.equal(
        query.FilterString,
        "(FDocumentStatus = 'C') AND (FPurchaseOrgId.FNumber = '100') AND (FBillTypeID.FNumber = 'CGDD01_SYS')",
      );
      assert.equal(query.OrderString, 'FModifyDate ASC, FID ASC');
      assert.equal(query.Limit, 100);
    });

    it('a scheduled run reads from the cursor minus the overlap and leaves out pushed orders', () => {
      const query = buildPurchaseOrderQuery(config, {
        modifiedSince: '2026-11-21T15:45:10.5',
        excludeBillNos: ['CGDD000001'],
      });
      assert.equal(
        query.FilterString,
        "(FDocumentStatus = 'C') AND (FPurchaseOrgId.FNumber = '100') AND (FBillTypeID.FNumber = 'CGDD01_SYS') AND (FBillNo NOT IN ('CGDD000001')) AND (FModifyDate >= '2026-11-21 15:35:10')",
      );
    });

    it('on request: exactly the given numbers, escaped; suppliers and an extra condition when configured', () => {
      const scoped = configWith((c) => {
        c.set([...PO, 'supplierNumbers'], ['VEN00001']);
        c.set([...PO, 'extraFilter'], "FCloseStatus = 'A'");
      });
      const query = buildPurchaseOrderQuery(scoped, { billNos: ["CGDD'1", 'CGDD000002'] });
      assert.equal(
        query.FilterString,
        "(FDocumentStatus = 'C') AND (FPurchaseOrgId.FNumber = '100') AND (FBillTypeID.FNumber = 'CGDD01_SYS') AND (FSupplierId.FNumber = 'VEN00001') AND (FCloseStatus = 'A') AND (FBillNo IN ('CGDD''1','CGDD000002'))",
      );
    });

    it('next pages continue after the last order (keyset), and a bad cursor is refused', () => {
      const query = buildPurchaseOrderQuery(config, { after: { modifyDate: '2026-11-20T08:00:00', fid: 1 } });
      assert.match(
        query.FilterString,
        / AND \(\(FModifyDate > '2026-11-20T08:00:00'\) OR \(\(FModifyDate = '2026-11-20T08:00:00'\) AND \(FID > 1\)\)\)$/,
      );
      assert.throws(() => buildPurchaseOrderQuery(config, { modifiedSince: 'last week' }), InvalidInputError);
    });

    it('reads each order once, with the cursor after the last', () => {
      const query = buildPurchaseOrderQuery(config);
      const page = parsePurchaseOrderRows(query, k3Rows('purchaseOrders').rows);
      assert.deepEqual(page.orders, [
        { fid: 1, billNo: 'CGDD000001', modifyDate: '2026-11-20T08:00:00' },
        { fid: 7, billNo: 'CGDD000002', modifyDate: '2026-11-21T15:45:10.5' },
      ]);
      assert.deepEqual(page.cursor, { modifyDate: '2026-11-21T15:45:10.5', fid: 7 });
      assert.equal(page.more, false);
      const small = configWith((c) => c.set([...PO, 'pageSize'], 3));
      assert.equal(
        parsePurchaseOrderRows(buildPurchaseOrderQuery(small), k3Rows('purchaseOrders').rows).more,
        true,
      );
      assert.deepEqual(parsePurchaseOrderRows(query, []), { orders: [], cursor: undefined, more: false });
    });
  });

  describe('push', () => {
    it('pushes one order with the configured rule and target', () => {
      assert.deepEqual(buildInStockPush('CGDD000001', config), {
        Ids: '',
        Numbers: ['CGDD000001'],
        EntryIds: '',
        RuleId: 'PUR_PurchaseOrder-STK_InStock',
        TargetBillTypeId: '',
        TargetOrgId: 0,
        TargetFormId: 'STK_InStock',
        IsEnableDefaultRule: false,
        IsDraftWhenSaveFail: false,
        CustomParams: {},
      });
      assert.equal(buildInStockPush('CGDD000001', config, { targetOrgId: 1 }).TargetOrgId, 1);
    });
  });
});
