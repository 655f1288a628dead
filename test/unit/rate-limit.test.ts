/**
 * The in-process sliding-window limiter (each copy's own budget when no shared limiter is configured):
 * `whenAvailable` waits for room without spending it, behind callers already queued.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SlidingWindowRateLimiter } from '../../lib/rate-limit.ts';

/** A clock that only moves when a caller sleeps. */
function virtualTime() {
  let now = 1_000_000;
  return {
    clock: () => now,
    sleep: async (ms: number) => {
      now += ms;
    },
    get now() {
      return now;
    },
  };
}

describe('SlidingWindowRateLimiter', () => {
  it('whenAvailable: at once while the window has room, after the oldest call leaves when it is spent, spending nothing', async () => {
    const time = virtualTime();
    const limiter = new SlidingWindowRateLimiter({ calls: 2, windowMs: 1_000 }, time);
    const bucket = 'fxiaoke:/cgi/crm/v2/data/query';
    const startedAt = time.now;

    await limiter.whenAvailable(bucket);
    assert.equal(time.now, startedAt);
    await limiter.acquire(bucket);
    await limiter.acquire(bucket);
    assert.equal(time.now, startedAt, 'two calls fit');

    await limiter.whenAvailable(bucket);
    assert.equal(time.now - startedAt, 1_000, 'waited for the window');
    await limiter.acquire(bucket);
    await limiter.acquire(bucket);
    assert.equal(time.now - startedAt, 1_000, 'the wait spent nothing: both calls admitted at once');
  });
});
