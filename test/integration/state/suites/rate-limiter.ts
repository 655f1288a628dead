import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DynamoRateLimiter, RateLimitWaitError } from '../../../../lib/state/rate-limiter.ts';
import { type StateTestContext, uniqueId, VirtualTime } from './harness.ts';

/** The most admissions found in any window of `windowMs` (admission times sorted ascending). */
function maxInAnyWindow(times: readonly number[], windowMs: number): number {
  const sorted = [...times].sort((a, b) => a - b);
  let best = 0;
  let start = 0;
  for (let end = 0; end < sorted.length; end += 1) {
    while ((sorted[end] ?? 0) - (sorted[start] ?? 0) >= windowMs) start += 1;
    best = Math.max(best, end - start + 1);
  }
  return best;
}

export function rateLimiterSuite(ctx: StateTestContext): void {
  describe('DynamoRateLimiter', () => {
    it('shares one budget across limiter instances: never more than the limit in any window', async () => {
      const time = new VirtualTime();
      const limit = { calls: 5, windowMs: 1_000 };
      const bucket = uniqueId('fxiaoke:/cgi/crm/v2/data/query');
      // Three "Lambda copies", each with its own client and limiter, 8 calls each.
      const limiters = Array.from(
        { length: 3 },
        () =>
          new DynamoRateLimiter({
            client: ctx.dynamo.newClient(),
            tableName: ctx.tables.coordination,
            limit,
            clock: time.clock,
            sleep: time.sleep,
            random: () => 0.5,
            maxWaitMs: 60_000,
          }),
      );
      const admitted: number[] = [];
      const startedAt = time.now;
      const tasks = limiters.flatMap((limiter) =>
        Array.from({ length: 8 }, () => async () => {
          await limiter.acquire(bucket);
          admitted.push(time.now);
        }),
      );

      await time.run(tasks);

      assert.equal(admitted.length, 24);
      assert.ok(
        maxInAnyWindow(admitted, limit.windowMs) <= limit.calls,
        `window max ${maxInAnyWindow(admitted, 1_000)}`,
      );
      assert.equal(admitted.filter((t) => t < startedAt + 100).length, 5, 'the first 5 pass at once');
      // 24 calls at 5/s need at least 4 further windows; the conservative slots may cost one more slot each.
      assert.ok(time.now - startedAt < 6_000, `all admitted by virtual t+${time.now - startedAt} ms`);
    });

    it('keeps a reserve of every window unused (stragglers and arrival skew)', async () => {
      const time = new VirtualTime();
      const limit = { calls: 10, windowMs: 1_000 };
      const limiter = new DynamoRateLimiter({
        client: ctx.dynamo.client,
        tableName: ctx.tables.coordination,
        limit,
        reserve: (l) => Math.ceil(l.calls * 0.2),
        clock: time.clock,
        sleep: time.sleep,
        random: () => 0.5,
        maxWaitMs: 60_000,
      });
      const bucket = uniqueId('fxiaoke:/cgi/crm/v2/data/query');
      const admitted: number[] = [];
      const startedAt = time.now;

      await time.run(
        Array.from({ length: 16 }, () => async () => {
          await limiter.acquire(bucket);
          admitted.push(time.now);
        }),
      );

      assert.equal(admitted.length, 16);
      assert.equal(admitted.filter((t) => t < startedAt + 100).length, 8, 'the first 8 of 10 pass at once');
      assert.ok(
        maxInAnyWindow(admitted, limit.windowMs) <= 8,
        `window max ${maxInAnyWindow(admitted, 1_000)}`,
      );
    });

    it('says when a call would be admitted, without spending one (whenAvailable)', async () => {
      const time = new VirtualTime();
      const limit = { calls: 3, windowMs: 1_000 };
      const limiter = new DynamoRateLimiter({
        client: ctx.dynamo.client,
        tableName: ctx.tables.coordination,
        limit,
        clock: time.clock,
        sleep: time.sleep,
        random: () => 0,
        maxWaitMs: 60_000,
      });
      const bucket = uniqueId('fxiaoke:/cgi/crm/v2/data/query');
      const startedAt = time.now;
      await time.run([() => limiter.whenAvailable(bucket)]);
      assert.equal(time.now, startedAt, 'room in the window: at once');
      await time.run([0, 1, 2].map(() => () => limiter.acquire(bucket)));
      const [availableAt] = await time.run([
        async () => {
          await limiter.whenAvailable(bucket);
          return time.now;
        },
      ]);
      assert.ok(
        (availableAt ?? 0) - startedAt >= 1_000,
        `the window is spent: waits for it (t+${(availableAt ?? 0) - startedAt} ms)`,
      );
      // Waiting spent nothing: three more calls fit the new window at once.
      const admittedFrom = time.now;
      await time.run([0, 1, 2].map(() => () => limiter.acquire(bucket)));
      assert.ok(time.now - admittedFrom < 200, `admitted at t+${time.now - admittedFrom} ms`);
    });

    it('keeps buckets independent', async () => {
      const time = new VirtualTime();
      const limiter = new DynamoRateLimiter({
        client: ctx.dynamo.client,
        tableName: ctx.tables.coordination,
        limit: (bucket) =>
          bucket.endsWith('/create') ? { calls: 1, windowMs: 1_000 } : { calls: 3, windowMs: 1_000 },
        clock: time.clock,
        sleep: time.sleep,
      });
      const prefix = uniqueId('fxiaoke');
      const admitted: Record<string, number[]> = { create: [], query: [] };
      const task = (name: 'create' | 'query') => async () => {
        await limiter.acquire(`${prefix}/${name}`);
        admitted[name]?.push(time.now);
      };
      const start = time.now;

      await time.run([task('create'), task('query'), task('query'), task('query'), task('create')]);

      assert.deepEqual(admitted.query, [start, start, start], 'query has its own budget of 3');
      assert.equal(admitted.create?.[0], start);
      assert.ok((admitted.create?.[1] ?? 0) >= start + 1_000, 'the second create waits for the window');
    });

    it('fails with RATE_LIMIT_WAIT_EXCEEDED and a retry hint when the wait would be too long', async () => {
      const time = new VirtualTime();
      const limiter = new DynamoRateLimiter({
        client: ctx.dynamo.client,
        tableName: ctx.tables.coordination,
        limit: { calls: 2, windowMs: 20_000 },
        maxWaitMs: 5_000,
        clock: time.clock,
        sleep: time.sleep,
      });
      const bucket = uniqueId('fxiaoke:/cgi/crm/v2/data/get');
      await limiter.acquire(bucket);
      await limiter.acquire(bucket);
      await assert.rejects(limiter.acquire(bucket), (error: unknown) => {
        assert.ok(error instanceof RateLimitWaitError);
        assert.equal(error.code, 'RATE_LIMIT_WAIT_EXCEEDED');
        assert.equal(error.kind, 'throttled');
        assert.ok((error.retryAfterMs ?? 0) > 5_000);
        return true;
      });
    });

    it('rejects an empty bucket and an invalid limit', async () => {
      const limiter = new DynamoRateLimiter({
        client: ctx.dynamo.client,
        tableName: ctx.tables.coordination,
        limit: { calls: 0, windowMs: 1_000 },
      });
      await assert.rejects(limiter.acquire(''), { code: 'STATE_BAD_BUCKET' });
      await assert.rejects(limiter.acquire('b'), { code: 'STATE_BAD_OPTION' });
    });
  });
}
