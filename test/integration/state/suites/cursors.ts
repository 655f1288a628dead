import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidInputError } from '../../../../lib/errors.ts';
import { CursorStore, type Watermark } from '../../../../lib/state/cursors.ts';
import { ManualClock, type StateTestContext, uniqueId } from './harness.ts';

export function cursorSuite(ctx: StateTestContext): void {
  const cursors = (client = ctx.dynamo.client) =>
    new CursorStore({ client, tableName: ctx.tables.coordination, clock: new ManualClock().clock });

  describe('CursorStore', () => {
    it('starts empty, advances, and refuses to move backwards', async () => {
      const store = cursors();
      const flow = uniqueId('delivery-notice-to-crm');
      assert.equal(await store.get(flow), undefined);

      const first = await store.advance(flow, { modifiedAtMs: 2_000, id: '100' }, { runId: 'run-1' });
      assert.equal(first.status, 'advanced');
      assert.equal(first.cursor.runId, 'run-1');

      const back = await store.advance(flow, { modifiedAtMs: 1_000, id: '999' }, { runId: 'run-0' });
      assert.equal(back.status, 'stale');
      assert.deepEqual(back.cursor.watermark, { modifiedAtMs: 2_000, id: '100' });

      const same = await store.advance(flow, { modifiedAtMs: 2_000, id: '100' });
      assert.equal(same.status, 'unchanged');

      const tie = await store.advance(flow, { modifiedAtMs: 2_000, id: '101' });
      assert.equal(tie.status, 'advanced', 'same modify time, later id: forward');
      assert.equal((await store.get(flow))?.advances, 2);
    });

    it('compares numeric ids by value (FID 9 < FID 10) inside the conditional write', async () => {
      const store = cursors();
      const flow = uniqueId('flow');
      await store.advance(flow, { modifiedAtMs: 5, id: '10' });
      assert.equal((await store.advance(flow, { modifiedAtMs: 5, id: '9' })).status, 'stale');
      assert.equal((await store.advance(flow, { modifiedAtMs: 5, id: '11' })).status, 'advanced');
    });

    it('overlapping runs advancing concurrently leave the greatest watermark', async () => {
      const flow = uniqueId('overlap');
      const marks: Watermark[] = Array.from({ length: 30 }, (_, i) => ({
        modifiedAtMs: 1_700_000_000_000 + Math.floor(i / 3) * 1_000,
        id: String(100 + (i % 3)),
      })).sort(() => Math.random() - 0.5);
      const stores = marks.map(() => cursors(ctx.dynamo.newClient()));

      const results = await Promise.all(marks.map((mark, i) => stores[i]?.advance(flow, mark)));

      const final = await cursors().get(flow);
      assert.deepEqual(final?.watermark, { modifiedAtMs: 1_700_000_009_000, id: '102' });
      assert.ok(results.every((r) => r && ['advanced', 'stale'].includes(r.status)));
    });

    it('reset moves the watermark back on purpose, or deletes it', async () => {
      const store = cursors();
      const flow = uniqueId('backfill');
      await store.advance(flow, { modifiedAtMs: 9_000, id: 'a' });
      await store.reset(flow, { modifiedAtMs: 1_000, id: 'a' }, { runId: 'operator' });
      assert.deepEqual((await store.get(flow))?.watermark, { modifiedAtMs: 1_000, id: 'a' });
      await store.reset(flow, undefined);
      assert.equal(await store.get(flow), undefined);
    });

    it('rejects malformed flows and watermarks with InvalidInputError', async () => {
      const store = cursors();
      await assert.rejects(store.get('bad flow'), InvalidInputError);
      await assert.rejects(store.advance('f', { modifiedAtMs: Number.NaN, id: '1' }), InvalidInputError);
      await assert.rejects(store.advance('f', { modifiedAtMs: 1, id: '' }), InvalidInputError);
    });
  });
}
