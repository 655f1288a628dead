import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  changeMessage,
  changeMessageSchema,
  deliveryNoticeMessage,
  writeBackMessage,
} from '../../../lib/sync/messages.ts';

describe('sync/messages', () => {
  it('groups a change by record and de-duplicates it by Fxiaoke’s messageId (spec §8a sample id)', () => {
    const out = changeMessage({
      kind: 'change',
      messageId: 'AC11291700002A9F00000608C038697A0',
      apiName: 'AccountObj',
      dataId: '5f9cd4e6e4400e0001217faa',
      eventType: 'update',
      receivedAtMs: 1_604_644_770_244,
    });
    assert.equal(out.groupId, 'AccountObj:5f9cd4e6e4400e0001217faa');
    assert.equal(out.deduplicationId, 'AC11291700002A9F00000608C038697A0');
    assert.deepEqual(changeMessageSchema.parse(JSON.parse(JSON.stringify(out.body))), out.body);
  });

  it('replaces ids SQS would refuse (too long, spaces, Chinese) by a hash within 128 characters', () => {
    const out = changeMessage({
      kind: 'change',
      messageId: `消息 ${'x'.repeat(200)}`,
      apiName: 'object_custom__c',
      dataId: 'id with spaces',
      eventType: 'update',
      receivedAtMs: 0,
    });
    for (const id of [out.groupId, out.deduplicationId]) {
      assert.ok(id.length <= 128);
      assert.match(id, /^[\x21-\x7e]+$/);
    }
  });

  it('one delivery-notice request per order version; write-backs de-duplicate by content', () => {
    const notice = (version: number) =>
      deliveryNoticeMessage({
        kind: 'delivery-notice',
        orderId: 'o1',
        orderVersion: version,
        requestedAtMs: 1,
      });
    assert.equal(notice(3).deduplicationId, notice(3).deduplicationId);
    assert.notEqual(notice(3).deduplicationId, notice(4).deduplicationId);
    assert.equal(notice(3).groupId, 'SalesOrderObj:o1');

    const wb = (fields: Record<string, unknown>, at: number) =>
      writeBackMessage({
        kind: 'write-back',
        apiName: 'AccountObj',
        id: 'a1',
        fields,
        flow: 'f',
        reason: 'r',
        requestedAtMs: at,
      });
    assert.equal(
      wb({ a: 1, b: 2 }, 1).deduplicationId,
      wb({ b: 2, a: 1 }, 2).deduplicationId,
      'field order and time do not matter',
    );
    assert.notEqual(wb({ a: 1 }, 1).deduplicationId, wb({ a: 2 }, 1).deduplicationId);
  });
});
