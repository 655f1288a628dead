import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { K3Model } from '../../../lib/mappings/k3-requests.ts';
import type { ResolvedMaterial } from '../../../lib/mappings/materials.ts';
import {
  buildSaleOrderLookup,
  buildSaleOrderWriteBack,
  type ExistingSaleOrder,
  mapSalesOrderToSaleOrder,
  parseSaleOrderLookup,
  type SaleOrderRefs,
} from '../../../lib/mappings/sales-order-to-sale-order.ts';
import { configWith, exampleConfig, k3Rows, mappingError, salesOrderFixture } from './helpers.ts';

const config = exampleConfig();
const ORDER = ['flows', 'salesOrderToSaleOrder'] as const;
const order = salesOrderFixture();

const P_CASE = '65a0000000000000000000a1';
const P_BOARD = '65a0000000000000000000a3';
const P_SCREWS = '65a0000000000000000000a5';

function refs(materials: Record<string, ResolvedMaterial> = {}): SaleOrderRefs {
  return {
    customerNumber: 'CUST0004',
    materials: new Map(
      Object.entries({
        [P_CASE]: { number: 'WL0001', unitNumber: 'Pcs' },
        [P_BOARD]: { number: 'WL0003', unitNumber: 'Box' },
        [P_SCREWS]: { number: 'WL0005', unitNumber: 'Pcs' },
        ...materials,
      }),
    ),
  };
}

const entry = (material: string, unit: string, qty: number, price: number, extra: K3Model = {}): K3Model => ({
  FMaterialId: { FNumber: material },
  FUnitID: { FNumber: unit },
  FPriceUnitId: { FNumber: unit },
  FQty: qty,
  FTaxPrice: price,
  FEntryTaxRate: 13,
  FIsFree: false,
  FDeliveryDate: '2026-11-30',
  FSettleOrgIds: { FNumber: '100' },
  FStockOrgId: { FNumber: '100' },
  ...extra,
});

function entries(model: K3Model): K3Model[] {
  const rows = model.FSaleOrderEntry;
  assert.ok(Array.isArray(rows));
  return rows;
}

const existing = (): ExistingSaleOrder => {
  const query = buildSaleOrderLookup(config, { order: order.record });
  const found = parseSaleOrderLookup(query, k3Rows('saleOrderLookup').rows, config, order.record);
  assert.ok(found);
  return found;
};

