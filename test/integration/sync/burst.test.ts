/**
 * A CRM admin imports 1 000 customers at once: 1 000 change pushes. The coalescing re-read must keep the
 * Fxiaoke query calls at about one per 100 events (10 measured: one read in flight at a time, each full;
 * ≤ 12 asserted, against Fxiaoke's 100 calls / 20 s per interface),
 * while every account still becomes exactly one K3 customer, with at most one K3Cloud login. Four pollers
 * work the queue concurrently, as Lambda's event source would.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { pushBody, SyncStack } from './harness.ts';

const EVENTS = 1_000;
const QUERY_PATH = '/cgi/crm/v2/data/query';

describe('a burst of 1 000 AccountObj changes', () => {
  let stack: SyncStack;
  before(async () => {
    // Password login mode, so K3Cloud logins are counted (signature mode never logs in).
    stack = await SyncStack.start({ k3AuthMode: 'password' });
  });
  after(async () => {
    await stack?.close();
  });

  it('costs at most 12 Fxiaoke query calls and creates each customer exactly once', async (t) => {
    const ids = await stack.fx.insertRecords(
      'AccountObj',
      Array.from({ length: EVENTS }, (_, i) => ({ name: `批量导入客户 ${String(i).padStart(4, '0')}` })),
    );
    // Fxiaoke pushes every change; the webhook queues them.
    for (let start = 0; start < ids.length; start += 50) {
      const replies = await Promise.all(
        ids.slice(start, start + 50).map((id) => stack.push(pushBody('AccountObj', id))),
      );
      assert.ok(replies.every((reply) => reply.statusCode === 200));
    }
    assert.equal(stack.counts('accountToCustomer').visible, EVENTS);

    stack.fx.resetStats();
    const k3CallsBefore = Object.values(stack.k3.stats().calls).reduce((a, b) => a + b, 0);
    const run = await stack.pump('accountToCustomer', { concurrency: 4 });
    assert.equal(run.failed, 0);
    assert.equal(run.messages, EVENTS);

    const queryCalls = stack.fx.stats().calls[QUERY_PATH] ?? 0;
    assert.ok(queryCalls <= 12, `Fxiaoke query calls: ${queryCalls} (want ≤ 12 for ${EVENTS} events)`);
    assert.equal(stack.fx.stats().rateLimited, 0, 'never over Fxiaoke’s rate limit');

    const rows = await stack.k3Rows('BD_Customer', ['F_FXK_CrmId'], "FUseOrgId.FNumber = '100'");
    const keys = rows.map((row) => String(row[0]));
    const wanted = new Set(ids);
    const created = keys.filter((key) => wanted.has(key));
    assert.equal(created.length, EVENTS, 'every account became a customer');
    assert.equal(new Set(created).size, EVENTS, 'none twice');

    const k3Calls = Object.values(stack.k3.stats().calls).reduce((a, b) => a + b, 0) - k3CallsBefore;
    t.diagnostic(
      `${EVENTS} events: ${queryCalls} Fxiaoke query calls, ${(k3Calls / EVENTS).toFixed(2)} K3 calls per record, ${run.batches} batches`,
    );
    // Batched per SQS batch: one lookup, one BatchSave, one Submit, one Audit, allocation check + Allocate.
    assert.ok(k3Calls / EVENTS <= 0.7, `K3 calls per record: ${(k3Calls / EVENTS).toFixed(2)}`);
    assert.ok(
      stack.k3.stats().logins <= 1,
      `K3Cloud logins: ${stack.k3.stats().logins} (one shared session)`,
    );
  });
});
