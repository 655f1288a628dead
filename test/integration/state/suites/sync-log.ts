import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidInputError, SyncError } from '../../../../lib/errors.ts';
import { registerSecret } from '../../../../lib/log.ts';
import { type RecordRef, SyncLog, type SyncLogEntryInput } from '../../../../lib/state/sync-log.ts';
import { ManualClock, type StateTestContext, uniqueId } from './harness.ts';

const DAY_MS = 86_400_000;

/** K3Cloud's answer to a Save with a missing required field (k3cloud-webapi.md, error rows). */
const k3BusinessError = () =>
  new SyncError('金蝶保存失败 / K3Cloud refused to save the customer', {
    kind: 'business',
    fault: 'caller',
    code: 'K3_MSGCODE_11',
    remoteMessages: ['字段“客户名称”是必填项'],
  });

export function syncLogSuite(ctx: StateTestContext): void {
  const log = (clock = new ManualClock(), retentionMs = 90 * DAY_MS) =>
    new SyncLog({
      client: ctx.dynamo.client,
      tableName: ctx.tables.syncLog,
      retentionMs,
      clock: clock.clock,
    });

  const attempt = (
    flow: string,
    source: RecordRef,
    atMs: number,
    outcome: SyncLogEntryInput['outcome'],
    extra: Partial<SyncLogEntryInput> = {},
  ): SyncLogEntryInput => ({
    flow,
    source,
    correlationId: uniqueId('corr'),
    attempt: 1,
    outcome,
    durationMs: 120,
    atMs,
    ...extra,
  });

  describe('SyncLog', () => {
    it('keeps a failed attempt with the ERP message verbatim, queryable by record', async () => {
      const clock = new ManualClock();
      const store = log(clock);
      const source: RecordRef = { system: 'crm', type: 'AccountObj', id: uniqueId('acc') };
      await store.append(
        attempt('account-to-customer', source, clock.now, 'failed', {
          messageId: 'AC11291700002A9F00000608C038697A0',
          target: { system: 'erp', type: 'BD_Customer' },
          sourceVersion: 4,
          error: k3BusinessError(),
          operations: ['Save'],
        }),
      );

      const page = await store.listByRecord(source);

      assert.equal(page.entries.length, 1);
      const entry = page.entries[0];
      assert.equal(entry?.outcome, 'failed');
      assert.equal(entry?.error?.code, 'K3_MSGCODE_11');
      assert.equal(entry?.error?.kind, 'business');
      assert.deepEqual(entry?.error?.remoteMessages, ['字段“客户名称”是必填项']);
      assert.equal(entry?.messageId, 'AC11291700002A9F00000608C038697A0');
      assert.deepEqual(entry?.operations, ['Save']);
      assert.equal(page.cursor, undefined);
    });

    it('appends a batch of attempts at once (over one BatchWriteItem request of 25), each queryable', async () => {
      const clock = new ManualClock();
      const store = log(clock);
      const sources: RecordRef[] = Array.from({ length: 30 }, () => ({
        system: 'crm',
        type: 'AccountObj',
        id: uniqueId('acc'),
      }));
      const written = await store.appendMany(
        sources.map((source, i) =>
          attempt('account-to-customer', source, clock.now + i, i === 7 ? 'failed' : 'succeeded', {
            ...(i === 7 ? { error: k3BusinessError() } : {}),
          }),
        ),
      );
      assert.equal(written.length, 30);
      const good = (): RecordRef => ({ system: 'crm', type: 'AccountObj', id: 'never' });
      for (const [i, source] of sources.entries()) {
        const latest = await store.latestForRecord(source);
        assert.equal(latest?.outcome, i === 7 ? 'failed' : 'succeeded');
      }
      assert.equal((await store.latestForRecord(sources[7] ?? good()))?.error?.code, 'K3_MSGCODE_11');
    });

    it('writes nothing of a batch with an invalid entry', async () => {
      const store = log();
      const good: RecordRef = { system: 'crm', type: 'AccountObj', id: uniqueId('acc') };
      await assert.rejects(
        store.appendMany([
          attempt('account-to-customer', good, 0, 'succeeded'),
          { ...attempt('account-to-customer', good, 0, 'failed'), correlationId: '' },
        ]),
        InvalidInputError,
      );
      assert.equal(await store.latestForRecord(good), undefined);
    });

    it('pages through a record newest first and returns the latest attempt', async () => {
      const clock = new ManualClock();
      const store = log(clock);
      const source: RecordRef = { system: 'crm', type: 'SalesOrderObj', id: uniqueId('order') };
      for (let i = 1; i <= 5; i += 1) {
        await store.append(
          attempt(
            'sales-order-to-sale-order',
            source,
            clock.now + i * 1_000,
            i < 5 ? 'failed' : 'succeeded',
            {
              attempt: i,
              ...(i < 5
                ? { error: new Error('socket hang up') }
                : {
                    target: { system: 'erp', type: 'SAL_SaleOrder', ids: ['100501'], number: 'XSDD000501' },
                  }),
            },
          ),
        );
      }

      const first = await store.listByRecord(source, { limit: 2 });
      assert.deepEqual(
        first.entries.map((e) => e.attempt),
        [5, 4],
      );
      assert.ok(first.cursor);
      const second = await store.listByRecord(source, { limit: 2, cursor: first.cursor });
      assert.deepEqual(
        second.entries.map((e) => e.attempt),
        [3, 2],
      );
      const latest = await store.latestForRecord(source);
      assert.equal(latest?.outcome, 'succeeded');
      assert.deepEqual(latest?.target, {
        system: 'erp',
        type: 'SAL_SaleOrder',
        ids: ['100501'],
        number: 'XSDD000501',
      });
      const plain = (await store.listByRecord(source, { limit: 5, newestFirst: false })).entries[0];
      assert.equal(plain?.error?.kind, 'internal', 'an unexpected Error is logged as internal');
      assert.equal(plain?.error?.message, 'socket hang up');
    });

    it('lists a flow within a time range', async () => {
      const clock = new ManualClock();
      const store = log(clock);
      const flow = uniqueId('delivery-to-crm');
      const base = clock.now;
      for (let i = 0; i < 6; i += 1) {
        const source: RecordRef = { system: 'erp', type: 'SAL_DELIVERYNOTICE', id: `${1000 + i}` };
        await store.append(attempt(flow, source, base + i * 60_000, 'succeeded'));
      }
      await store.append(
        attempt(uniqueId('other-flow'), { system: 'erp', type: 'X', id: '1' }, base + 60_000, 'succeeded'),
      );

      const page = await store.listByFlow(flow, {
        fromMs: base + 60_000,
        toMs: base + 180_000,
        newestFirst: false,
      });

      assert.deepEqual(
        page.entries.map((e) => e.source.id),
        ['1001', '1002', '1003'],
      );
    });

    it('lists failures from the sparse index, by flow, and drops those resolved by a later success', async () => {
      const clock = new ManualClock();
      const store = log(clock);
      const flow = uniqueId('account-to-customer');
      const base = clock.now;
      const fixedLater: RecordRef = { system: 'crm', type: 'AccountObj', id: uniqueId('a') };
      const stillBroken: RecordRef = { system: 'crm', type: 'AccountObj', id: uniqueId('b') };
      await store.append(attempt(flow, fixedLater, base + 1_000, 'failed', { error: k3BusinessError() }));
      await store.append(attempt(flow, stillBroken, base + 2_000, 'failed', { error: k3BusinessError() }));
      await store.append(attempt(flow, fixedLater, base + 3_000, 'succeeded'));
      await store.append(
        attempt(flow, { system: 'crm', type: 'AccountObj', id: uniqueId('c') }, base + 4_000, 'skipped', {
          reason: 'stale',
        }),
      );
      await store.append(
        attempt(uniqueId('other'), stillBroken, base + 2_500, 'failed', { error: k3BusinessError() }),
      );

      const failed = await store.listFailed({ flow, fromMs: base, toMs: base + 10_000 });
      assert.deepEqual(
        failed.entries.map((e) => e.source.id),
        [stillBroken.id, fixedLater.id],
        'only failed entries of this flow, newest first',
      );
      const unresolved = await store.listFailed({
        flow,
        fromMs: base,
        toMs: base + 10_000,
        onlyUnresolved: true,
      });
      assert.deepEqual(
        unresolved.entries.map((e) => e.source.id),
        [stillBroken.id],
      );
    });

    it('ignores entries past their retention even before TTL deletes them', async () => {
      const clock = new ManualClock();
      const store = log(clock, 60_000);
      const source: RecordRef = { system: 'crm', type: 'AccountObj', id: uniqueId('acc') };
      await store.append(attempt('account-to-customer', source, clock.now, 'succeeded'));
      assert.equal((await store.listByRecord(source)).entries.length, 1);
      clock.advance(61_000);
      assert.equal((await store.listByRecord(source)).entries.length, 0);
      assert.equal(await store.latestForRecord(source), undefined);
    });

    it('masks registered secrets inside stored messages', async () => {
      const clock = new ManualClock();
      const store = log(clock);
      const secret = 'fake-app-secret-0123456789';
      registerSecret(secret);
      const source: RecordRef = { system: 'crm', type: 'AccountObj', id: uniqueId('acc') };
      const entry = await store.append(
        attempt('account-to-customer', source, clock.now, 'failed', {
          error: new SyncError(`login with ${secret} refused`, {
            kind: 'config',
            fault: 'ours',
            code: 'K3_LOGIN_FAILED',
            remoteMessages: [`bad secret ${secret}`],
          }),
        }),
      );
      assert.doesNotMatch(JSON.stringify(entry), new RegExp(secret));
      assert.doesNotMatch(JSON.stringify((await store.listByRecord(source)).entries), new RegExp(secret));
    });

    it('rejects incomplete entries, bad ranges and forged cursors with InvalidInputError', async () => {
      const store = log();
      const source: RecordRef = { system: 'crm', type: 'AccountObj', id: 'x' };
      await assert.rejects(
        store.append({ ...attempt('f', source, 0, 'failed'), correlationId: '' }),
        InvalidInputError,
      );
      await assert.rejects(
        store.append({ ...attempt('f', source, 0, 'failed'), attempt: 0 }),
        InvalidInputError,
      );
      await assert.rejects(store.listByFlow('f', { fromMs: 10, toMs: 5 }), InvalidInputError);
      await assert.rejects(store.listByRecord(source, { cursor: 'not-a-cursor' }), {
        code: 'SYNC_LOG_BAD_CURSOR',
      });
      await assert.rejects(
        store.listByRecord({ system: 'crm', type: 'Bad#Type', id: 'x' }),
        InvalidInputError,
      );
    });
  });
}
