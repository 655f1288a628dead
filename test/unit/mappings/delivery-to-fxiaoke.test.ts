import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError } from '../../../lib/errors.ts';
import {
  buildDeliveredQuantitiesQuery,
  buildDeliveryQuery,
  buildOrderedQuantitiesQuery,
  buildOrderStatusUpdate,
  type DeliveryBill,
  type DeliveryNoteMapping,
  type DeliveryNoteRefs,
  deliveryOrderNumbers,
  deriveDeliveryStatus,
  mapDeliveryBillToNote,
  parseQuantityRows,
  readDeliveryPage,
} from '../../../lib/mappings/delivery-to-fxiaoke.ts';
import { configWith, crmRecord, exampleConfig, k3Rows, mappingError, salesOrderFixture } from './helpers.ts';

const config = exampleConfig();
const DELIVERY = ['flows', 'deliveryToFxiaoke'] as const;
const outStock = k3Rows('outStock');
const order = salesOrderFixture();
const ORDER_ID = '65b2a1d3e4b0a1b2c3d4e600';
const P_CASE = '65a0000000000000000000a1';
const P_BOARD = '65a0000000000000000000a3';

function page(rows: unknown[][] = outStock.rows, pageConfig = config) {
  const query = buildDeliveryQuery(pageConfig, 'SAL_OUTSTOCK', { since: '2026-11-25T09:00:00' });
  return readDeliveryPage(pageConfig, query, rows);
}

function bill(fid: number): DeliveryBill {
  const found = page().bills.find((b) => b.fid === fid);
  assert.ok(found, `bill ${fid}`);
  return found;
}

const refs: DeliveryNoteRefs = {
  order: order.record,
  orderLines: order.details.SalesOrderProductObj,
  productIds: new Map([
    ['WL0001', P_CASE],
    ['WL0002', '65a0000000000000000000a2'],
    ['WL0003', P_BOARD],
    ['WL0005', '65a0000000000000000000a5'],
  ]),
};

function upsert(result: ReturnType<typeof mapDeliveryBillToNote>): DeliveryNoteMapping {
  if (result.action === 'skip') assert.fail(`unexpected skip: ${result.en}`);
  return result;
}

