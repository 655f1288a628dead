import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidInputError } from '../../../../lib/errors.ts';
import { EventInbox, type InboxEvent } from '../../../../lib/state/inbox.ts';
import { ManualClock, type StateTestContext, uniqueId } from './harness.ts';

const RETENTION_MS = 7 * 86_400_000;

function event(messageId: string, overrides: Partial<InboxEvent> = {}): InboxEvent {
  // Shape of lib/fxiaoke/push-crypto.ts CrmChangeEvent (fxiaoke-openapi.md §8a sample values).
  return {
    messageId,
    tenantId: '691413',
    apiName: 'AccountObj',
    dataId: '5f9cd4e6e4400e0001217faa',
    eventType: 'update',
    changedAtMs: 1_604_644_208_525,
    retryTimes: 0,
    via: 'push',
    ...overrides,
  };
}

export function inboxSuite(ctx: StateTestContext): void {
  const inbox = (clock = new ManualClock(), retentionMs = RETENTION_MS) =>
    new EventInbox({
      client: ctx.dynamo.client,
      tableName: ctx.tables.inbox,
      retentionMs,
      clock: clock.clock,
    });

  describe('EventInbox', () => {
    it('records a first delivery as new and a redelivery after queueing as duplicate', async () => {
      const box = inbox();
      const id = uniqueId('AC1129');
      assert.equal(await box.recordIfNew(event(id)), 'new');
      assert.equal(await box.markQueued(id, { queueMessageId: 'sqs-1' }), true);
      assert.equal(await box.recordIfNew(event(id, { retryTimes: 1 })), 'duplicate');

      const entry = await box.get(id);
      assert.equal(entry?.state, 'queued');
      assert.equal(entry?.deliveries, 2);
      assert.equal(entry?.queueMessageId, 'sqs-1');
      assert.equal(entry?.dataId, '5f9cd4e6e4400e0001217faa');
    });

    it('answers unqueued for a redelivery of an event whose queueing never completed', async () => {
      const box = inbox();
      const id = uniqueId('AC1129');
      assert.equal(await box.recordIfNew(event(id)), 'new');
      // …the webhook crashed before SQS accepted the message; Fxiaoke redelivers:
      assert.equal(await box.recordIfNew(event(id, { retryTimes: 1 })), 'unqueued');
      assert.equal(await box.markQueued(id), true);
      assert.equal(await box.recordIfNew(event(id, { retryTimes: 2 })), 'duplicate');
    });

    it('20 concurrent deliveries of the same message: exactly one is new', async () => {
      const id = uniqueId('AC1129');
      const boxes = Array.from(
        { length: 20 },
        () => new EventInbox({ client: ctx.dynamo.newClient(), tableName: ctx.tables.inbox }),
      );
      const receipts = await Promise.all(boxes.map((box) => box.recordIfNew(event(id))));
      assert.equal(receipts.filter((r) => r === 'new').length, 1);
      assert.equal(receipts.filter((r) => r === 'unqueued').length, 19);
      assert.equal((await boxes[0]?.get(id))?.deliveries, 20);
    });

    it('forgets an event after the retention, even before TTL deletes it', async () => {
      const clock = new ManualClock();
      const box = inbox(clock, 60_000);
      const id = uniqueId('AC1129');
      assert.equal(await box.recordIfNew(event(id)), 'new');
      await box.markQueued(id);
      clock.advance(59_000);
      assert.equal(await box.recordIfNew(event(id)), 'duplicate');
      clock.advance(2_000);
      assert.equal(await box.get(id), undefined, 'an expired entry reads as absent');
      assert.equal(await box.markQueued(id), false, 'an expired entry cannot be updated');
      assert.equal(await box.recordIfNew(event(id)), 'new', 'an expired entry is recorded afresh');
      assert.equal((await box.get(id))?.deliveries, 1);
    });

    it('keeps the final state; markQueued does not move a processed event back', async () => {
      const box = inbox();
      const id = uniqueId('AC1129');
      await box.recordIfNew(event(id));
      await box.markQueued(id);
      assert.equal(await box.markDone(id, 'processed', 'BD_Customer 100234 saved'), true);
      assert.equal(await box.markQueued(id), false);
      const entry = await box.get(id);
      assert.equal(entry?.state, 'processed');
      assert.equal(entry?.detail, 'BD_Customer 100234 saved');
      assert.equal(await box.recordIfNew(event(id)), 'duplicate');
    });

    it('markQueued and markDone on an unknown message change nothing', async () => {
      const box = inbox();
      const id = uniqueId('unknown');
      assert.equal(await box.markQueued(id), false);
      assert.equal(await box.markDone(id, 'failed'), false);
      assert.equal(await box.get(id), undefined);
    });

    it('rejects an event without messageId or dataId with InvalidInputError', async () => {
      const box = inbox();
      await assert.rejects(box.recordIfNew(event('')), InvalidInputError);
      await assert.rejects(box.recordIfNew(event(uniqueId('m'), { dataId: '' })), /dataId/);
      await assert.rejects(box.get(''), InvalidInputError);
    });
  });
}
