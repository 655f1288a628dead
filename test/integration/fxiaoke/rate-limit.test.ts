import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { FxiaokeEmulator } from '../../../infra/local/fxiaoke-emulator/api.ts';
import { FxiaokeError } from '../../../lib/fxiaoke/errors.ts';
import { unlimited } from '../../../lib/rate-limit.ts';
import { clientFor, type ManualClock, manualClock, startEmulator } from './emulator-harness.ts';

// A short window keeps the arithmetic readable; the rule is Fxiaoke's (N calls per window per interface).
const LIMIT = { calls: 20, windowMs: 2_000 };
const BURST = 250;

describe('client-side rate limiting against the emulator’s per-interface limit', () => {
  let clock: ManualClock;
  let emulator: FxiaokeEmulator;
  let accountId = '';

  before(async () => {
    clock = manualClock();
    emulator = await startEmulator(clock, { rateLimit: LIMIT });
    const setup = clientFor(emulator, 'oauth2', clock, {}, { rateLimit: LIMIT });
    accountId = (await setup.create('AccountObj', { name: '限流测试' })).dataId;
    await setup.close();
  });
  after(() => emulator.close());

  it(`a ${BURST}-call burst paced by the client's limiter gets no 14001`, async () => {
    // The limiter's sleep advances the clock the emulator reads, so the burst takes no real time.
    const client = clientFor(emulator, 'oauth2', clock, { readRetries: 0 }, { rateLimit: LIMIT });
    try {
      emulator.resetStats();
      const started = clock.now();
      for (let i = 0; i < BURST; i++) await client.get('AccountObj', accountId);
      const stats = emulator.stats();
      assert.equal(stats.rateLimited, 0);
      assert.equal(stats.calls['/cgi/crm/v2/data/get'], BURST);
      const windowsNeeded = Math.ceil(BURST / LIMIT.calls) - 1;
      assert.ok(
        clock.now() - started >= windowsNeeded * LIMIT.windowMs,
        'the limiter held calls back instead of letting the server refuse them',
      );
    } finally {
      await client.close();
    }
  });

  it('the same burst without a client limiter runs into 14001 (throttled)', async () => {
    clock.advance(LIMIT.windowMs);
    const client = clientFor(
      emulator,
      'oauth2',
      clock,
      { readRetries: 0, rateLimiter: unlimited },
      { rateLimit: LIMIT },
    );
    try {
      emulator.resetStats();
      let throttled = 0;
      for (let i = 0; i < BURST; i++) {
        await client.get('AccountObj', accountId).catch((error: unknown) => {
          assert.ok(error instanceof FxiaokeError);
          assert.equal(error.kind, 'throttled');
          assert.equal(error.errorCode, 14001);
          throttled++;
        });
      }
      assert.equal(throttled, BURST - LIMIT.calls);
      assert.equal(emulator.stats().rateLimited, BURST - LIMIT.calls);
    } finally {
      await client.close();
    }
  });
});