describe('sales-order-to-sale-order', () => {
  describe('create', () => {
    const mapping = mapSalesOrderToSaleOrder(order, config, refs());

    it('builds SAL_SaleOrder with entries from the CRM order and its lines', () => {
      assert.equal(mapping.mode, 'create');
      assert.deepEqual(mapping.save, {
        Model: {
          FID: 0,
          FBillTypeID: { FNUMBER: 'XSDD01_SYS' },
          FDate: '2026-11-23',
          FSaleOrgId: { FNumber: '100' },
          FCustId: { FNumber: 'CUST0004' },
          F_FXK_CrmId: '65b2a1d3e4b0a1b2c3d4e600',
          FSaleOrderFinance: { FSettleCurrId: { FNumber: 'PRE001' }, FIsIncludedTax: true },
          FSalerId: { FNumber: 'SALER002' },
          FSaleDeptId: { FNumber: 'BM000001' },
          FNote: "请周五前送达，O'Brien 仓库收货",
          FSaleOrderEntry: [
            entry('WL0001', 'Pcs', 5, 113, { FEntryNote: '黑色' }),
            entry('WL0003', 'Box', 2, 450),
            entry('WL0005', 'Pcs', 1, 115),
          ],
        },
      });
      assert.deepEqual(Object.keys(mapping.save.Model).slice(0, 5), [
        'FID',
        'FBillTypeID',
        'FDate',
        'FSaleOrgId',
        'FCustId',
      ]);
    });

    it('orders lines by creation time, whatever order the CRM returned them in', () => {
      assert.deepEqual(
        mapping.lines.map((l) => [l.crmLineId, l.materialNumber, l.quantity]),
        [
          ['65b2a1d3e4b0a1b2c3d4e601', 'WL0001', 5],
          ['65b2a1d3e4b0a1b2c3d4e602', 'WL0003', 2],
          ['65b2a1d3e4b0a1b2c3d4e603', 'WL0005', 1],
        ],
      );
      const reversed = salesOrderFixture((raw) => raw.details.SalesOrderProductObj.reverse());
      assert.equal(mapSalesOrderToSaleOrder(reversed, config, refs()).contentHash, mapping.contentHash);
    });

    it('leaves deleted and invalidated lines out', () => {
      const withDeleted = salesOrderFixture((raw) => {
        const line = raw.details.SalesOrderProductObj[0];
        assert.ok(line);
        line.is_deleted = true;
      });
      assert.equal(entries(mapSalesOrderToSaleOrder(withDeleted, config, refs()).save.Model).length, 2);
    });

    it('uses the order date when the CRM order has no delivery date', () => {
      const noDelivery = salesOrderFixture((raw) => {
        raw.record.delivery_date = null;
      });
      const rows = entries(mapSalesOrderToSaleOrder(noDelivery, config, refs()).save.Model);
      assert.deepEqual(
        rows.map((r) => r.FDeliveryDate),
        ['2026-11-23', '2026-11-23', '2026-11-23'],
      );
    });

    it('FPrice instead of FTaxPrice when CRM prices exclude tax', () => {
      const net = configWith((c) => c.set([...ORDER, 'priceIncludesTax'], false));
      const mapped = mapSalesOrderToSaleOrder(order, net, refs());
      assert.equal(entries(mapped.save.Model)[0]?.FPrice, 113);
      assert.equal(entries(mapped.save.Model)[0]?.FTaxPrice, undefined);
    });

    it('FBillNo as the external key: the CRM order number becomes the bill number', () => {
      const byBillNo = configWith((c) =>
        c.set([...ORDER, 'externalKey'], { erpField: 'FBillNo', crmField: 'name' }),
      );
      const mapped = mapSalesOrderToSaleOrder(order, byBillNo, refs());
      assert.equal(mapped.save.Model.FBillNo, '20261123-000001');
      assert.equal('F_FXK_CrmId' in mapped.save.Model, false);
      assert.deepEqual(Object.keys(mapped.save.Model).slice(0, 3), ['FID', 'FBillTypeID', 'FBillNo']);
    });
  });

  describe('update: entry matching', () => {
    it('keeps FEntryID of matched rows, adds new lines with 0, deletes rows with no line deliberately', () => {
      const current = existing();
      assert.deepEqual(
        current.entries.map((e) => [e.entryId, e.materialNumber]),
        [
          [200001, 'WL0001'],
          [200002, 'WL0003'],
          [200003, 'WL0004'],
        ],
      );
      const mapping = mapSalesOrderToSaleOrder(order, config, refs(), { existing: current });
      assert.equal(mapping.mode, 'update');
      const model = mapping.save.Model;
      assert.equal(model.FID, 100001);
      assert.equal('FBillTypeID' in model, false, 'bill type is create-only');
      assert.deepEqual(
        entries(model).map((r) => [r.FEntryID, r.FMaterialId]),
        [
          [200001, { FNumber: 'WL0001' }],
          [200002, { FNumber: 'WL0003' }],
          [0, { FNumber: 'WL0005' }],
        ],
      );
      assert.equal(mapping.save.IsDeleteEntry, true);
      assert.deepEqual(mapping.entryPlan?.removed, [200003]);
      assert.deepEqual(mapping.entryPlan?.added, ['65b2a1d3e4b0a1b2c3d4e603']);
      const fields = mapping.save.NeedUpDateFields ?? [];
      for (const key of [
        'FDate',
        'FCustId',
        'FSaleOrderFinance',
        'FSettleCurrId',
        'FSaleOrderEntry',
        'FQty',
        'FTaxPrice',
      ]) {
        assert.ok(fields.includes(key), `NeedUpDateFields has ${key}`);
      }
      assert.equal(fields.includes('FEntryID'), false);
      assert.deepEqual(
        entries(model).map((r) => r.FEntryNote),
        ['黑色', '', undefined],
        'a note emptied in the CRM is cleared on its kept row; new rows simply omit it',
      );
      assert.equal(fields.includes('FID'), false);
      assert.equal(mapping.contentHash, mapSalesOrderToSaleOrder(order, config, refs()).contentHash);
    });

    it('IsDeleteEntry stays false when every ERP row still has its CRM line', () => {
      const current: ExistingSaleOrder = {
        id: 100001,
        billNo: 'XSDD000001',
        documentStatus: 'A',
        entries: [
          { entryId: 200001, materialNumber: 'WL0001', lineKey: undefined },
          { entryId: 200002, materialNumber: 'WL0003', lineKey: undefined },
        ],
      };
      const mapping = mapSalesOrderToSaleOrder(order, config, refs(), { existing: current });
      assert.equal(mapping.save.IsDeleteEntry, false);
      assert.deepEqual(mapping.entryPlan?.removed, []);
    });

    it('with a line key field, rows match their own CRM line even when materials repeat', () => {
      const keyed = configWith((c) => c.set([...ORDER, 'entryKey'], { erpField: 'F_FXK_CrmLineId' }));
      const twoOfTheSame = salesOrderFixture((raw) => {
        for (const line of raw.details.SalesOrderProductObj) line.product_id = P_CASE;
      });
      const current: ExistingSaleOrder = {
        id: 100001,
        billNo: 'XSDD000001',
        documentStatus: 'A',
        entries: [
          { entryId: 200001, materialNumber: 'WL0001', lineKey: '65b2a1d3e4b0a1b2c3d4e603' },
          { entryId: 200002, materialNumber: 'WL0001', lineKey: 'a-line-deleted-in-the-crm' },
          { entryId: 200003, materialNumber: 'WL0001', lineKey: '65b2a1d3e4b0a1b2c3d4e601' },
        ],
      };
      const mapping = mapSalesOrderToSaleOrder(twoOfTheSame, keyed, refs(), { existing: current });
      assert.deepEqual(
        entries(mapping.save.Model).map((r) => [r.F_FXK_CrmLineId, r.FEntryID]),
        [
          ['65b2a1d3e4b0a1b2c3d4e601', 200003],
          ['65b2a1d3e4b0a1b2c3d4e602', 0],
          ['65b2a1d3e4b0a1b2c3d4e603', 200001],
        ],
      );
      assert.deepEqual(mapping.entryPlan?.removed, [200002], 'a keyed row of a deleted line is never reused');
      const query = buildSaleOrderLookup(keyed, { id: 100001 });
      assert.equal(query.FilterString, 'FID = 100001');
      assert.ok(query.FieldKeys.endsWith(',F_FXK_CrmLineId'));
    });

    it('without keys, repeated materials match first-to-first in order', () => {
      const twoOfTheSame = salesOrderFixture((raw) => {
        for (const line of raw.details.SalesOrderProductObj) line.product_id = P_CASE;
      });
      const current: ExistingSaleOrder = {
        id: 1,
        billNo: 'X',
        documentStatus: 'A',
        entries: [
          { entryId: 11, materialNumber: 'WL0001', lineKey: undefined },
          { entryId: 12, materialNumber: 'WL0001', lineKey: undefined },
        ],
      };
      const mapping = mapSalesOrderToSaleOrder(twoOfTheSame, config, refs(), { existing: current });
      assert.deepEqual(
        entries(mapping.save.Model).map((r) => r.FEntryID),
        [11, 12, 0],
      );
      assert.equal(mapping.save.IsDeleteEntry, false);
    });
  });

  describe('problems', () => {
    it('a product without an ERP material is a business error naming the product', () => {
      const materials = refs();
      const withoutBoard = {
        ...materials,
        materials: new Map([...materials.materials].filter(([id]) => id !== P_BOARD)),
      };
      const error = mappingError(() => mapSalesOrderToSaleOrder(order, config, withoutBoard));
      assert.equal(error.kind, 'business');
      assert.equal(error.code, 'MAPPING_PRODUCT_WITHOUT_MATERIAL');
      assert.deepEqual(error.record, {
        apiName: 'SalesOrderObj',
        id: '65b2a1d3e4b0a1b2c3d4e600',
        name: '20261123-000001',
      });
      assert.match(error.message, /产品「主板」\(id 65a0000000000000000000a3\) 在金蝶中没有对应的物料/);
      assert.match(
        error.message,
        /product "主板" \(id 65a0000000000000000000a3\) has no material in K3Cloud/,
      );
    });

    it('missing required CRM data names the field (and the line)', () => {
      const bad = salesOrderFixture((raw) => {
        raw.record.order_time = null;
        const [first, second, third] = raw.details.SalesOrderProductObj;
        assert.ok(first && second && third);
        first.quantity = '0';
        second.sales_price = '';
        delete third.product_id;
      });
      const error = mappingError(() => mapSalesOrderToSaleOrder(bad, config, refs()));
      assert.deepEqual(
        error.problems.map((p) => [p.code, p.field]),
        [
          ['REQUIRED_FIELD_MISSING', 'order_time'],
          ['REQUIRED_FIELD_MISSING', 'sales_price'],
          ['INVALID_QUANTITY', 'quantity'],
          ['REQUIRED_FIELD_MISSING', 'product_id'],
        ],
      );
      assert.match(
        error.message,
        /订单产品「主板」\(id 65b2a1d3e4b0a1b2c3d4e602\)：数量 quantity 为 "0"，必须大于 0/,
      );
    });

    it('a zero price fails with K3’s own reason, or becomes a gift when configured', () => {
      const gift = salesOrderFixture((raw) => {
        const line = raw.details.SalesOrderProductObj[2];
        assert.ok(line);
        line.sales_price = '0.00';
        line.subtotal = '0.00';
      });
      const error = mappingError(() => mapSalesOrderToSaleOrder(gift, config, refs()));
      assert.equal(error.code, 'MAPPING_ZERO_PRICE');
      assert.match(error.message, /非赠品单价不能为0/);
      const free = configWith((c) => c.set([...ORDER, 'zeroPriceLines'], 'free'));
      const rows = entries(mapSalesOrderToSaleOrder(gift, free, refs()).save.Model);
      assert.equal(rows[2]?.FIsFree, true);
      assert.equal(rows[2]?.FTaxPrice, 0);
    });

    it('applies the line discount when configured, and checks the result against the CRM amount', () => {
      const discounted = salesOrderFixture((raw) => {
        const line = raw.details.SalesOrderProductObj[1];
        assert.ok(line);
        Object.assign(line, { quantity: '100', sales_price: '12.00', discount: '95', subtotal: '1140.00' });
      });
      const rows = entries(mapSalesOrderToSaleOrder(discounted, config, refs()).save.Model);
      assert.equal(rows[0]?.FTaxPrice, 11.4);
      assert.equal(rows[0]?.FQty, 100);

      const netPrices = configWith((c) => c.delete([...ORDER, 'discountField']));
      const error = mappingError(() => mapSalesOrderToSaleOrder(discounted, netPrices, refs()));
      assert.equal(error.kind, 'config');
      assert.equal(error.code, 'MAPPING_SUBTOTAL_MISMATCH');
      assert.match(error.message, /quantity × price = 1200, but the CRM line amount is 1140/);

      const unchecked = configWith((c) => {
        c.delete([...ORDER, 'discountField']);
        c.set([...ORDER, 'checkSubtotal'], false);
      });
      assert.equal(
        entries(mapSalesOrderToSaleOrder(discounted, unchecked, refs()).save.Model)[0]?.FTaxPrice,
        12,
      );
    });

    it('an order without lines is refused', () => {
      const empty = salesOrderFixture((raw) => {
        raw.details.SalesOrderProductObj = [];
      });
      assert.equal(
        mappingError(() => mapSalesOrderToSaleOrder(empty, config, refs())).code,
        'MAPPING_NO_LINES',
      );
    });

    it('a material without a unit and no default unit is a config problem', () => {
      const error = mappingError(() =>
        mapSalesOrderToSaleOrder(order, config, refs({ [P_SCREWS]: { number: 'WL0005' } })),
      );
      assert.equal(error.kind, 'config');
      assert.equal(error.code, 'MAPPING_NO_UNIT');
      const withDefault = configWith((c) => c.set([...ORDER, 'defaultUnitNumber'], 'Pcs'));
      const rows = entries(
        mapSalesOrderToSaleOrder(order, withDefault, refs({ [P_SCREWS]: { number: 'WL0005' } })).save.Model,
      );
      assert.deepEqual(rows[2]?.FUnitID, { FNumber: 'Pcs' });
    });
  });

  describe('lookup and write-back', () => {
    it('looks the order up by its external key and reads the rows', () => {
      const query = buildSaleOrderLookup(config, { order: order.record });
      assert.equal(query.FieldKeys, k3Rows('saleOrderLookup').FieldKeys);
      assert.equal(query.FilterString, "F_FXK_CrmId = '65b2a1d3e4b0a1b2c3d4e600'");
      assert.equal(parseSaleOrderLookup(query, [], config), undefined);
      const duplicate = [
        [100001, 'XSDD000001', 'A', 200001, 'WL0001'],
        [100002, 'XSDD000002', 'A', 200009, 'WL0001'],
      ];
      assert.equal(
        mappingError(() => parseSaleOrderLookup(query, duplicate, config, order.record)).code,
        'MAPPING_DUPLICATE_EXTERNAL_KEY',
      );
      const headerOnly = parseSaleOrderLookup(query, [[100001, 'XSDD000001', 'C', null, null]], config);
      assert.deepEqual(headerOnly, { id: 100001, billNo: 'XSDD000001', documentStatus: 'C', entries: [] });
    });

    it('writes the ERP bill number back to the CRM order', () => {
      assert.deepEqual(buildSaleOrderWriteBack(order.record, 'XSDD000001', config), {
        dataObjectApiName: 'SalesOrderObj',
        _id: '65b2a1d3e4b0a1b2c3d4e600',
        field_erp_bill_no__c: 'XSDD000001',
      });
    });
  });
});
