import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { FxiaokeEmulator } from '../../../infra/local/fxiaoke-emulator/api.ts';
import {
  FX_CODE_DATA_NOT_FOUND,
  FX_CODE_DATA_VALIDATION,
} from '../../../infra/local/fxiaoke-emulator/errors.ts';
import {
  ADMIN_OPEN_USER_ID,
  type CurrentSession,
  currentSession,
  dataOf,
  detailIdsOf,
  detailRows,
  type LegacySession,
  legacySession,
  query,
  rowsOf,
  startTestEmulator,
  type TestClock,
  testClock,
} from './helpers.ts';

const V2 = '/cgi/crm/v2/data';
const CUSTOM = '/cgi/crm/custom/v2/data';

function str(value: unknown): string {
  assert.equal(typeof value, 'string', `expected a string, got ${JSON.stringify(value)}`);
  return String(value);
}

describe('fxiaoke emulator: CRM data', () => {
  let clock: TestClock;
  let emulator: FxiaokeEmulator;
  let legacy: LegacySession;
  let current: CurrentSession;

  before(async () => {
    clock = testClock();
    emulator = await startTestEmulator(clock);
    legacy = await legacySession(emulator);
    current = await currentSession(emulator);
  });
  after(() => emulator.close());

  const productIds = async (): Promise<string[]> => {
    const rows = rowsOf(
      await legacy.call(
        `${V2}/query`,
        query('ProductObj', { orders: [{ fieldName: 'product_code', isAsc: true }] }),
      ),
    );
    return rows.map((row) => str(row._id));
  };
  const anAccountId = async (): Promise<string> =>
    str(rowsOf(await legacy.call(`${V2}/query`, query('AccountObj', { limit: 1 })))[0]?._id);

  describe('seed data', () => {
    it('has customers, contacts, the five WL products, one order with three lines and a custom record', async () => {
      const stats = emulator.stats();
      assert.ok((stats.records.AccountObj ?? 0) >= 3);
      assert.ok((stats.records.ContactObj ?? 0) >= 3);
      assert.equal(stats.records.SalesOrderProductObj, 3);
      assert.equal(stats.records.object_erp_sync_log__c, 1);
      const products = rowsOf(
        await legacy.call(
          `${V2}/query`,
          query('ProductObj', { orders: [{ fieldName: 'product_code', isAsc: true }] }),
        ),
      );
      assert.deepEqual(
        products.map((p) => p.product_code),
        ['WL0001', 'WL0002', 'WL0003', 'WL0004', 'WL0005'],
      );
      for (const product of products) {
        assert.match(str(product.price), /^\d+\.\d{2}$/, 'currency is a 2-decimal string');
        assert.ok(['1', '2', '3'].includes(str(product.unit)));
      }
      const orders = rowsOf(await legacy.call(`${V2}/query`, query('SalesOrderObj', {})));
      const order = orders[0];
      assert.ok(order);
      assert.match(str(order.name), /^20261123-\d{6}$/, 'auto number yyyyMMdd-serial (GMT+8 date)');
      const lines = rowsOf(
        await legacy.call(
          `${V2}/query`,
          query('SalesOrderProductObj', {
            filters: [{ field_name: 'order_id', operator: 'EQ', field_values: [order._id] }],
          }),
        ),
      );
      assert.equal(lines.length, 3);
      const sum = lines.reduce((total, line) => total + Number(line.subtotal), 0);
      assert.equal(Number(order.order_amount), sum, 'order_amount is the sum of the line subtotals');
    });
  });

  describe('AccountObj create / get / update', () => {
    it('creates with dataObjectApiName inside object_data and returns a 24-hex dataId', async () => {
      const created = await legacy.call(`${V2}/create`, {
        triggerWorkFlow: false,
        data: {
          object_data: {
            dataObjectApiName: 'AccountObj',
            name: '杭州西湖电子有限公司',
            account_no: 'KH9001',
            account_level: '2',
            tel: '0571-88000000',
            field_tax_no__c: '91330100MA0000009X',
          },
        },
      });
      assert.equal(created.errorCode, 0, JSON.stringify(created));
      assert.equal(created.errorMessage, 'OK');
      assert.equal(created.errorDescription, 'success');
      assert.match(str(created.traceId), /^E-O\./);
      const id = str(created.dataId);
      assert.match(id, /^[0-9a-f]{24}$/);

      const got = dataOf(
        await legacy.call(`${V2}/get`, { data: { dataObjectApiName: 'AccountObj', objectDataId: id } }),
      );
      assert.equal(got._id, id);
      assert.equal(got.name, '杭州西湖电子有限公司');
      assert.equal(got.version, '1');
      assert.equal(got.life_status, 'normal');
      assert.equal(got.lock_status, '0');
      assert.equal(got.record_type, 'default__c');
      assert.equal(got.is_deleted, false);
      assert.equal(got.object_describe_api_name, 'AccountObj');
      assert.deepEqual(
        got.owner,
        [ADMIN_OPEN_USER_ID],
        'legacy convention converts employee ids (convertUserId)',
      );
      assert.deepEqual(got.created_by, [ADMIN_OPEN_USER_ID]);
      assert.equal(got.create_time, clock.now(), 'epoch ms from the injected clock');
      assert.ok(Array.isArray(got.data_own_department));

      const currentView = dataOf(
        await current.call(`${V2}/get`, { data: { dataObjectApiName: 'AccountObj', objectDataId: id } }),
      );
      assert.deepEqual(currentView.owner, ['1000'], 'current convention keeps employee ids');
      const converted = dataOf(
        await legacy.call(`${V2}/get`, {
          convertUserId: false,
          data: { dataObjectApiName: 'AccountObj', objectDataId: id },
        }),
      );
      assert.deepEqual(converted.owner, ['1000'], 'convertUserId: false switches conversion off');
    });

    it('updates partially, bumps version and last_modified_time, keeps other fields', async () => {
      const id = str(
        (
          await legacy.call(`${V2}/create`, {
            data: { object_data: { dataObjectApiName: 'AccountObj', name: '部分更新测试', tel: '010-1' } },
          })
        ).dataId,
      );
      clock.advance(5_000);
      const updated = await legacy.call(`${V2}/update`, {
        triggerWorkFlow: false,
        data: { object_data: { dataObjectApiName: 'AccountObj', _id: id, field_erp_no__c: 'CUST0042' } },
      });
      assert.equal(updated.errorCode, 0, JSON.stringify(updated));
      assert.equal(updated.dataId, id);
      const got = dataOf(
        await legacy.call(`${V2}/get`, { data: { dataObjectApiName: 'AccountObj', objectDataId: id } }),
      );
      assert.equal(got.field_erp_no__c, 'CUST0042');
      assert.equal(got.tel, '010-1', 'fields not sent are unchanged');
      assert.equal(got.version, '2');
      assert.equal(got.last_modified_time, clock.now());
      assert.ok(Number(got.create_time) < Number(got.last_modified_time));
    });

    it('refuses a missing required field, a bad option and a bad number with Chinese messages', async () => {
      const missing = await legacy.call(`${V2}/create`, {
        data: { object_data: { dataObjectApiName: 'AccountObj', tel: '1' } },
      });
      assert.equal(missing.errorCode, FX_CODE_DATA_VALIDATION);
      assert.match(missing.errorMessage, /必填字段未填写.*客户名称\(name\)/);
      const badOption = await legacy.call(`${V2}/create`, {
        data: { object_data: { dataObjectApiName: 'AccountObj', name: 'x', account_level: '9' } },
      });
      assert.equal(badOption.errorCode, FX_CODE_DATA_VALIDATION);
      assert.match(badOption.errorMessage, /选项值 9 不存在/);
      const lines = await productIds();
      const badNumber = await legacy.call(`${V2}/create`, {
        data: {
          object_data: { dataObjectApiName: 'SalesOrderObj', account_id: await anAccountId() },
          details: { SalesOrderProductObj: [{ product_id: lines[0], quantity: 'two' }] },
        },
      });
      assert.equal(badNumber.errorCode, FX_CODE_DATA_VALIDATION);
      assert.match(badNumber.errorMessage, /必须是数字/);
    });

    it('refuses a lookup to a record that does not exist, and changes nothing', async () => {
      const before = emulator.stats().records.ContactObj ?? 0;
      const answer = await legacy.call(`${V2}/create`, {
        data: {
          object_data: {
            dataObjectApiName: 'ContactObj',
            name: '孤儿联系人',
            account_id: 'ffffffffffffffffffffffff',
          },
        },
      });
      assert.equal(answer.errorCode, FX_CODE_DATA_VALIDATION);
      assert.match(answer.errorMessage, /关联的客户数据 ffffffffffffffffffffffff 不存在/);
      assert.equal(emulator.stats().records.ContactObj ?? 0, before);
    });

    it('answers get of an unknown id with a not-found error, and missing parameters with 32000', async () => {
      const unknown = await legacy.call(`${V2}/get`, {
        data: { dataObjectApiName: 'AccountObj', objectDataId: '000000000000000000000000' },
      });
      assert.equal(unknown.errorCode, FX_CODE_DATA_NOT_FOUND);
      const noId = await legacy.call(`${V2}/get`, { data: { dataObjectApiName: 'AccountObj' } });
      assert.equal(noId.errorCode, 32000);
      assert.match(String(noId.errorDescription), /objectDataId/);
      const noObject = await legacy.call(`${V2}/get`, { data: { objectDataId: 'x' } });
      assert.equal(noObject.errorCode, 32000);
      const unknownObject = await legacy.call(`${V2}/get`, {
        data: { dataObjectApiName: 'NoSuchObj', objectDataId: 'x' },
      });
      assert.equal(unknownObject.errorCode, 15002);
      const noUpdateId = await legacy.call(`${V2}/update`, {
        data: { object_data: { dataObjectApiName: 'AccountObj', name: 'x' } },
      });
      assert.equal(noUpdateId.errorCode, 32000);
    });

    it('returns lookup display values in <field>__r', async () => {
      const accountId = await anAccountId();
      const account = dataOf(
        await legacy.call(`${V2}/get`, {
          data: { dataObjectApiName: 'AccountObj', objectDataId: accountId },
        }),
      );
      const contactId = str(
        (
          await legacy.call(`${V2}/create`, {
            data: { object_data: { dataObjectApiName: 'ContactObj', name: '刘洋', account_id: accountId } },
          })
        ).dataId,
      );
      const contact = dataOf(
        await legacy.call(`${V2}/get`, {
          data: { dataObjectApiName: 'ContactObj', objectDataId: contactId },
        }),
      );
      assert.equal(contact.account_id, accountId);
      assert.equal(contact.account_id__r, account.name);
    });

    it('honours fieldProjection on get (plus _id)', async () => {
      const accountId = await anAccountId();
      const got = dataOf(
        await legacy.call(`${V2}/get`, {
          data: {
            dataObjectApiName: 'AccountObj',
            objectDataId: accountId,
            fieldProjection: ['name', 'version'],
          },
        }),
      );
      assert.deepEqual(Object.keys(got).sort(), ['_id', 'name', 'version']);
    });
  });

  describe('SalesOrderObj master + SalesOrderProductObj details', () => {
    it('creates master and details together, returns detail ids with includeDetailIds, computes amounts', async () => {
      const [p1, p2] = await productIds();
      const accountId = await anAccountId();
      const created = await legacy.call(`${V2}/create`, {
        triggerWorkFlow: false,
        includeDetailIds: true,
        data: {
          object_data: {
            dataObjectApiName: 'SalesOrderObj',
            account_id: accountId,
            order_time: Date.UTC(2026, 10, 22, 16),
            owner: [ADMIN_OPEN_USER_ID],
          },
          details: {
            SalesOrderProductObj: [
              { product_id: p1, quantity: '2', sales_price: '10.5' },
              { product_id: p2, quantity: 3, sales_price: 100, discount: '90' },
            ],
          },
        },
      });
      assert.equal(created.errorCode, 0, JSON.stringify(created));
      const orderId = str(created.dataId);
      assert.equal(detailIdsOf(created, 'SalesOrderProductObj').length, 2);

      const order = dataOf(
        await legacy.call(`${V2}/get`, {
          data: { dataObjectApiName: 'SalesOrderObj', objectDataId: orderId },
        }),
      );
      assert.equal(order.order_amount, '291.00', '2×10.5 + 3×100×90%');
      assert.equal(order.order_status, '6', 'default option');
      assert.equal(order.field_ship_request__c, false);
      assert.equal(order.field_delivery_status__c, 'unshipped');
      const lines = rowsOf(
        await legacy.call(
          `${V2}/query`,
          query('SalesOrderProductObj', {
            filters: [{ field_name: 'order_id', operator: 'IN', field_values: [orderId, 'other'] }],
            orders: [{ fieldName: 'subtotal', isAsc: true }],
          }),
        ),
      );
      assert.deepEqual(
        lines.map((l) => [l.quantity, l.sales_price, l.discount, l.subtotal]),
        [
          ['2.00', '10.50', '100.00', '21.00'],
          ['3.00', '100.00', '90.00', '270.00'],
        ],
      );
      assert.equal(lines[0]?.order_id__r, order.name);
      assert.deepEqual(lines[0]?.owner, order.owner, 'detail rows share the master owner');
    });

    it('updates details: rows with _id are updated, rows without are created, omitted rows are removed', async () => {
      const [p1, p2, p3] = await productIds();
      const created = await legacy.call(`${V2}/create`, {
        includeDetailIds: true,
        triggerWorkFlow: false,
        data: {
          object_data: { dataObjectApiName: 'SalesOrderObj', account_id: await anAccountId() },
          details: {
            SalesOrderProductObj: [
              { product_id: p1, quantity: '1', sales_price: '10' },
              { product_id: p2, quantity: '1', sales_price: '20' },
            ],
          },
        },
      });
      const orderId = str(created.dataId);
      const ids = detailIdsOf(created, 'SalesOrderProductObj');
      const [keep, drop] = ids;
      const updated = await legacy.call(`${V2}/update`, {
        triggerWorkFlow: false,
        data: {
          object_data: { dataObjectApiName: 'SalesOrderObj', _id: orderId, remark: '改了数量' },
          details: {
            SalesOrderProductObj: [
              { _id: keep, quantity: '5' },
              { product_id: p3, quantity: '2', sales_price: '7' },
            ],
          },
        },
      });
      assert.equal(updated.errorCode, 0, JSON.stringify(updated));
      const record = await emulator.getRecord('SalesOrderObj', orderId);
      const lines = detailRows(record, 'SalesOrderProductObj');
      assert.equal(lines.length, 2);
      assert.ok(lines.some((l) => l._id === keep && l.quantity === '5.00' && l.subtotal === '50.00'));
      assert.ok(!lines.some((l) => l._id === drop), 'omitted row removed');
      assert.ok(lines.some((l) => l.product_id === p3 && l.subtotal === '14.00'));
      assert.equal(record?.order_amount, '64.00');
      assert.equal(record?.remark, '改了数量');
      assert.equal(record?.version, '2');
    });

    it('refuses a detail row _id that belongs to another order', async () => {
      const [p1] = await productIds();
      const make = async () =>
        legacy.call(`${V2}/create`, {
          includeDetailIds: true,
          data: {
            object_data: { dataObjectApiName: 'SalesOrderObj', account_id: await anAccountId() },
            details: { SalesOrderProductObj: [{ product_id: p1, quantity: '1', sales_price: '1' }] },
          },
        });
      const a = await make();
      const b = await make();
      const foreignLine = detailIdsOf(b, 'SalesOrderProductObj')[0];
      const answer = await legacy.call(`${V2}/update`, {
        data: {
          object_data: { dataObjectApiName: 'SalesOrderObj', _id: a.dataId },
          details: { SalesOrderProductObj: [{ _id: foreignLine, quantity: '9' }] },
        },
      });
      assert.equal(answer.errorCode, FX_CODE_DATA_VALIDATION);
    });

    it('refuses details of an object that is not a detail of the master (15002)', async () => {
      const answer = await legacy.call(`${V2}/create`, {
        data: {
          object_data: { dataObjectApiName: 'AccountObj', name: 'x' },
          details: { SalesOrderProductObj: [{ quantity: '1' }] },
        },
      });
      assert.equal(answer.errorCode, 15002);
    });
  });

  describe('other masters: delivery notes and payments', () => {
    it('creates DeliveryNoteObj with DeliveryNoteProductObj rows, and PaymentObj with OrderPaymentObj rows', async () => {
      const [p1] = await productIds();
      const order = rowsOf(await legacy.call(`${V2}/query`, query('SalesOrderObj', { limit: 1 })))[0];
      assert.ok(order);
      const note = await legacy.call(`${V2}/create`, {
        triggerWorkFlow: false,
        data: {
          object_data: {
            dataObjectApiName: 'DeliveryNoteObj',
            sales_order_id: order._id,
            account_id: order.account_id,
            field_erp_bill_no__c: 'XSCKD000001',
            field_erp_form_id__c: 'SAL_OUTSTOCK',
          },
          details: { DeliveryNoteProductObj: [{ product_id: p1, delivery_num: '4' }] },
        },
      });
      assert.equal(note.errorCode, 0, JSON.stringify(note));
      const byErpNo = rowsOf(
        await legacy.call(
          `${V2}/query`,
          query('DeliveryNoteObj', {
            filters: [{ field_name: 'field_erp_bill_no__c', operator: 'EQ', field_values: ['XSCKD000001'] }],
          }),
        ),
      );
      assert.equal(byErpNo.length, 1);
      assert.match(str(byErpNo[0]?.name), /^FH20261123-\d{6}$/);

      const payment = await legacy.call(`${V2}/create`, {
        triggerWorkFlow: false,
        data: {
          object_data: {
            dataObjectApiName: 'PaymentObj',
            account_id: order.account_id,
            payment_time: 1517328000000,
          },
          details: { OrderPaymentObj: [{ order_id: order._id, payment_amount: '1.5' }] },
        },
      });
      assert.equal(payment.errorCode, 0, JSON.stringify(payment));
      const stored = await emulator.getRecord('PaymentObj', str(payment.dataId));
      assert.equal(stored?.payment_amount, '1.50');
      assert.equal(stored?.payment_time, 1517328000000);
    });
  });

  describe('custom objects', () => {
    it('serves __c objects on /cgi/crm/custom/v2/data/* and on the preset path too', async () => {
      const created = await legacy.call(`${CUSTOM}/create`, {
        data: {
          object_data: {
            dataObjectApiName: 'object_erp_sync_log__c',
            name: '同步失败示例',
            field_status__c: 'failed',
            field_message__c: 'K3 返回：物料编码不存在',
          },
        },
      });
      assert.equal(created.errorCode, 0, JSON.stringify(created));
      const viaCustom = dataOf(
        await legacy.call(`${CUSTOM}/get`, {
          data: { dataObjectApiName: 'object_erp_sync_log__c', objectDataId: created.dataId },
        }),
      );
      assert.equal(viaCustom.field_status__c, 'failed');
      const viaPreset = rowsOf(
        await legacy.call(
          `${V2}/query`,
          query('object_erp_sync_log__c', {
            filters: [{ field_name: 'field_status__c', operator: 'EQ', field_values: ['failed'] }],
          }),
        ),
      );
      assert.ok(viaPreset.some((row) => row._id === created.dataId));
    });

    it('refuses a preset object on the custom path (15002)', async () => {
      const answer = await legacy.call(`${CUSTOM}/query`, query('AccountObj', {}));
      assert.equal(answer.errorCode, 15002);
    });

    it('accepts custom objects declared as data at start', async () => {
      const otherClock = testClock();
      const other = await startTestEmulator(otherClock, {
        seed: false,
        objects: [
          {
            apiName: 'object_visit__c',
            displayName: '拜访记录',
            fields: [
              { apiName: 'name', type: 'text', label: '主题', required: true },
              { apiName: 'field_account__c', type: 'object_reference', label: '客户', target: 'AccountObj' },
              { apiName: 'field_minutes__c', type: 'number', label: '时长', decimalPlaces: 0 },
            ],
          },
        ],
      });
      try {
        const session = await legacySession(other);
        const created = await session.call(`${CUSTOM}/create`, {
          data: {
            object_data: { dataObjectApiName: 'object_visit__c', name: '首次拜访', field_minutes__c: '45' },
          },
        });
        assert.equal(created.errorCode, 0, JSON.stringify(created));
        const described = dataOf(
          await session.call('/cgi/crm/v2/object/describe', { data: { apiName: 'object_visit__c' } }),
        );
        const describeBody = described.describe as {
          define_type: string;
          fields: Record<string, { type: string }>;
        };
        assert.equal(describeBody.define_type, 'custom');
        assert.equal(describeBody.fields.field_minutes__c?.type, 'number');
      } finally {
        await other.close();
      }
    });
  });

  describe('describe and object list', () => {
    it('describes an object in both body styles, with detail describes on includeDetail', async () => {
      const current_ = dataOf(
        await current.call('/cgi/crm/v2/object/describe', {
          data: { apiName: 'SalesOrderObj', includeDetail: true },
        }),
      );
      const legacy_ = dataOf(await legacy.call('/cgi/crm/v2/object/describe', { apiName: 'SalesOrderObj' }));
      const describeBody = current_.describe as {
        api_name: string;
        fields: Record<string, Record<string, unknown>>;
      };
      assert.equal(describeBody.api_name, 'SalesOrderObj');
      assert.deepEqual(legacy_.describe, current_.describe);
      const accountField = describeBody.fields.account_id;
      assert.equal(accountField?.type, 'object_reference');
      assert.equal(accountField?.target_api_name, 'AccountObj');
      assert.equal(accountField?.is_required, true);
      assert.equal(describeBody.fields.order_time?.date_format, 'yyyy-MM-dd');
      assert.equal(describeBody.fields.order_time?.time_zone, 'GMT+8');
      assert.equal(describeBody.fields.field_erp_bill_no__c?.define_type, 'custom');
      assert.equal(describeBody.fields.owner?.define_type, 'system');
      const status = describeBody.fields.field_delivery_status__c?.options;
      assert.deepEqual(status, [
        { label: '未发货', value: 'unshipped' },
        { label: '部分发货', value: 'partial' },
        { label: '已发货', value: 'shipped' },
      ]);
      const details = current_.details as { api_name: string }[];
      assert.deepEqual(
        details.map((d) => d.api_name),
        ['SalesOrderProductObj'],
      );
      assert.equal((await legacy.call('/cgi/crm/v2/object/describe', {})).errorCode, 32000);
    });

    it('lists objects with describeApiName / defineType', async () => {
      const objects = dataOf(await legacy.call('/cgi/crm/v2/object/list', {})).objects as {
        describeApiName: string;
        defineType: string;
      }[];
      const names = objects.map((o) => o.describeApiName);
      for (const name of [
        'AccountObj',
        'ContactObj',
        'ProductObj',
        'SalesOrderObj',
        'SalesOrderProductObj',
        'DeliveryNoteObj',
        'DeliveryNoteProductObj',
        'PaymentObj',
        'OrderPaymentObj',
        'object_erp_sync_log__c',
      ]) {
        assert.ok(names.includes(name), name);
      }
      assert.equal(objects.find((o) => o.describeApiName === 'object_erp_sync_log__c')?.defineType, 'custom');
      assert.equal(objects.find((o) => o.describeApiName === 'AccountObj')?.defineType, 'package');
    });
  });

  describe('invalid / recover / delete / changeOwner', () => {
    it('invalid sets life_status invalid (keeping the previous one), hides the record from queries; recover undoes it', async () => {
      const id = str(
        (
          await legacy.call(`${V2}/create`, {
            data: { object_data: { dataObjectApiName: 'AccountObj', name: '将被作废的客户' } },
          })
        ).dataId,
      );
      const nameFilter = query('AccountObj', {
        filters: [{ field_name: 'name', operator: 'EQ', field_values: ['将被作废的客户'] }],
      });
      assert.equal(rowsOf(await legacy.call(`${V2}/query`, nameFilter)).length, 1);
      const invalid = await legacy.call(`${V2}/invalid`, {
        data: { object_data_id: id, dataObjectApiName: 'AccountObj' },
      });
      assert.equal(invalid.errorCode, 0, JSON.stringify(invalid));
      const got = dataOf(
        await legacy.call(`${V2}/get`, { data: { dataObjectApiName: 'AccountObj', objectDataId: id } }),
      );
      assert.equal(got.life_status, 'invalid');
      assert.equal(got.life_status_before_invalid, 'normal');
      assert.equal(got.is_deleted, true);
      assert.equal(got.version, '2');
      assert.equal(rowsOf(await legacy.call(`${V2}/query`, nameFilter)).length, 0, 'hidden by default');
      const withInvalid = rowsOf(
        await legacy.call(
          `${V2}/query`,
          query('AccountObj', {
            filters: [
              { field_name: 'name', operator: 'EQ', field_values: ['将被作废的客户'] },
              { field_name: 'life_status', operator: 'EQ', field_values: ['invalid'] },
            ],
          }),
        ),
      );
      assert.equal(withInvalid.length, 1, 'visible when the filter names life_status');
      const again = await legacy.call(`${V2}/invalid`, {
        data: { object_data_id: id, dataObjectApiName: 'AccountObj' },
      });
      assert.equal(again.errorCode, FX_CODE_DATA_VALIDATION);
      const edit = await legacy.call(`${V2}/update`, {
        data: { object_data: { dataObjectApiName: 'AccountObj', _id: id, name: 'x' } },
      });
      assert.equal(edit.errorCode, FX_CODE_DATA_VALIDATION, 'an invalid record cannot be edited');

      const recovered = await legacy.call(`${V2}/recover`, {
        data: { dataObjectApiName: 'AccountObj', idList: [id] },
      });
      assert.equal(recovered.errorCode, 0, JSON.stringify(recovered));
      const back = dataOf(
        await legacy.call(`${V2}/get`, { data: { dataObjectApiName: 'AccountObj', objectDataId: id } }),
      );
      assert.equal(back.life_status, 'normal');
      assert.equal(back.is_deleted, false);
    });

    it('delete only after invalid; a master takes its detail rows along', async () => {
      const [p1] = await productIds();
      const created = await legacy.call(`${V2}/create`, {
        includeDetailIds: true,
        data: {
          object_data: { dataObjectApiName: 'SalesOrderObj', account_id: await anAccountId() },
          details: { SalesOrderProductObj: [{ product_id: p1, quantity: '1', sales_price: '1' }] },
        },
      });
      const orderId = str(created.dataId);
      const lineId = detailIdsOf(created, 'SalesOrderProductObj')[0] ?? '';
      const early = await legacy.call(`${V2}/delete`, {
        data: { idList: [orderId], dataObjectApiName: 'SalesOrderObj' },
      });
      assert.equal(early.errorCode, FX_CODE_DATA_VALIDATION);
      assert.match(early.errorMessage, /请先作废/);
      await legacy.call(`${V2}/invalid`, {
        data: { object_data_id: orderId, dataObjectApiName: 'SalesOrderObj' },
      });
      const line = await emulator.getRecord('SalesOrderProductObj', lineId);
      assert.equal(line?.life_status, 'invalid', 'detail rows are invalidated with their master');
      const deleted = await legacy.call(`${V2}/delete`, {
        data: { idList: [orderId], dataObjectApiName: 'SalesOrderObj' },
      });
      assert.equal(deleted.errorCode, 0, JSON.stringify(deleted));
      assert.equal(await emulator.getRecord('SalesOrderObj', orderId), undefined);
      assert.equal(await emulator.getRecord('SalesOrderProductObj', lineId), undefined);
      const gone = await legacy.call(`${V2}/get`, {
        data: { dataObjectApiName: 'SalesOrderObj', objectDataId: orderId },
      });
      assert.equal(gone.errorCode, FX_CODE_DATA_NOT_FOUND);
    });

    it('changeOwner accepts both data and Data spellings and cascades to detail rows', async () => {
      const order = rowsOf(await legacy.call(`${V2}/query`, query('SalesOrderObj', { limit: 1 })))[0];
      assert.ok(order);
      const salesRep = await legacy.call('/cgi/user/getByMobile', { mobile: '13800001001' });
      const rep = (salesRep.empList as { openUserId: string; fullName: string }[])[0];
      assert.ok(rep);
      assert.equal(rep.fullName, '李娜');
      for (const key of ['data', 'Data']) {
        const answer = await legacy.call(`${V2}/changeOwner`, {
          data: {
            dataObjectApiName: 'SalesOrderObj',
            [key]: [{ objectDataId: order._id, ownerId: [rep.openUserId] }],
          },
        });
        assert.equal(answer.errorCode, 0, JSON.stringify(answer));
      }
      const stored = await emulator.getRecord('SalesOrderObj', str(order._id));
      assert.deepEqual(stored?.owner, ['1001']);
      const lines = detailRows(stored, 'SalesOrderProductObj');
      assert.ok(lines.every((l) => JSON.stringify(l.owner) === '["1001"]'));
      const empty = await legacy.call('/cgi/user/getByMobile', { mobile: '13900000000' });
      assert.deepEqual(empty.empList, []);
    });
  });

  describe('data permissions', () => {
    it('a sales rep (1001) sees only records he owns; the CRM admin sees everything', async () => {
      const all = dataOf(await current.call(`${V2}/query`, query('AccountObj', { limit: 100 }), '1000'));
      const rep = dataOf(await current.call(`${V2}/query`, query('AccountObj', { limit: 100 }), '1001'));
      assert.ok(Number(rep.total) > 0);
      assert.ok(Number(rep.total) < Number(all.total));
      for (const row of rep.dataList as { owner: string[] }[]) assert.deepEqual(row.owner, ['1001']);
      const adminOwned = (all.dataList as { _id: string; owner: string[] }[]).find(
        (row) => row.owner[0] === '1000',
      );
      assert.ok(adminOwned);
      const hidden = await current.call(
        `${V2}/get`,
        { data: { dataObjectApiName: 'AccountObj', objectDataId: adminOwned._id } },
        '1001',
      );
      assert.equal(hidden.errorCode, FX_CODE_DATA_NOT_FOUND);
    });
  });

  describe('locked records', () => {
    it('refuses updates of locked data unless skipDataStatusValidate', async () => {
      const { dataId } = await emulator.edit({
        apiName: 'AccountObj',
        fields: { name: '锁定客户', lock_status: '1' },
      });
      const refused = await legacy.call(`${V2}/update`, {
        data: { object_data: { dataObjectApiName: 'AccountObj', _id: dataId, remark: 'x' } },
      });
      assert.equal(refused.errorCode, FX_CODE_DATA_VALIDATION);
      const allowed = await legacy.call(`${V2}/update`, {
        data: {
          object_data: { dataObjectApiName: 'AccountObj', _id: dataId, remark: 'x' },
          skipDataStatusValidate: true,
        },
      });
      assert.equal(allowed.errorCode, 0);
    });
  });
});