describe('delivery-to-fxiaoke', () => {
  describe('buildDeliveryQuery', () => {
    it('asks for one row per entry line, ordered for a keyset scan', () => {
      const query = buildDeliveryQuery(config, 'SAL_OUTSTOCK', {});
      assert.equal(query.FormId, 'SAL_OUTSTOCK');
      assert.equal(query.FieldKeys, outStock.FieldKeys);
      assert.equal(query.OrderString, 'FModifyDate ASC, FID ASC');
      assert.equal(query.Limit, 500);
      assert.equal(query.FilterString, "FModifyDate >= '2024-01-01 00:00:00'", 'first run: startFrom');
    });

    it('re-reads the overlap window before the cursor, then pages by keyset', () => {
      assert.equal(
        buildDeliveryQuery(config, 'SAL_OUTSTOCK', { since: '2026-11-25T09:30:12.347' }).FilterString,
        "FModifyDate >= '2026-11-25 09:25:12'",
      );
      assert.equal(
        buildDeliveryQuery(config, 'SAL_OUTSTOCK', {
          after: { modifyDate: '2026-11-25T09:30:12.347', fid: 100102 },
        }).FilterString,
        "(FModifyDate > '2026-11-25T09:30:12.347') OR ((FModifyDate = '2026-11-25T09:30:12.347') AND (FID > 100102))",
      );
    });

    it('delivery notices use their own quantity and order number keys; extra rule keys join the query', () => {
      const both = configWith((c) => {
        c.set([...DELIVERY, 'sourceForms'], ['SAL_OUTSTOCK', 'SAL_DELIVERYNOTICE']);
        c.set([...DELIVERY, 'saleOrgNumbers'], ['100', '101']);
        c.set([...DELIVERY, 'note', 'fields', 'remark'], { from: 'FNote', maxLength: 200 });
      });
      const query = buildDeliveryQuery(both, 'SAL_DELIVERYNOTICE', { since: '2026-11-25' });
      assert.ok(query.FieldKeys.includes(',FQty,FOrderNo,FNote'));
      assert.equal(
        query.FilterString,
        "(FModifyDate >= '2026-11-24 23:55:00') AND (FSaleOrgId.FNumber IN ('100','101'))",
      );
      assert.throws(() => buildDeliveryQuery(config, 'SAL_DELIVERYNOTICE', {}), ConfigError);
    });
  });

  describe('readDeliveryPage', () => {
    it('groups entry rows into bills and returns the cursor after the last one', () => {
      const result = page();
      assert.deepEqual(
        result.bills.map((b) => [
          b.billNo,
          b.documentStatus,
          b.lines.map((l) => [l.entryId, l.materialNumber, l.quantity, l.orderBillNo]),
        ]),
        [
          [
            'XSCKD000001',
            'C',
            [
              [300001, 'WL0001', 3, 'XSDD000001'],
              [300002, 'WL0003', 2, 'XSDD000001'],
              [300003, 'WL0002', 1, 'XSDD000002'],
            ],
          ],
          ['XSCKD000002', 'A', [[300004, 'WL0001', 2, 'XSDD000001']]],
          [
            'XSCKD000003',
            'C',
            [
              [300005, 'WL0004', 1, undefined],
              [300006, 'WL0005', 1, 'XSDD000001'],
            ],
          ],
        ],
      );
      assert.deepEqual(result.cursor, { modifyDate: '2026-11-26T10:02:00', fid: 100103 });
      assert.equal(result.next, undefined, 'a page that is not full is the last one');
    });

    it('holds back a bill cut by the page end and continues after the last complete bill', () => {
      const small = configWith((c) => c.set([...DELIVERY, 'pageSize'], 5));
      const result = page(outStock.rows.slice(0, 5), small);
      assert.deepEqual(
        result.bills.map((b) => b.billNo),
        ['XSCKD000001', 'XSCKD000002'],
      );
      assert.deepEqual(result.cursor, { modifyDate: '2026-11-25T09:30:12.347', fid: 100102 });
      assert.deepEqual(result.next, { after: result.cursor });
    });

    it('a single bill filling a whole page cannot make progress: raise pageSize', () => {
      const tiny = configWith((c) => c.set([...DELIVERY, 'pageSize'], 2));
      assert.throws(
        () => page(outStock.rows.slice(0, 2), tiny),
        (error: unknown) => error instanceof ConfigError && /pageSize/.test(error.problems[0] ?? ''),
      );
    });

    it('lists the sales orders a bill delivers', () => {
      assert.deepEqual(deliveryOrderNumbers(bill(100101)), ['XSDD000001', 'XSDD000002']);
      assert.deepEqual(deliveryOrderNumbers(bill(100103)), ['XSDD000001']);
    });
  });

  describe('mapDeliveryBillToNote', () => {
    const created = upsert(mapDeliveryBillToNote(bill(100101), 'XSDD000001', config, refs));

    it('maps the bill lines of one order to DeliveryNoteObj + DeliveryNoteProductObj', () => {
      assert.equal(created.mode, 'create');
      assert.deepEqual(created.objectData, {
        dataObjectApiName: 'DeliveryNoteObj',
        sales_order_id: ORDER_ID,
        account_id: '65a1f0c2e4b0a1b2c3d4e5f6',
        field_erp_bill_no__c: 'XSCKD000001',
        field_erp_form_id__c: 'SAL_OUTSTOCK',
        delivery_date: Date.UTC(2026, 10, 24, 16),
        status: '2',
      });
      assert.deepEqual(created.details, {
        DeliveryNoteProductObj: [
          { product_id: P_CASE, delivery_num: '3', sales_order_product_id: '65b2a1d3e4b0a1b2c3d4e601' },
          { product_id: P_BOARD, delivery_num: '2', sales_order_product_id: '65b2a1d3e4b0a1b2c3d4e602' },
        ],
      });
      assert.deepEqual(created.removedLineIds, []);
    });

    it('gives the filters that find an earlier note of the same bill and order', () => {
      assert.deepEqual(created.lookupFilters, [
        { field: 'field_erp_bill_no__c', operator: 'EQ', values: ['XSCKD000001'] },
        { field: 'sales_order_id', operator: 'EQ', values: [ORDER_ID] },
      ]);
    });

    it('updates an existing note: matched rows keep their _id, others are reported for removal', () => {
      const existing = {
        id: 'dn-1',
        lines: [
          crmRecord({ _id: 'dnp-1', product_id: P_BOARD, delivery_num: '1' }),
          crmRecord({ _id: 'dnp-2', product_id: '65a0000000000000000000a9', delivery_num: '1' }),
        ],
      };
      const updated = upsert(mapDeliveryBillToNote(bill(100101), 'XSDD000001', config, refs, { existing }));
      assert.equal(updated.mode, 'update');
      assert.equal(updated.objectData._id, 'dn-1');
      assert.deepEqual(
        updated.details.DeliveryNoteProductObj?.map((row) => [row._id, row.product_id]),
        [
          [undefined, P_CASE],
          ['dnp-1', P_BOARD],
        ],
      );
      assert.deepEqual(updated.removedLineIds, ['dnp-2']);
      assert.equal(updated.contentHash, created.contentHash);
    });

    it('the hash changes with a delivered quantity', () => {
      const rows = outStock.rows.map((row) =>
        row[7] === 300001 ? [...row.slice(0, 10), 4.0, row[11]] : row,
      );
      const [first] = page(rows).bills;
      assert.ok(first);
      const changed = upsert(mapDeliveryBillToNote(first, 'XSDD000001', config, refs));
      assert.notEqual(changed.contentHash, created.contentHash);
      assert.equal(changed.details.DeliveryNoteProductObj?.[0]?.delivery_num, '4');
    });

    it('skips bills that are not audited, unless configured otherwise', () => {
      const skipped = mapDeliveryBillToNote(bill(100102), 'XSDD000001', config, refs);
      assert.equal(skipped.action, 'skip');
      assert.equal(skipped.action === 'skip' && skipped.reason, 'not-audited');
      const all = configWith((c) => c.set([...DELIVERY, 'onlyAudited'], false));
      assert.equal(mapDeliveryBillToNote(bill(100102), 'XSDD000001', all, refs).action, 'upsert');
    });

    it('skips an order the bill does not deliver', () => {
      const result = mapDeliveryBillToNote(bill(100103), 'XSDD000002', config, refs);
      assert.equal(result.action === 'skip' && result.reason, 'no-lines');
    });

    it('a material with no CRM product is a business error naming the bill and the material', () => {
      const error = mappingError(() =>
        mapDeliveryBillToNote(bill(100101), 'XSDD000001', config, {
          ...refs,
          productIds: new Map([['WL0001', P_CASE]]),
        }),
      );
      assert.equal(error.kind, 'business');
      assert.equal(error.code, 'MAPPING_MATERIAL_WITHOUT_PRODUCT');
      assert.deepEqual(error.record, { apiName: 'SAL_OUTSTOCK', id: '100101', name: 'XSCKD000001' });
      assert.match(error.message, /^销售出库单 SAL_OUTSTOCK「XSCKD000001」/);
      assert.match(error.message, /material WL0003 has no product in Fxiaoke CRM/);
    });

    it('leaves the order line empty when several order lines have the product', () => {
      const twoCases = [
        ...(refs.orderLines ?? []),
        crmRecord({ _id: 'another-case-line', product_id: P_CASE, quantity: '1' }),
      ];
      const mapping = upsert(
        mapDeliveryBillToNote(bill(100101), 'XSDD000001', config, { ...refs, orderLines: twoCases }),
      );
      assert.equal(mapping.details.DeliveryNoteProductObj?.[0]?.sales_order_product_id, undefined);
    });
  });

  describe('order delivery status', () => {
    it('queries ordered quantities from the ERP order and delivered ones from the audited bills', () => {
      const ordered = buildOrderedQuantitiesQuery('XSDD000001');
      assert.equal(ordered.FieldKeys, k3Rows('orderedQuantities').FieldKeys);
      assert.equal(ordered.FilterString, "FBillNo = 'XSDD000001'");
      const delivered = buildDeliveredQuantitiesQuery(config, "XSDD'1");
      assert.equal(delivered.FieldKeys, k3Rows('deliveredQuantities').FieldKeys);
      assert.equal(delivered.FilterString, "(FSoorDerno = 'XSDD''1') AND (FDocumentStatus = 'C')");
    });

    it('derives partial from the fixtures, and writes it to the CRM order once', () => {
      const ordered = parseQuantityRows(
        buildOrderedQuantitiesQuery('XSDD000001'),
        k3Rows('orderedQuantities').rows,
      );
      const delivered = parseQuantityRows(
        buildDeliveredQuantitiesQuery(config, 'XSDD000001'),
        k3Rows('deliveredQuantities').rows,
      );
      const result = deriveDeliveryStatus(ordered, delivered);
      assert.equal(result.status, 'partial');
      assert.deepEqual(result.byMaterial, [
        { materialNumber: 'WL0001', ordered: 5, delivered: 3 },
        { materialNumber: 'WL0003', ordered: 2, delivered: 2 },
        { materialNumber: 'WL0005', ordered: 1, delivered: 1 },
      ]);
      assert.deepEqual(buildOrderStatusUpdate(order.record, result.status, config), {
        dataObjectApiName: 'SalesOrderObj',
        _id: ORDER_ID,
        field_delivery_status__c: 'partial',
      });
      assert.equal(buildOrderStatusUpdate(order.record, 'unshipped', config), undefined, 'already shown');
    });

    it('unshipped, shipped, over-delivery, rounding noise and unordered materials', () => {
      const ordered = [
        { materialNumber: 'WL0001', quantity: 0.3 },
        { materialNumber: 'WL0003', quantity: 2 },
      ];
      assert.equal(deriveDeliveryStatus(ordered, []).status, 'unshipped');
      assert.equal(
        deriveDeliveryStatus(ordered, [{ materialNumber: 'WL0009', quantity: 5 }]).status,
        'unshipped',
      );
      assert.equal(
        deriveDeliveryStatus(ordered, [
          { materialNumber: 'WL0001', quantity: 0.1 },
          { materialNumber: 'WL0001', quantity: 0.2 },
          { materialNumber: 'WL0003', quantity: 2 },
        ]).status,
        'shipped',
      );
      assert.equal(
        deriveDeliveryStatus(ordered, [
          { materialNumber: 'WL0001', quantity: 1 },
          { materialNumber: 'WL0003', quantity: 3 },
        ]).status,
        'shipped',
      );
      assert.equal(
        deriveDeliveryStatus(ordered, [{ materialNumber: 'WL0003', quantity: 2 }]).status,
        'partial',
      );
      assert.equal(deriveDeliveryStatus([], []).status, 'unshipped');
    });

    it('uses the configured CRM option values', () => {
      const coded = configWith((c) =>
        c.set([...DELIVERY, 'orderStatus', 'values'], { unshipped: '1', partial: '2', shipped: '3' }),
      );
      assert.equal(buildOrderStatusUpdate(order.record, 'shipped', coded)?.field_delivery_status__c, '3');
      const none = configWith((c) => c.delete([...DELIVERY, 'orderStatus']));
      assert.throws(() => buildOrderStatusUpdate(order.record, 'shipped', none), ConfigError);
    });
  });
});
