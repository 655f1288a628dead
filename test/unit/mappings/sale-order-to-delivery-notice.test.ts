import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError } from '../../../lib/errors.ts';
import {
  buildDeliveryNoticePush,
  isDeliveryNoticeRequested,
} from '../../../lib/mappings/sale-order-to-delivery-notice.ts';
import { configWith, crmRecord, exampleConfig, rawSalesOrder } from './helpers.ts';

const config = exampleConfig();
const NOTICE = ['flows', 'saleOrderToDeliveryNotice'] as const;

function order(fields: Record<string, unknown>) {
  const raw = rawSalesOrder().record;
  return crmRecord({ ...raw, ...fields });
}

describe('sale-order-to-delivery-notice', () => {
  describe('trigger', () => {
    it('fires when the boolean custom field is true (boolean or text)', () => {
      assert.equal(isDeliveryNoticeRequested(order({ field_ship_request__c: false }), config), false);
      assert.equal(isDeliveryNoticeRequested(order({ field_ship_request__c: true }), config), true);
      assert.equal(isDeliveryNoticeRequested(order({ field_ship_request__c: 'true' }), config), true);
      assert.equal(isDeliveryNoticeRequested(order({ field_ship_request__c: null }), config), false);
    });

    it('can fire on a set of status values instead', () => {
      const byStatus = configWith((c) =>
        c.set([...NOTICE, 'trigger'], { crmField: 'order_status', in: ['7', 10] }),
      );
      assert.equal(isDeliveryNoticeRequested(order({ order_status: '6' }), byStatus), false);
      assert.equal(isDeliveryNoticeRequested(order({ order_status: '7' }), byStatus), true);
      assert.equal(isDeliveryNoticeRequested(order({ order_status: '10' }), byStatus), true);
      assert.equal(
        isDeliveryNoticeRequested(order({ order_status: ['6', '10'] }), byStatus),
        true,
        'select_many',
      );
    });
  });

  describe('push', () => {
    it('pushes the synced order with the configured rule', () => {
      assert.deepEqual(buildDeliveryNoticePush('XSDD000001', config), {
        Ids: '',
        Numbers: ['XSDD000001'],
        EntryIds: '',
        RuleId: 'SaleOrder-DeliveryNotice',
        TargetBillTypeId: '',
        TargetOrgId: 0,
        TargetFormId: 'SAL_DELIVERYNOTICE',
        IsEnableDefaultRule: false,
        IsDraftWhenSaveFail: false,
        CustomParams: {},
      });
    });

    it('takes the resolved target organisation and other settings', () => {
      const custom = configWith((c) => {
        c.set([...NOTICE, 'ruleId'], '490c1753-b810-42e5-8633-9ac1ba185e38');
        c.set([...NOTICE, 'targetBillTypeId'], 'ad0779a4685a43a08f08d2e42d7bf3e9');
        c.set([...NOTICE, 'targetOrgNumber'], '101');
        c.set([...NOTICE, 'draftWhenSaveFails'], true);
      });
      const push = buildDeliveryNoticePush('XSDD000001', custom, { targetOrgId: 100005 });
      assert.equal(push.RuleId, '490c1753-b810-42e5-8633-9ac1ba185e38');
      assert.equal(push.TargetBillTypeId, 'ad0779a4685a43a08f08d2e42d7bf3e9');
      assert.equal(push.TargetOrgId, 100005);
      assert.equal(push.IsDraftWhenSaveFail, true);
    });

    it('refuses to run for a disabled flow', () => {
      const off = configWith((c) => c.set([...NOTICE, 'enabled'], false));
      assert.throws(() => buildDeliveryNoticePush('XSDD000001', off), ConfigError);
    });
  });
});
