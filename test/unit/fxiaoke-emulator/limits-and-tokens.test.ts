import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FxiaokeApiError } from '../../../infra/local/fxiaoke-emulator/errors.ts';
import {
  DailyQuota,
  FaultState,
  SlidingWindowCounter,
} from '../../../infra/local/fxiaoke-emulator/limits.ts';
import { TokenService } from '../../../infra/local/fxiaoke-emulator/tokens.ts';

function clock(start = Date.UTC(2026, 10, 23, 2)) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

describe('SlidingWindowCounter', () => {
  it('admits exactly `calls` per sliding window per key and does not count refusals', () => {
    const c = clock();
    const window = new SlidingWindowCounter({ calls: 3, windowMs: 1_000 }, c.now);
    assert.deepEqual(
      [1, 2, 3, 4].map(() => window.tryAcquire('a')),
      [true, true, true, false],
    );
    assert.equal(window.tryAcquire('b'), true, 'keys are independent');
    c.advance(999);
    assert.equal(window.tryAcquire('a'), false);
    c.advance(1);
    assert.equal(window.tryAcquire('a'), true, 'the first three left the window at +1000 ms');
    assert.equal(window.tryAcquire('a'), true);
    assert.equal(window.tryAcquire('a'), true);
    assert.equal(window.tryAcquire('a'), false);
  });
});

describe('DailyQuota', () => {
  it('resets at 00:00 GMT+8, not UTC midnight', () => {
    const c = clock(Date.UTC(2026, 10, 23, 15, 59)); // 23:59 GMT+8
    const quota = new DailyQuota(1, c.now);
    assert.equal(quota.tryAcquire(), true);
    assert.equal(quota.tryAcquire(), false);
    c.advance(60_000); // 00:00 GMT+8 (still 16:00 UTC)
    assert.equal(quota.tryAcquire(), true);
  });
});

describe('FaultState', () => {
  it('fires `times` times within scope, counts firings, and respects probability', () => {
    let random = 0.9;
    const faults = new FaultState(() => random);
    faults.set({ systemBusy: { times: 2 }, serviceError: { paths: ['/x'], probability: 0.5 } });
    assert.equal(faults.fires('systemBusy', '/cgi/user/getByMobile'), false, 'default scope: CRM data paths');
    assert.equal(faults.fires('systemBusy', '/cgi/crm/v2/data/get'), true);
    assert.equal(faults.fires('systemBusy', '/cgi/crm/v2/data/get'), true);
    assert.equal(faults.fires('systemBusy', '/cgi/crm/v2/data/get'), false);
    assert.equal(faults.fires('serviceError', '/x'), false, 'random 0.9 ≥ 0.5');
    random = 0.1;
    assert.equal(faults.fires('serviceError', '/x'), true);
    assert.deepEqual(faults.fired(), { systemBusy: 2, serviceError: 1 });
  });
});

describe('TokenService', () => {
  const identity = { appId: 'FSAID_a', appSecret: 'secret-1', permanentCode: 'CODE1' };
  const good = { appId: 'FSAID_a', appSecret: 'secret-1', permanentCode: 'CODE1' };

  it('keeps separate tokens per flow and exports/imports valid ones', () => {
    const c = clock();
    const tokens = new TokenService(identity, c.now);
    const legacy = tokens.issue('legacy', good).token;
    const oauth = tokens.issue('oauth2', good).token;
    assert.notEqual(legacy.token, oauth.token);
    assert.equal(tokens.issuedCount, 2);
    const restored = new TokenService(identity, c.now);
    restored.import(tokens.export());
    assert.ok(restored.validate(legacy.token));
    assert.equal(restored.issue('legacy', good).token.token, legacy.token, 'reuse continues after a restart');
    restored.import([{ token: 'x' }, 'junk', null]);
    restored.import('not a list');
    assert.equal(restored.revokeAll(), 2);
    assert.equal(restored.validate(legacy.token), undefined);
  });

  it('raises Fxiaoke codes for bad credentials', () => {
    const tokens = new TokenService(identity, clock().now);
    const code = (creds: Record<string, unknown>) => {
      try {
        tokens.issue('legacy', creds);
      } catch (error) {
        assert.ok(error instanceof FxiaokeApiError);
        return error.errorCode;
      }
      return 0;
    };
    assert.equal(code({ ...good, appSecret: 'secret-2' }), 20006);
    assert.equal(code({ ...good, permanentCode: 'CODE2' }), 20015);
    assert.equal(code({ ...good, appId: '' }), 10001);
    assert.equal(code({ ...good, appSecret: 42 }), 10002);
    assert.equal(code({ appId: 'FSAID_a', appSecret: 'secret-1' }), 10012);
    assert.equal(code(good), 0);
  });
});
