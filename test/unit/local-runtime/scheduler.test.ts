import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ManualClock } from '../../../infra/local/runtime/clock.ts';
import { createInvoker, type FunctionInvoker } from '../../../infra/local/runtime/lambda/invoker.ts';
import { parseScheduleExpression } from '../../../infra/local/runtime/schedule-expression.ts';
import { type ScheduleRunReport, Scheduler } from '../../../infra/local/runtime/scheduler.ts';
import type { ScheduleTrigger } from '../../../infra/local/runtime/serverless/stack-definition.ts';

const handlers = (name: string) =>
  fileURLToPath(new URL(`../../fixtures/local-runtime/handlers/${name}.ts`, import.meta.url));

function schedule(expression: string, input?: unknown): ScheduleTrigger {
  return {
    id: `schedule ${expression}`,
    expression: parseScheduleExpression(expression, 'test'),
    enabled: true,
    input,
  };
}

/** Let pending invocations (real promises) settle. */
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
}

describe('Scheduler (injected clock)', () => {
  const invokers: FunctionInvoker[] = [];
  const invoker = (name: string, module: string, exportName = 'handler') => {
    const created = createInvoker({
      fn: { name, modulePath: handlers(module), exportName, memoryMb: 256, timeoutSec: 10 },
      env: {},
      region: 'ap-east-1',
      accountId: '000000000000',
      isolation: 'inline',
    });
    invokers.push(created);
    return created;
  };
  after(() => Promise.all(invokers.map((i) => i.close())));

  function start(fn: FunctionInvoker, schedules: ScheduleTrigger[], clock: ManualClock, retries = 2) {
    const runs: ScheduleRunReport[] = [];
    const scheduler = new Scheduler({
      functions: [{ invoker: fn, schedules, maximumRetryAttempts: retries }],
      clock,
      region: 'ap-east-1',
      accountId: '000000000000',
      onRun: (report) => runs.push(report),
    });
    scheduler.start();
    return { scheduler, runs };
  }

  it('fires a rate schedule with the EventBridge scheduled-event shape', async () => {
    const clock = new ManualClock(Date.parse('2026-01-05T09:00:00Z'));
    const { scheduler, runs } = start(invoker('poller-a', 'poller'), [schedule('rate(5 minutes)')], clock);
    clock.advance(4 * 60_000 + 59_999);
    await settle();
    assert.equal(runs.length, 0);
    clock.advance(1);
    await settle();
    assert.equal(runs.length, 1);
    const result = runs[0]?.result;
    assert.ok(result?.ok);
    const received = Reflect.get(Object(result.value), 'received');
    assert.deepEqual(
      { ...received, id: 'x' },
      {
        version: '0',
        id: 'x',
        'detail-type': 'Scheduled Event',
        source: 'aws.events',
        account: '000000000000',
        time: '2026-01-05T09:05:00Z',
        region: 'ap-east-1',
        resources: ['arn:aws:events:ap-east-1:000000000000:rule/poller-a-schedule-1'],
        detail: {},
      },
    );
    clock.advance(5 * 60_000);
    await settle();
    assert.equal(runs.length, 2);
    assert.equal(runs[1]?.scheduledAtMs, Date.parse('2026-01-05T09:10:00Z'));
    await scheduler.stop(0);
  });

  it('sends the constant input of a cron schedule', async () => {
    const clock = new ManualClock(Date.parse('2026-01-05T09:00:00Z'));
    const { scheduler, runs } = start(
      invoker('poller-b', 'poller'),
      [schedule('cron(0 2 * * ? *)', { mode: 'nightly' })],
      clock,
    );
    clock.advanceTo(Date.parse('2026-01-06T02:00:00Z'));
    await settle();
    assert.equal(runs.length, 1);
    const result = runs[0]?.result;
    assert.ok(result?.ok);
    const received: unknown = Reflect.get(Object(result.value), 'received');
    assert.deepEqual(received, { mode: 'nightly' });
    await scheduler.stop(0);
  });

  it('never overlaps a function with itself: a tick during a run is skipped', async () => {
    const clock = new ManualClock(Date.parse('2026-01-05T09:00:00Z'));
    const { scheduler, runs } = start(
      invoker('slow', 'misc'),
      [schedule('rate(1 minute)', { mode: 'sleep', sleepMs: 200 })],
      clock,
    );
    clock.advance(60_000); // first run starts and is still sleeping…
    clock.advance(60_000); // …so this tick is skipped
    assert.deepEqual(
      runs.map((r) => r.outcome),
      ['skipped'],
    );
    while (runs.length < 2) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.deepEqual(
      runs.map((r) => r.outcome),
      ['skipped', 'succeeded'],
    );
    clock.advance(60_000);
    await settle();
    await scheduler.stop(1_000);
    assert.equal(runs[2]?.outcome, 'succeeded', 'the next tick runs once the previous run ended');
  });

  it('retries a failed run after 1 and 2 minutes, like an asynchronous invocation', async () => {
    const clock = new ManualClock(Date.parse('2026-01-05T09:00:00Z'));
    const { scheduler, runs } = start(
      invoker('failing', 'poller'),
      [schedule('rate(1 hour)', { fail: true })],
      clock,
    );
    clock.advance(3_600_000);
    await settle();
    assert.deepEqual(
      runs.map((r) => [r.attempt, r.outcome]),
      [[1, 'failed']],
    );
    clock.advance(59_999);
    await settle();
    assert.equal(runs.length, 1);
    clock.advance(1);
    await settle();
    clock.advance(120_000);
    await settle();
    assert.deepEqual(
      runs.map((r) => [r.attempt, r.outcome]),
      [
        [1, 'failed'],
        [2, 'failed'],
        [3, 'failed'],
      ],
    );
    const last = runs[2]?.result;
    assert.ok(last && !last.ok);
    assert.equal(last.error.errorMessage, 'fixture poller failure');
    clock.advance(600_000);
    await settle();
    assert.equal(runs.length, 3, 'no fourth attempt');
    await scheduler.stop(0);
  });

  it('runNow invokes a scheduled function on demand', async () => {
    const clock = new ManualClock();
    const { scheduler } = start(invoker('manual', 'poller'), [schedule('rate(1 day)')], clock);
    const report = await scheduler.runNow('manual');
    assert.equal(report?.outcome, 'succeeded');
    assert.equal(scheduler.runNow('unknown'), undefined);
    assert.equal(scheduler.nextRuns()[0]?.expression, 'rate(1 day)');
    await scheduler.stop(0);
  });
});
