import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { z } from 'zod';
import { FxiaokeClient } from '../../../lib/fxiaoke/client.ts';
import {
  crmEpochMsToIsoDate,
  crmRecordSchema,
  readCrmEpochMs,
  readCrmFirstId,
  readCrmList,
  readCrmNumber,
  readCrmString,
} from '../../../lib/fxiaoke/records.ts';
import { ok, scriptedFxiaoke, settingsFor, withToken } from './scripted-fxiaoke.ts';

const fixture = z
  .object({ response: z.record(z.string(), z.unknown()) })
  .parse(
    JSON.parse(
      readFileSync(new URL('../../fixtures/fxiaoke/query-response-payment.json', import.meta.url), 'utf8'),
    ),
  );

describe('CRM records at the client boundary', () => {
  it('query results are parsed: string numbers and version, epoch-ms dates, array owners; unknown fields kept', async () => {
    const fx = scriptedFxiaoke(withToken('legacy', () => ({ json: fixture.response })));
    const client = new FxiaokeClient(settingsFor('legacy'), { dispatcher: fx.agent });
    try {
      const { records, total } = await client.query('PaymentObj', { withTotal: true });
      assert.equal(total, 2);
      const [payment, other] = records;
      assert.ok(payment && other);

      // system fields normalised
      assert.equal(payment.version, 4, 'version "4" → 4');
      assert.equal(payment.last_modified_time, 1597652499000, 'string epoch → number');
      assert.equal(payment.create_time, 1597652453918);
      assert.deepEqual(payment.owner, ['FSUID_DA4F0000000000000000000000000000']);
      assert.deepEqual(payment.created_by, ['-10000']);
      assert.equal(payment.life_status, 'normal');

      // everything else passes through untouched
      assert.equal(payment.payment_amount, '1.00');
      assert.equal(payment.account_id__r, '示例客户有限公司');
      assert.deepEqual(payment.owner__r, { name: '测试员工', id: 'FSUID_DA4F0000000000000000000000000000' });
      assert.deepEqual(payment.field_k1s2d__c, ['18', '19']);
      assert.equal(payment.UDSText1__c, '自定义文本', 'case of custom apiNames kept');
      assert.deepEqual(payment.relevant_team, [
        {
          teamMemberEmployee: ['FSUID_DA4F0000000000000000000000000000'],
          teamMemberRole: '1',
          teamMemberPermissionType: '2',
        },
      ]);

      // typed readers interpret fields on demand
      assert.equal(readCrmNumber(payment, 'payment_amount'), 1);
      assert.equal(readCrmEpochMs(payment, 'payment_time'), 1517328000000);
      assert.equal(crmEpochMsToIsoDate(1517328000000), '2018-01-31', 'date fields are 00:00 China time');
      assert.equal(readCrmFirstId(payment, 'owner'), 'FSUID_DA4F0000000000000000000000000000');
      assert.equal(readCrmFirstId(payment, 'account_id'), '0039b47555cf4be98b8ff85d1ca70144');
      assert.deepEqual(readCrmList(payment, 'field_k1s2d__c'), ['18', '19']);
      assert.equal(readCrmString(payment, 'lock_status'), '0');

      // a single owner string becomes a list; a numeric version stays a number; '' reads as empty
      assert.deepEqual(other.owner, ['1000']);
      assert.equal(other.version, 7);
      assert.equal(readCrmNumber(other, 'payment_amount'), undefined);
    } finally {
      await client.close();
      await fx.close();
    }
  });

  it('get returns the record typed the same way', async () => {
    const fx = scriptedFxiaoke(
      withToken('oauth2', () =>
        ok({ data: { _id: 'l1', owner: ['1000'], version: '12', name: '线索', leads_pool_id__r: '公海A' } }),
      ),
    );
    const client = new FxiaokeClient(settingsFor('oauth2'), { dispatcher: fx.agent });
    try {
      const lead = await client.get('LeadsObj', 'l1');
      assert.equal(lead.version, 12);
      assert.equal(lead.leads_pool_id__r, '公海A');
    } finally {
      await client.close();
      await fx.close();
    }
  });

  it('a record without _id, or with a non-numeric version, is refused by the schema', () => {
    assert.equal(crmRecordSchema.safeParse({ name: 'x' }).success, false);
    assert.equal(crmRecordSchema.safeParse({ _id: 'a', version: 'v4' }).success, false);
  });
});
