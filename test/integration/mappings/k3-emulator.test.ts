/**
 * The shipped example config against the K3Cloud emulator's demo company, through the real K3Cloud client:
 * every payload and query the mappings build is accepted by the emulator (field keys, references, filter
 * syntax), and what comes back reads through the mappings' own parsers. This is the contract between
 * `config/sync.example.yaml`, the mappings and the emulator's form metadata; the pipeline's I/O (links,
 * logs, CRM writes) is not part of it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { K3CloudEmulator } from '../../../infra/local/k3cloud-emulator/api.ts';
import { startK3CloudEmulator } from '../../../infra/local/k3cloud-emulator/server.ts';
import { K3CloudClient } from '../../../lib/k3cloud/client.ts';
import { K3CLOUD_SANDBOX_IDENTITY, readK3CloudConfig } from '../../../lib/k3cloud/config.ts';
import {
  buildCustomerAllocate,
  buildCustomerLookup,
  mapAccountToCustomer,
  parseCustomerLookup,
} from '../../../lib/mappings/account-to-customer.ts';
import { requireFlow } from '../../../lib/mappings/config.ts';
import {
  buildDeliveredQuantitiesQuery,
  buildDeliveryQuery,
  buildOrderedQuantitiesQuery,
  deliveryOrderNumbers,
  deriveDeliveryStatus,
  mapDeliveryBillToNote,
  parseQuantityRows,
  readDeliveryPage,
} from '../../../lib/mappings/delivery-to-fxiaoke.ts';
import {
  toAllocateInput,
  toPushInput,
  toQueryInput,
  toSaveInput,
} from '../../../lib/mappings/k3-client-inputs.ts';
import {
  buildOrgIdQuery,
  buildPushData,
  type K3BillQuery,
  parseOrgIds,
} from '../../../lib/mappings/k3-requests.ts';
import { buildMaterialQuery, parseMaterialRows, resolveMaterials } from '../../../lib/mappings/materials.ts';
import {
  buildInStockPush,
  buildPurchaseOrderQuery,
  parsePurchaseOrderRows,
} from '../../../lib/mappings/purchase-order-to-in-stock.ts';
import { buildDeliveryNoticePush } from '../../../lib/mappings/sale-order-to-delivery-notice.ts';
import {
  buildSaleOrderLookup,
  mapSalesOrderToSaleOrder,
  parseSaleOrderLookup,
} from '../../../lib/mappings/sales-order-to-sale-order.ts';
import {
  accountFixture,
  exampleConfig,
  productFixtures,
  salesOrderFixture,
} from '../../unit/mappings/helpers.ts';

const config = exampleConfig();

describe('example config against the K3Cloud emulator', () => {
  let emulator: K3CloudEmulator;
  let k3: K3CloudClient;
  const query = (q: K3BillQuery) => k3.executeBillQuery(toQueryInput(q));
  const state: { customerNumber?: string; orderBillNo?: string } = {};

  before(async () => {
    emulator = await startK3CloudEmulator({
      port: 0,
      identity: {
        acctId: K3CLOUD_SANDBOX_IDENTITY.K3CLOUD_ACCT_ID,
        username: K3CLOUD_SANDBOX_IDENTITY.K3CLOUD_USERNAME,
        appId: K3CLOUD_SANDBOX_IDENTITY.K3CLOUD_APP_ID,
        appSecret: K3CLOUD_SANDBOX_IDENTITY.K3CLOUD_APP_SECRET,
        password: K3CLOUD_SANDBOX_IDENTITY.K3CLOUD_PASSWORD,
      },
    });
    k3 = new K3CloudClient({
      config: readK3CloudConfig({ K3CLOUD_SERVER_URL: emulator.url }, { sandbox: true }),
    });
  });

  after(async () => {
    await k3?.close();
    await emulator?.close();
  });

  it('account → customer: lookup misses, create + audit + allocate, then the lookup finds it for an update', async () => {
    const account = accountFixture();
    const lookup = buildCustomerLookup(account, config);
    assert.equal(parseCustomerLookup(lookup, await query(lookup), account), undefined);

    const created = mapAccountToCustomer(account, config);
    const saved = await k3.save(toSaveInput('BD_Customer', created.save));
    assert.match(
      saved.number ?? '',
      /^CUST\d{4}$/,
      'auto-numbered: the key is the extension field, not FNumber',
    );
    await k3.submit({ formId: 'BD_Customer', ids: [saved.id] });
    await k3.audit({ formId: 'BD_Customer', ids: [saved.id] });

    const allocateTo = requireFlow(config, 'accountToCustomer').allocate?.orgNumbers ?? [];
    const orgQuery = buildOrgIdQuery(allocateTo);
    const orgIds = parseOrgIds(orgQuery, await query(orgQuery), allocateTo);
    const allocate = buildCustomerAllocate(Number(saved.id), [...orgIds.values()], config);
    assert.ok(allocate);
    await k3.allocate(toAllocateInput('BD_Customer', allocate));

    const found = parseCustomerLookup(lookup, await query(lookup), account);
    assert.equal(
      found?.id,
      Number(saved.id),
      'allocation copies in 101/102 do not make the lookup ambiguous',
    );
    assert.equal(found?.documentStatus, 'C');
    state.customerNumber = found?.number;

    await k3.unAudit({ formId: 'BD_Customer', ids: [saved.id] });
    const updated = mapAccountToCustomer(accountFixture({ tel: '021-55550199' }), config, {
      existing: found,
    });
    await k3.save(toSaveInput('BD_Customer', updated.save));
    const check = await k3.executeBillQuery({
      formId: 'BD_Customer',
      fieldKeys: ['FNumber', 'FTEL', 'FFAX', 'FSELLER.FNumber', 'FCreateOrgId.FNumber'],
      filterString: `FCUSTID = ${saved.id}`,
    });
    assert.deepEqual(check, [[saved.number, '021-55550199', '', 'SALER002', '100']]);
  });

  it('sales order: create with entries, then an update keeps FEntryIDs and deletes the removed line', async () => {
    assert.ok(state.customerNumber, 'needs the customer of the previous test');
    const products = productFixtures();
    const materialNumbers = ['WL0001', 'WL0003', 'WL0005', 'ZB-OLD-CODE'];
    const materialQuery = buildMaterialQuery(config, materialNumbers);
    const erpMaterials = parseMaterialRows(materialQuery, await query(materialQuery));
    assert.deepEqual([...erpMaterials.keys()].sort(), ['WL0001', 'WL0003', 'WL0005']);
    const { materials, unusable } = resolveMaterials(products, config, erpMaterials);
    assert.deepEqual(
      [...materials.values()],
      [
        { number: 'WL0001', unitNumber: 'Pcs' },
        { number: 'WL0003', unitNumber: 'Pcs' },
        { number: 'WL0005', unitNumber: 'Pcs' },
      ],
      'base units from K3; the override field wins over an outdated product code',
    );
    assert.deepEqual(
      unusable.map((u) => u.reason),
      ['no-number'],
    );
    const refs = { customerNumber: state.customerNumber, materials };

    const order = salesOrderFixture();
    const lookup = buildSaleOrderLookup(config, { order: order.record });
    assert.equal(parseSaleOrderLookup(lookup, await query(lookup), config), undefined);
    const created = mapSalesOrderToSaleOrder(order, config, refs);
    const saved = await k3.save(toSaveInput('SAL_SaleOrder', created.save));
    state.orderBillNo = saved.number ?? undefined;

    const existing = parseSaleOrderLookup(lookup, await query(lookup), config);
    assert.equal(existing?.entries.length, 3);

    const withoutScrews = salesOrderFixture((raw) => {
      raw.details.SalesOrderProductObj = raw.details.SalesOrderProductObj.filter(
        (line) => line.product_id !== '65a0000000000000000000a5',
      );
    });
    const updated = mapSalesOrderToSaleOrder(withoutScrews, config, refs, { existing });
    assert.equal(updated.save.IsDeleteEntry, true);
    await k3.save(toSaveInput('SAL_SaleOrder', updated.save));
    const after = parseSaleOrderLookup(lookup, await query(lookup), config);
    assert.deepEqual(
      after?.entries.map((e) => [e.entryId, e.materialNumber]),
      existing?.entries
        .filter((e) => e.materialNumber !== 'WL0005')
        .map((e) => [e.entryId, e.materialNumber]),
    );
    await k3.submit({ formId: 'SAL_SaleOrder', numbers: [saved.number ?? ''] });
    await k3.audit({ formId: 'SAL_SaleOrder', numbers: [saved.number ?? ''] });
  });

  it('delivery: push notice and out-stock, read the bills back, map the CRM note and the order status', async () => {
    const billNo = state.orderBillNo;
    assert.ok(billNo, 'needs the order of the previous test');
    const notice = await k3.push(toPushInput('SAL_SaleOrder', buildDeliveryNoticePush(billNo, config)));
    const noticeNo = notice.targets[0]?.number;
    assert.ok(noticeNo);
    await k3.submit({ formId: 'SAL_DELIVERYNOTICE', numbers: [noticeNo] });
    await k3.audit({ formId: 'SAL_DELIVERYNOTICE', numbers: [noticeNo] });
    const outStockPush = buildPushData({
      numbers: [noticeNo],
      ruleId: 'DeliveryNotice-OutStock',
      targetFormId: 'SAL_OUTSTOCK',
      targetBillTypeId: '',
      targetOrgId: 0,
      draftWhenSaveFails: false,
    });
    const outStock = await k3.push(toPushInput('SAL_DELIVERYNOTICE', outStockPush));
    const outStockNo = outStock.targets[0]?.number;
    assert.ok(outStockNo);
    await k3.submit({ formId: 'SAL_OUTSTOCK', numbers: [outStockNo] });
    await k3.audit({ formId: 'SAL_OUTSTOCK', numbers: [outStockNo] });

    const pageQuery = buildDeliveryQuery(config, 'SAL_OUTSTOCK', {});
    const page = readDeliveryPage(config, pageQuery, await query(pageQuery));
    const bill = page.bills.find((b) => b.billNo === outStockNo);
    assert.ok(bill, 'the new out-stock bill is in the scan');
    assert.deepEqual(deliveryOrderNumbers(bill), [billNo]);
    assert.deepEqual(page.cursor, { modifyDate: page.bills.at(-1)?.modifyDate, fid: page.bills.at(-1)?.fid });

    const order = salesOrderFixture();
    const note = mapDeliveryBillToNote(bill, billNo, config, {
      order: order.record,
      orderLines: order.details.SalesOrderProductObj,
      productIds: new Map([
        ['WL0001', '65a0000000000000000000a1'],
        ['WL0003', '65a0000000000000000000a3'],
      ]),
    });
    assert.equal(note.action, 'upsert');
    assert.equal(note.action === 'upsert' && note.objectData.field_erp_bill_no__c, outStockNo);

    const ordered = buildOrderedQuantitiesQuery(billNo);
    const delivered = buildDeliveredQuantitiesQuery(config, billNo);
    const status = deriveDeliveryStatus(
      parseQuantityRows(ordered, await query(ordered)),
      parseQuantityRows(delivered, await query(delivered)),
    );
    assert.equal(status.status, 'shipped', 'the push delivers the full quantity');
  });

  it('purchase orders: the seeded audited order is listed and pushed to an in-stock bill', async () => {
    const listQuery = buildPurchaseOrderQuery(config);
    const page = parsePurchaseOrderRows(listQuery, await query(listQuery));
    assert.ok(page.orders.some((o) => o.billNo === 'CGDD000001'));
    const result = await k3.push(toPushInput('PUR_PurchaseOrder', buildInStockPush('CGDD000001', config)));
    assert.match(result.targets[0]?.number ?? '', /^CGRK\d+/);
  });
});
