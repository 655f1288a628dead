import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidInputError } from '../../../../lib/errors.ts';
import { classifyChange, type LinkKey, LinkStore } from '../../../../lib/state/links.ts';
import { ManualClock, type StateTestContext, uniqueId } from './harness.ts';

function customerKey(crmId = uniqueId('5f9cd4e6')): LinkKey & { origin: 'crm' } {
  return { origin: 'crm', apiName: 'AccountObj', crmId, formId: 'BD_Customer' };
}

export function linkSuite(ctx: StateTestContext): void {
  const links = (clock = new ManualClock(), client = ctx.dynamo.client) =>
    new LinkStore({ client, tableName: ctx.tables.links, clock: clock.clock });

  describe('LinkStore', () => {
    describe('create path', () => {
      it('claim → create → recordSynced links the records; lookups work both ways', async () => {
        const store = links();
        const key = customerKey();
        const claim = await store.claim(key, { owner: 'worker-a' });
        assert.equal(claim.status, 'claimed');
        assert.equal(claim.status === 'claimed' && claim.link, undefined, 'nothing was known before');
        assert.deepEqual(classifyChange(undefined, { version: 3 }), { action: 'create', lookupFirst: false });

        const written = await store.recordSynced(key, {
          owner: 'worker-a',
          erpId: '100234',
          erpNumber: 'CUST0042',
          version: 3,
          modifiedAtMs: 1_700_000_000_000,
          contentHash: 'h1',
          correlationId: 'corr-1',
          messageId: 'AC11291700002A9F00000608C038697A0',
        });

        assert.equal(written.status, 'written');
        const link = await store.get(key);
        assert.equal(link?.state, 'linked');
        assert.equal(link?.erpId, '100234');
        assert.equal(link?.erpNumber, 'CUST0042');
        assert.equal(link?.version, 3);
        assert.equal(link?.claim, undefined, 'recordSynced releases the claim');
        assert.equal(link?.syncCount, 1);
        assert.equal(link?.lastMessageId, 'AC11291700002A9F00000608C038697A0');

        assert.deepEqual(
          (await store.findByErpId('BD_Customer', '100234')).map((l) => l.crmId),
          [key.crmId],
        );
        assert.deepEqual(
          (await store.findByErpNumber('BD_Customer', 'CUST0042')).map((l) => l.crmId),
          [key.crmId],
        );
        assert.deepEqual(
          (await store.findByCrm('AccountObj', key.crmId)).map((l) => l.erpId),
          ['100234'],
        );
      });

      it('20 concurrent claims for the same CRM record: exactly one wins, the others are told it is busy', async () => {
        const key = customerKey();
        const stores = Array.from({ length: 20 }, () => links(new ManualClock(), ctx.dynamo.newClient()));
        const results = await Promise.all(stores.map((s, i) => s.claim(key, { owner: `worker-${i}` })));
        const winners = results.filter((r) => r.status === 'claimed');
        assert.equal(winners.length, 1);
        const busy = results.filter((r) => r.status === 'busy');
        assert.equal(busy.length, 19);
        const winnerIndex = results.findIndex((r) => r.status === 'claimed');
        for (const r of busy) {
          assert.equal(r.status === 'busy' && r.holder.owner, `worker-${winnerIndex}`);
          assert.equal(
            r.status === 'busy' && r.link.state,
            'pending',
            'a pending marker says "being created"',
          );
        }
      });

      it('a worker that died after claiming leaves a pending marker: the next one takes over and is told to look up first', async () => {
        const clock = new ManualClock();
        const store = links(clock);
        const key = customerKey();
        await store.claim(key, { owner: 'died', leaseMs: 60_000 });
        const early = await store.claim(key, { owner: 'next' });
        assert.equal(early.status, 'busy');

        clock.advance(60_001);
        const late = await store.claim(key, { owner: 'next' });

        assert.equal(late.status, 'claimed');
        if (late.status !== 'claimed') return;
        assert.equal(late.takenOver?.owner, 'died');
        assert.equal(late.link?.state, 'pending');
        assert.deepEqual(classifyChange(late.link, { version: 1 }), { action: 'create', lookupFirst: true });
        // The dead worker wakes up and tries to record its result: refused, the claim is not its own any more.
        const stale = await store.recordSynced(key, { owner: 'died', erpId: '100300', version: 1 });
        assert.equal(stale.status, 'busy');
      });

      it('release after a definite failure deletes the pending marker; release of a linked record keeps the link', async () => {
        const store = links();
        const key = customerKey();
        await store.claim(key, { owner: 'w1' });
        assert.equal(await store.release(key, 'someone-else'), false);
        assert.equal(await store.release(key, 'w1'), true);
        assert.equal(await store.get(key), undefined);

        await store.claim(key, { owner: 'w2' });
        await store.recordSynced(key, { owner: 'w2', erpId: '1', version: 1 });
        await store.claim(key, { owner: 'w3' });
        assert.equal(await store.release(key, 'w3'), true);
        const link = await store.get(key);
        assert.equal(link?.state, 'linked');
        assert.equal(link?.claim, undefined);
      });

      it('a new link without the ERP id is refused with InvalidInputError', async () => {
        const store = links();
        const key = customerKey();
        await store.claim(key, { owner: 'w' });
        await assert.rejects(store.recordSynced(key, { owner: 'w', version: 1 }), {
          code: 'LINK_MISSING_COUNTERPART',
        });
      });
    });

    describe('ordering', () => {
      it('an older version after a newer one is stale; the same version twice is a duplicate', async () => {
        const store = links();
        const key = customerKey();
        assert.equal(
          (await store.recordSynced(key, { erpId: '7', version: 5, contentHash: 'h5' })).status,
          'written',
        );

        const older = await store.recordSynced(key, { erpId: '7', version: 3, contentHash: 'h3' });
        assert.equal(older.status, 'stale');
        assert.equal(older.link.version, 5);
        const again = await store.recordSynced(key, { erpId: '7', version: 5, contentHash: 'h5' });
        assert.equal(again.status, 'duplicate');

        const link = await store.get(key);
        assert.equal(link?.contentHash, 'h5', 'nothing moved backwards');
        assert.deepEqual(classifyChange(link, { version: 3 }), { action: 'skip', reason: 'stale' });
        assert.deepEqual(classifyChange(link, { version: 5 }), { action: 'skip', reason: 'duplicate' });
        assert.deepEqual(classifyChange(link, { version: 6, contentHash: 'h5' }), {
          action: 'skip',
          reason: 'unchanged',
        });
        assert.deepEqual(classifyChange(link, { version: 6, contentHash: 'h6' }), { action: 'update' });
      });

      it('concurrent writers of versions 1–20 in random order leave version 20, and none is lost silently', async () => {
        const store = links();
        const key = customerKey();
        const versions = Array.from({ length: 20 }, (_, i) => i + 1).sort(() => Math.random() - 0.5);
        const stores = versions.map(() => links(new ManualClock(), ctx.dynamo.newClient()));

        const results = await Promise.all(
          versions.map((version, i) =>
            stores[i]?.recordSynced(key, { erpId: '100234', version, contentHash: `h${version}` }),
          ),
        );

        const link = await store.get(key);
        assert.equal(link?.version, 20);
        assert.equal(link?.contentHash, 'h20');
        for (const result of results)
          assert.ok(result && (result.status === 'written' || result.status === 'stale'));
        assert.equal(link?.syncCount, results.filter((r) => r?.status === 'written').length);
      });

      it('allowSameVersion accepts a replay of the same version but still refuses an older one', async () => {
        const store = links();
        const key = customerKey();
        await store.recordSynced(key, { erpId: '9', version: 4, contentHash: 'old-mapping' });
        const replay = await store.recordSynced(key, {
          erpId: '9',
          version: 4,
          contentHash: 'new-mapping',
          allowSameVersion: true,
        });
        assert.equal(replay.status, 'written');
        assert.equal(replay.link.contentHash, 'new-mapping');
        const older = await store.recordSynced(key, { erpId: '9', version: 3, allowSameVersion: true });
        assert.equal(older.status, 'stale');
      });

      it('a live claim by another worker makes a write busy', async () => {
        const store = links();
        const key = customerKey();
        await store.recordSynced(key, { erpId: '9', version: 1 });
        await store.claim(key, { owner: 'updater' });
        assert.equal((await store.recordSynced(key, { erpId: '9', version: 2 })).status, 'busy');
        assert.equal(
          (await store.recordSynced(key, { owner: 'updater', erpId: '9', version: 2 })).status,
          'written',
        );
      });
    });

    describe('counterpart', () => {
      it('a write naming a different ERP record is a conflict unless relink is asked for', async () => {
        const store = links();
        const key = customerKey();
        await store.recordSynced(key, { erpId: '100', erpNumber: 'C-100', version: 1 });

        const conflict = await store.recordSynced(key, { erpId: '200', version: 2 });
        assert.equal(conflict.status, 'conflict');
        assert.equal(conflict.link.erpId, '100');

        const moved = await store.recordSynced(key, {
          erpId: '200',
          erpNumber: 'C-200',
          version: 2,
          relink: true,
        });
        assert.equal(moved.status, 'written');
        assert.deepEqual(await store.findByErpId('BD_Customer', '100'), []);
        assert.equal((await store.findByErpNumber('BD_Customer', 'C-200'))[0]?.crmId, key.crmId);
      });

      it('an ERP-origin link (delivery notice → CRM delivery record) is found from both sides', async () => {
        const store = links();
        const erpId = uniqueId('100');
        const key: LinkKey = {
          origin: 'erp',
          formId: 'SAL_DELIVERYNOTICE',
          erpId,
          apiName: 'DeliveryNoteObj',
        };
        const claim = await store.claim(key, { owner: 'poll-run-1' });
        assert.equal(claim.status, 'claimed');
        const crmId = uniqueId('crm');
        const written = await store.recordSynced(key, {
          owner: 'poll-run-1',
          crmId,
          erpNumber: 'FHTZD000123',
          version: 1_700_000_000_000,
        });
        assert.equal(written.status, 'written');
        assert.equal((await store.findByCrm('DeliveryNoteObj', crmId))[0]?.erpId, erpId);
        assert.equal((await store.findByErpId('SAL_DELIVERYNOTICE', erpId))[0]?.crmId, crmId);
        assert.equal((await store.findByErpNumber('SAL_DELIVERYNOTICE', 'FHTZD000123')).length, 1);
      });

      it('one CRM order links to several ERP forms (sales order and delivery notice)', async () => {
        const store = links();
        const crmId = uniqueId('order');
        await store.recordSynced(
          { origin: 'crm', apiName: 'SalesOrderObj', crmId, formId: 'SAL_SaleOrder' },
          { erpId: '1', version: 1 },
        );
        await store.recordSynced(
          { origin: 'crm', apiName: 'SalesOrderObj', crmId, formId: 'SAL_DELIVERYNOTICE' },
          { erpId: '2', version: 1 },
        );
        const found = await store.findByCrm('SalesOrderObj', crmId);
        assert.deepEqual(found.map((l) => l.formId).sort(), ['SAL_DELIVERYNOTICE', 'SAL_SaleOrder']);
      });
    });

    describe('input', () => {
      it('rejects keys that would make ambiguous composite keys', async () => {
        const store = links();
        await assert.rejects(
          store.get({ origin: 'crm', apiName: 'Account#Obj', crmId: 'x', formId: 'BD_Customer' }),
          InvalidInputError,
        );
        await assert.rejects(
          store.get({ origin: 'crm', apiName: 'AccountObj', crmId: '', formId: 'BD_Customer' }),
          InvalidInputError,
        );
        await assert.rejects(store.recordSynced(customerKey(), { erpId: '1', version: Number.NaN }), {
          code: 'LINK_BAD_VERSION',
        });
      });
    });
  });
}
