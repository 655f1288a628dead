import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EventInbox, type InboxEvent } from '../../../../lib/state/inbox.ts';
import { SnapshotStore } from '../../../../lib/state/snapshots.ts';
import { ManualClock, type StateTestContext, uniqueId } from './harness.ts';

/** The GSI is eventually consistent on AWS; both local engines update it synchronously. */
function event(messageId: string, apiName: string, dataId: string): InboxEvent {
  return { messageId, apiName, dataId, eventType: 'update', tenantId: '590163', via: 'push' };
}

export function pendingReadsSuite(ctx: StateTestContext): void {
  describe('EventInbox pending reads (coalescing index)', () => {
    const inbox = (clock: ManualClock) =>
      new EventInbox({ client: ctx.dynamo.client, tableName: ctx.tables.inbox, clock: clock.clock });

    it('lists new events of one apiName oldest first, and only that apiName', async () => {
      const clock = new ManualClock();
      const box = inbox(clock);
      const apiName = uniqueId('Obj').replaceAll('-', '_');
      const other = `${apiName}_other`;
      const ids: string[] = [];
      for (let i = 0; i < 5; i += 1) {
        const id = uniqueId(`m${i}`);
        ids.push(id);
        await box.recordIfNew(event(id, apiName, `rec-${i}`));
        clock.advance(10);
      }
      await box.recordIfNew(event(uniqueId('x'), other, 'rec-x'));

      const pending = await box.listPendingReads(apiName, { limit: 100 });
      assert.deepEqual(
        pending.map((p) => p.messageId),
        ids,
      );
      assert.deepEqual(
        pending.map((p) => p.dataId),
        ['rec-0', 'rec-1', 'rec-2', 'rec-3', 'rec-4'],
      );
      assert.equal((await box.listPendingReads(apiName, { limit: 2 })).length, 2);
      assert.equal((await box.listPendingReads(other, { limit: 10 })).length, 1);
    });

    it('a claimed or finished event leaves the index; a claim succeeds once', async () => {
      const clock = new ManualClock();
      const box = inbox(clock);
      const apiName = uniqueId('Obj').replaceAll('-', '_');
      const [a, b, c] = [uniqueId('a'), uniqueId('b'), uniqueId('c')];
      for (const id of [a, b, c]) await box.recordIfNew(event(id, apiName, `rec-${id}`));

      const claims = await Promise.all(
        Array.from({ length: 8 }, () =>
          new EventInbox({
            client: ctx.dynamo.newClient(),
            tableName: ctx.tables.inbox,
            clock: clock.clock,
          }).claimPendingRead(a),
        ),
      );
      assert.equal(claims.filter(Boolean).length, 1, 'exactly one of eight concurrent claims wins');
      await box.markQueued(b);
      await box.markDone(b, 'processed');
      assert.equal(await box.claimPendingRead(b), false, 'a finished event has no pending read');

      const left = await box.listPendingReads(apiName, { limit: 10 });
      assert.deepEqual(
        left.map((p) => p.messageId),
        [c],
      );
      assert.equal((await box.get(a))?.readClaimedAtMs, clock.now);
    });

    it('leaves out events received before sinceMs and expired ones', async () => {
      const clock = new ManualClock();
      const box = new EventInbox({
        client: ctx.dynamo.client,
        tableName: ctx.tables.inbox,
        clock: clock.clock,
        retentionMs: 60_000,
      });
      const apiName = uniqueId('Obj').replaceAll('-', '_');
      const old = uniqueId('old');
      await box.recordIfNew(event(old, apiName, 'r-old'));
      clock.advance(30_000);
      const recent = uniqueId('recent');
      await box.recordIfNew(event(recent, apiName, 'r-recent'));

      const since = await box.listPendingReads(apiName, { limit: 10, sinceMs: clock.now - 1_000 });
      assert.deepEqual(
        since.map((p) => p.messageId),
        [recent],
      );
      clock.advance(31_000);
      const live = await box.listPendingReads(apiName, { limit: 10 });
      assert.deepEqual(
        live.map((p) => p.messageId),
        [recent],
        'the first event is past its retention',
      );
    });
  });

  describe('SnapshotStore', () => {
    const store = (clock: ManualClock, ttlMs = 60_000) =>
      new SnapshotStore({
        client: ctx.dynamo.client,
        tableName: ctx.tables.coordination,
        clock: clock.clock,
        ttlMs,
      });

    it('read lease: one holder per kind across stores, released only by its owner, taken over once expired', async () => {
      const clock = new ManualClock();
      const copyA = store(clock);
      const copyB = store(clock);
      const kind = uniqueId('Obj').replaceAll('-', '_');

      assert.equal(await copyA.tryReadLease(kind, 'owner-a', 30_000), true);
      assert.equal(await copyB.tryReadLease(kind, 'owner-b', 30_000), false, 'held by another copy');
      assert.equal(
        await copyB.tryReadLease(`${kind}_other`, 'owner-b', 30_000),
        true,
        'kinds are independent',
      );
      assert.equal(await copyA.tryReadLease(kind, 'owner-a', 30_000), true, 'the holder may renew it');

      await copyB.releaseReadLease(kind, 'owner-b');
      assert.equal(await copyB.tryReadLease(kind, 'owner-b', 30_000), false, 'a non-owner cannot release it');
      await copyA.releaseReadLease(kind, 'owner-a');
      assert.equal(
        await copyB.tryReadLease(kind, 'owner-b', 30_000),
        true,
        'free once its owner gives it back',
      );

      clock.advance(30_001);
      assert.equal(
        await copyA.tryReadLease(kind, 'owner-a', 30_000),
        true,
        'a dead holder blocks for no longer',
      );
      await copyB.releaseReadLease(kind, 'owner-b');
      assert.equal(
        await copyB.tryReadLease(kind, 'owner-b', 30_000),
        false,
        'the old owner cannot free the new lease',
      );
    });

    it('stores and reads snapshots of many records, found and missing', async () => {
      const clock = new ManualClock();
      const snaps = store(clock);
      const kind = uniqueId('Obj').replaceAll('-', '_');
      const ids = Array.from({ length: 130 }, (_, i) => `id-${i}`);
      const stored = await snaps.putMany(
        kind,
        ids.map((id, i) => ({
          id,
          fetchedAtMs: clock.now,
          found: i % 10 !== 0,
          payload: { record: { _id: id, name: `客户 ${i}`, version: i } },
        })),
      );
      assert.equal(stored, 130);
      const read = await snaps.getMany(kind, [...ids, 'never-stored']);
      assert.equal(read.size, 130);
      assert.deepEqual(read.get('id-7')?.payload, { record: { _id: 'id-7', name: '客户 7', version: 7 } });
      assert.equal(read.get('id-10')?.found, false);
      assert.equal(read.get('id-10')?.payload, undefined);
      assert.equal(read.has('never-stored'), false);
    });

    it('never goes backwards: an older read cannot replace a newer snapshot', async () => {
      const clock = new ManualClock();
      const snaps = store(clock);
      const kind = uniqueId('Obj').replaceAll('-', '_');
      assert.equal(
        await snaps.put(kind, { id: 'r', fetchedAtMs: 2_000, found: true, payload: { v: 2 } }),
        true,
      );
      assert.equal(
        await snaps.put(kind, { id: 'r', fetchedAtMs: 1_000, found: true, payload: { v: 1 } }),
        false,
      );
      assert.equal(
        await snaps.put(kind, { id: 'r', fetchedAtMs: 2_000, found: true, payload: { v: 9 } }),
        false,
      );
      assert.deepEqual((await snaps.getMany(kind, ['r'])).get('r')?.payload, { v: 2 });
      assert.equal(await snaps.put(kind, { id: 'r', fetchedAtMs: 3_000, found: false }), true);
      assert.equal((await snaps.getMany(kind, ['r'])).get('r')?.found, false);
    });

    it('expired snapshots read as absent and may be replaced by any read', async () => {
      const clock = new ManualClock();
      const snaps = store(clock, 5_000);
      const kind = uniqueId('Obj').replaceAll('-', '_');
      await snaps.put(kind, { id: 'r', fetchedAtMs: 9_000, found: true, payload: { v: 9 } });
      clock.advance(6_000);
      assert.equal((await snaps.getMany(kind, ['r'])).size, 0);
      assert.equal(
        await snaps.put(kind, { id: 'r', fetchedAtMs: 1_000, found: true, payload: { v: 1 } }),
        true,
      );
      assert.deepEqual((await snaps.getMany(kind, ['r'])).get('r')?.payload, { v: 1 });
    });
  });
}
