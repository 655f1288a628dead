/**
 * The sandbox story with the shipped example config: both emulators with their demo data, the real
 * clients, and the mapping functions in the order the pipeline will call them. The seeded CRM order goes to
 * the ERP (customer first), is pushed to a delivery notice and shipped, and the shipment comes back to the
 * CRM as a delivery note with the order's delivery status — the demo data and `config/sync.example.yaml`
 * fit together. Links, sync logs and retries (the pipeline's job) are not exercised here.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { FxiaokeEmulator } from '../../../infra/local/fxiaoke-emulator/api.ts';
import { startFxiaokeEmulator } from '../../../infra/local/fxiaoke-emulator/server.ts';
import type { K3CloudEmulator } from '../../../infra/local/k3cloud-emulator/api.ts';
import { startK3CloudEmulator } from '../../../infra/local/k3cloud-emulator/server.ts';
import { FxiaokeClient } from '../../../lib/fxiaoke/client.ts';
import { FXIAOKE_SANDBOX_IDENTITY, readFxiaokeConfig } from '../../../lib/fxiaoke/config.ts';
import type { CrmRecord } from '../../../lib/fxiaoke/records.ts';
import { readCrmString } from '../../../lib/fxiaoke/records.ts';
import { K3CloudClient } from '../../../lib/k3cloud/client.ts';
import { K3CLOUD_SANDBOX_IDENTITY, readK3CloudConfig } from '../../../lib/k3cloud/config.ts';
import {
  buildCustomerLookup,
  buildCustomerWriteBack,
  mapAccountToCustomer,
  parseCustomerLookup,
} from '../../../lib/mappings/account-to-customer.ts';
import { type CrmObjectData, crmRecordEligibility } from '../../../lib/mappings/crm-record.ts';
import {
  buildDeliveredQuantitiesQuery,
  buildDeliveryQuery,
  buildOrderedQuantitiesQuery,
  buildOrderStatusUpdate,
  deliveryOrderNumbers,
  deriveDeliveryStatus,
  mapDeliveryBillToNote,
  parseQuantityRows,
  readDeliveryPage,
} from '../../../lib/mappings/delivery-to-fxiaoke.ts';
import { toPushInput, toQueryInput, toSaveInput } from '../../../lib/mappings/k3-client-inputs.ts';
import { buildPushData, type K3BillQuery } from '../../../lib/mappings/k3-requests.ts';
import {
  buildMaterialQuery,
  materialOfProduct,
  parseMaterialRows,
  resolveMaterials,
} from '../../../lib/mappings/materials.ts';
import {
  buildDeliveryNoticePush,
  isDeliveryNoticeRequested,
} from '../../../lib/mappings/sale-order-to-delivery-notice.ts';
import {
  buildSaleOrderWriteBack,
  mapSalesOrderToSaleOrder,
} from '../../../lib/mappings/sales-order-to-sale-order.ts';
import { exampleConfig } from '../../unit/mappings/helpers.ts';

const config = exampleConfig();

describe('sandbox: example config with both emulators’ demo data', () => {
  let fx: FxiaokeEmulator;
  let k3e: K3CloudEmulator;
  let crm: FxiaokeClient;
  let k3: K3CloudClient;
  const query = (q: K3BillQuery) => k3.executeBillQuery(toQueryInput(q));

  /** Send a CRM update the way the pipeline will: object_data without the apiName/_id wrapper. */
  async function crmUpdate(update: CrmObjectData | undefined): Promise<void> {
    assert.ok(update?._id, 'an update to send');
    const { dataObjectApiName, _id, ...fields } = update;
    await crm.update(dataObjectApiName, _id, fields);
  }

  before(async () => {
    const fxIdentity = {
      appId: FXIAOKE_SANDBOX_IDENTITY.FXIAOKE_APP_ID,
      appSecret: FXIAOKE_SANDBOX_IDENTITY.FXIAOKE_APP_SECRET,
      permanentCode: FXIAOKE_SANDBOX_IDENTITY.FXIAOKE_PERMANENT_CODE,
      openUserId: FXIAOKE_SANDBOX_IDENTITY.FXIAOKE_OPEN_USER_ID,
      aesKey: FXIAOKE_SANDBOX_IDENTITY.FXIAOKE_AES_KEY,
      enterpriseAccount: FXIAOKE_SANDBOX_IDENTITY.FXIAOKE_ENTERPRISE_ACCOUNT,
    };
    fx = await startFxiaokeEmulator({ port: 0, identity: fxIdentity, rateLimit: false });
    k3e = await startK3CloudEmulator({
      port: 0,
      identity: {
        acctId: K3CLOUD_SANDBOX_IDENTITY.K3CLOUD_ACCT_ID,
        username: K3CLOUD_SANDBOX_IDENTITY.K3CLOUD_USERNAME,
        appId: K3CLOUD_SANDBOX_IDENTITY.K3CLOUD_APP_ID,
        appSecret: K3CLOUD_SANDBOX_IDENTITY.K3CLOUD_APP_SECRET,
        password: K3CLOUD_SANDBOX_IDENTITY.K3CLOUD_PASSWORD,
      },
    });
    crm = new FxiaokeClient(readFxiaokeConfig({ FXIAOKE_BASE_URL: fx.url }, { sandbox: true }));
    k3 = new K3CloudClient({ config: readK3CloudConfig({ K3CLOUD_SERVER_URL: k3e.url }, { sandbox: true }) });
  });

  after(async () => {
    await crm?.close();
    await k3?.close();
    await fx?.close();
    await k3e?.close();
  });

  it('the seeded CRM order reaches the ERP, ships, and comes back as a delivery note with its status', async () => {
    // 1. The seeded order and its account, as the pipeline re-reads them after a change event.
    const [seeded] = (await crm.query('SalesOrderObj')).records;
    assert.ok(seeded, 'the demo data has a sales order');
    let order = await crm.getWithDetails('SalesOrderObj', seeded._id);
    const accountId = readCrmString(order.record, 'account_id');
    assert.ok(accountId);
    const account = await crm.get('AccountObj', accountId);
    assert.deepEqual(crmRecordEligibility(account, config), { eligible: true });

    // 2. account-to-customer: not in the ERP yet → create, submit, audit, write the number back.
    const customerLookup = buildCustomerLookup(account, config);
    assert.equal(parseCustomerLookup(customerLookup, await query(customerLookup), account), undefined);
    const customer = mapAccountToCustomer(account, config);
    const savedCustomer = await k3.save(toSaveInput('BD_Customer', customer.save));
    await k3.submit({ formId: 'BD_Customer', ids: [savedCustomer.id] });
    await k3.audit({ formId: 'BD_Customer', ids: [savedCustomer.id] });
    assert.ok(savedCustomer.number);
    await crmUpdate(buildCustomerWriteBack(account, savedCustomer.number, config));
    assert.equal(
      readCrmString(await crm.get('AccountObj', accountId), 'field_erp_no__c'),
      savedCustomer.number,
    );

    // 3. sales-order-to-sale-order: materials resolved in K3, order saved and audited, number written back.
    const lines = order.details.SalesOrderProductObj ?? [];
    const productIds = lines.flatMap((line) => readCrmString(line, 'product_id') ?? []);
    const products = [...(await crm.getMany('ProductObj', productIds)).values()];
    const numbers = products.flatMap((p) => materialOfProduct(p, config)?.number ?? []);
    const materialQuery = buildMaterialQuery(config, numbers);
    const { materials, unusable } = resolveMaterials(
      products,
      config,
      parseMaterialRows(materialQuery, await query(materialQuery)),
    );
    assert.deepEqual(unusable, []);
    const saleOrder = mapSalesOrderToSaleOrder(order, config, {
      customerNumber: savedCustomer.number,
      materials,
    });
    const savedOrder = await k3.save(toSaveInput('SAL_SaleOrder', saleOrder.save));
    const orderBillNo = savedOrder.number;
    assert.ok(orderBillNo);
    await k3.submit({ formId: 'SAL_SaleOrder', numbers: [orderBillNo] });
    await k3.audit({ formId: 'SAL_SaleOrder', numbers: [orderBillNo] });
    await crmUpdate(buildSaleOrderWriteBack(order.record, orderBillNo, config));

    // 4. A salesperson ticks "request delivery": the notice is pushed, then the warehouse ships it.
    assert.equal(isDeliveryNoticeRequested(order.record, config), false);
    await crm.update('SalesOrderObj', seeded._id, { field_ship_request__c: true });
    order = await crm.getWithDetails('SalesOrderObj', seeded._id);
    assert.equal(isDeliveryNoticeRequested(order.record, config), true);
    const notice = await k3.push(toPushInput('SAL_SaleOrder', buildDeliveryNoticePush(orderBillNo, config)));
    const noticeNo = notice.targets[0]?.number;
    assert.ok(noticeNo);
    await k3.submit({ formId: 'SAL_DELIVERYNOTICE', numbers: [noticeNo] });
    await k3.audit({ formId: 'SAL_DELIVERYNOTICE', numbers: [noticeNo] });
    const shipped = await k3.push(
      toPushInput(
        'SAL_DELIVERYNOTICE',
        buildPushData({
          numbers: [noticeNo],
          ruleId: 'DeliveryNotice-OutStock',
          targetFormId: 'SAL_OUTSTOCK',
          targetBillTypeId: '',
          targetOrgId: 0,
          draftWhenSaveFails: false,
        }),
      ),
    );
    const outStockNo = shipped.targets[0]?.number;
    assert.ok(outStockNo);
    await k3.submit({ formId: 'SAL_OUTSTOCK', numbers: [outStockNo] });
    await k3.audit({ formId: 'SAL_OUTSTOCK', numbers: [outStockNo] });

    // 5. delivery-to-fxiaoke: scan, find the CRM order and products, create the note.
    const scan = buildDeliveryQuery(config, 'SAL_OUTSTOCK', {});
    const page = readDeliveryPage(config, scan, await query(scan));
    const bill = page.bills.find((b) => b.billNo === outStockNo);
    assert.ok(bill);
    assert.deepEqual(deliveryOrderNumbers(bill), [orderBillNo]);
    const [crmOrder] = (
      await crm.query('SalesOrderObj', {
        filters: [{ field: 'field_erp_bill_no__c', operator: 'EQ', values: [orderBillNo] }],
      })
    ).records;
    assert.equal(crmOrder?._id, seeded._id, 'the order is found by the number written back in step 3');
    const materialNumbers = bill.lines.flatMap((line) => line.materialNumber ?? []);
    const crmProducts = await crm.query('ProductObj', {
      filters: [{ field: 'product_code', operator: 'IN', values: materialNumbers }],
    });
    const productByMaterial = new Map(
      crmProducts.records.map((p: CrmRecord) => [readCrmString(p, 'product_code') ?? '', p._id]),
    );
    const mapping = mapDeliveryBillToNote(bill, orderBillNo, config, {
      order: order.record,
      orderLines: order.details.SalesOrderProductObj,
      productIds: productByMaterial,
    });
    assert.equal(mapping.action, 'upsert');
    if (mapping.action !== 'upsert') return;
    assert.equal((await crm.query('DeliveryNoteObj', { filters: mapping.lookupFilters })).records.length, 0);
    const { dataObjectApiName, ...noteFields } = mapping.objectData;
    const created = await crm.create(dataObjectApiName, noteFields, { details: mapping.details });
    const found = await crm.query('DeliveryNoteObj', { filters: mapping.lookupFilters });
    assert.deepEqual(
      found.records.map((r) => r._id),
      [created.dataId],
      'the external key finds the note, so a lost create is never repeated',
    );
    const note = await crm.getWithDetails('DeliveryNoteObj', created.dataId, [
      { apiName: 'DeliveryNoteProductObj', masterField: 'delivery_note_id' },
    ]);
    assert.equal(readCrmString(note.record, 'field_erp_form_id__c'), 'SAL_OUTSTOCK');
    assert.equal(readCrmString(note.record, 'account_id'), accountId);
    assert.deepEqual(
      (note.details.DeliveryNoteProductObj ?? [])
        .map((row) => Number(readCrmString(row, 'delivery_num')))
        .sort(),
      lines.map((line) => Number(readCrmString(line, 'quantity'))).sort(),
    );

    // 6. The order's delivery status from ordered vs delivered quantities.
    const ordered = buildOrderedQuantitiesQuery(orderBillNo);
    const delivered = buildDeliveredQuantitiesQuery(config, orderBillNo);
    const status = deriveDeliveryStatus(
      parseQuantityRows(ordered, await query(ordered)),
      parseQuantityRows(delivered, await query(delivered)),
    );
    assert.equal(status.status, 'shipped');
    await crmUpdate(buildOrderStatusUpdate(order.record, status.status, config));
    const final = await crm.get('SalesOrderObj', seeded._id);
    assert.equal(readCrmString(final, 'field_delivery_status__c'), 'shipped');
    assert.equal(readCrmString(final, 'field_erp_bill_no__c'), orderBillNo);
  });
});