describe('fxiaoke emulator: approval flows (triggerApprovalFlow)', () => {
  it('starts under_review and locked when the object has an approval flow, unless triggerApprovalFlow is false', async () => {
    const emulator = await startTestEmulator(testClock(), {
      controlEnabled: true,
      approvalFlowObjects: ['AccountObj'],
    });
    try {
      const session = await legacySession(emulator);
      const create = (extra: Record<string, unknown>) =>
        session.call(`${V2}/create`, {
          ...extra,
          data: {
            object_data: { dataObjectApiName: 'AccountObj', name: `审批客户 ${JSON.stringify(extra)}` },
          },
        });
      const reviewed = await create({});
      const direct = await create({ triggerApprovalFlow: false });
      const get = async (id: unknown) =>
        dataOf(
          await session.call(`${V2}/get`, { data: { dataObjectApiName: 'AccountObj', objectDataId: id } }),
        );
      const pending = await get(reviewed.dataId);
      assert.equal(pending.life_status, 'under_review');
      assert.equal(pending.lock_status, '1');
      assert.equal((await get(direct.dataId)).life_status, 'normal');
      const locked = await session.call(`${V2}/update`, {
        data: { object_data: { dataObjectApiName: 'AccountObj', _id: reviewed.dataId, remark: 'x' } },
      });
      assert.equal(locked.errorCode, FX_CODE_DATA_VALIDATION, 'a record under approval is locked');

      const approve = await fetch(`${emulator.url}/__emulator/approve`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ apiName: 'AccountObj', id: reviewed.dataId, approved: true }),
      });
      assert.equal(approve.status, 200);
      const approved = await get(reviewed.dataId);
      assert.equal(approved.life_status, 'normal');
      assert.equal(approved.lock_status, '0');
      const again = await fetch(`${emulator.url}/__emulator/approve`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ apiName: 'AccountObj', id: reviewed.dataId, approved: false }),
      });
      assert.equal(again.status, 400, 'no longer under review');
    } finally {
      await emulator.close();
    }
  });
});
