/**
 * K3Cloud sessions across a burst (password login mode): every worker shares one session through the
 * DynamoDB credential store, and a session that expires in the middle of the work costs exactly one
 * re-login — not one per worker or per call.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { pushBody, SyncStack } from './harness.ts';

describe('K3Cloud session expiry mid-batch', () => {
  let stack: SyncStack;
  before(async () => {
    stack = await SyncStack.start({ k3AuthMode: 'password' });
  });
  after(async () => {
    await stack?.close();
  });

  it('costs one re-login, and every record is still synced once', async () => {
    const ids = await stack.fx.insertRecords(
      'AccountObj',
      Array.from({ length: 40 }, (_, i) => ({ name: `会话测试客户 ${i}` })),
    );
    for (const id of ids) assert.equal((await stack.push(pushBody('AccountObj', id))).statusCode, 200);

    await stack.pump('accountToCustomer', { maxRounds: 1 });
    assert.equal(stack.k3.stats().logins, 1, 'one login for the first batch');
    assert.ok(stack.k3.expireAllSessions() >= 1);
    const rest = await stack.pump('accountToCustomer', { concurrency: 3 });
    assert.equal(rest.failed, 0);
    assert.equal(stack.k3.stats().logins, 2, 'the expired session cost exactly one more login');

    const rows = await stack.k3Rows('BD_Customer', ['F_FXK_CrmId'], "FUseOrgId.FNumber = '100'");
    const keys = rows.map((row) => String(row[0])).filter((key) => ids.includes(key));
    assert.equal(keys.length, ids.length);
    assert.equal(new Set(keys).size, ids.length);
  });
});
