/**
 * `npm run bench` end to end on a tiny input (20 customers, 10 orders, 5 naive records, no emulated latency),
 * so the benchmark cannot rot: every record reaches the ERP, every figure is printed. Outcomes only — speed
 * is what the benchmark itself measures, never a test.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatReport, runBenchmark } from '../../../bench/run.ts';

describe('npm run bench', () => {
  it('runs the stack on a tiny burst and prints every figure', async () => {
    const progress: string[] = [];
    const report = await runBenchmark({
      customers: 20,
      orders: 10,
      warmUp: 3,
      naive: 5,
      latencyMs: 0,
      pushConcurrency: undefined,
      timeoutMs: 90_000,
      keepData: false,
      log: (line) => progress.push(line),
    });
    const [customers, orders] = report.phases;
    assert.equal(customers?.saved, 20, 'every customer reached the ERP');
    assert.equal(orders?.saved, 10, 'every order reached the ERP');
    assert.equal(report.naive.saved, 5);
    assert.deepEqual(
      report.warmUp.map((p) => [p.apiName, p.saved]),
      [
        ['AccountObj', 3],
        ['SalesOrderObj', 3],
      ],
      'the warm-up synced its records first',
    );
    assert.equal(report.stackExitCode, 0, 'the stack stopped cleanly');
    for (const phase of report.phases) {
      assert.ok(Number.isFinite(phase.eventsPerSecond));
      assert.ok(Number.isFinite(phase.latencyMs.p99));
      assert.ok(Number.isFinite(phase.ackMs.p99));
    }
    const text = formatReport(report);
    for (const figure of [
      'events/s end to end',
      'push → ERP saved p50 / p95 / p99',
      'webhook ack p50 / p99',
      'K3 logins per 1 000 records',
      'K3Cloud calls per record',
      'Fxiaoke calls per record',
      'peak RSS',
      'ours ÷ naive',
      'warm-up on the cold stack',
    ]) {
      assert.ok(text.includes(figure), `the report prints "${figure}"`);
    }
    assert.ok(progress.some((line) => line.includes('ready in')));
  });
});
