import assert from 'node:assert/strict';
import { after, beforeEach, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ManualClock } from '../../../infra/local/runtime/clock.ts';
import { createInvoker, type FunctionInvoker } from '../../../infra/local/runtime/lambda/invoker.ts';
import type { SqsTrigger } from '../../../infra/local/runtime/serverless/stack-definition.ts';
import { DEFAULT_QUEUE_SETTINGS, QueueEngine } from '../../../infra/local/runtime/sqs/queue-engine.ts';
import {
  type BatchReport,
  failedItems,
  SqsEventSource,
  toLambdaRecord,
} from '../../../infra/local/runtime/sqs-event-source.ts';

const workerModule = fileURLToPath(
  new URL('../../fixtures/local-runtime/handlers/worker.ts', import.meta.url),
);
const QUEUE = 'work.fifo';
const DLQ = 'work-dlq.fifo';

function trigger(overrides: Partial<SqsTrigger> = {}): SqsTrigger {
  return {
    queueName: QUEUE,
    queueArn: `arn:aws:sqs:us-east-1:000000000000:${QUEUE}`,
    batchSize: 10,
    maximumBatchingWindowSec: 0,
    reportBatchItemFailures: true,
    maximumConcurrency: undefined,
    enabled: true,
    ...overrides,
  };
}

/** Collects batch reports and lets a test wait for the n-th one. */
class Reports {
  readonly all: BatchReport[] = [];
  #waiters: { n: number; resolve: () => void }[] = [];

  add = (report: BatchReport): void => {
    this.all.push(report);
    this.#waiters = this.#waiters.filter((w) => {
      if (this.all.length >= w.n) w.resolve();
      return this.all.length < w.n;
    });
  };

  until(n: number): Promise<BatchReport[]> {
    if (this.all.length >= n) return Promise.resolve(this.all);
    return new Promise((resolve) => this.#waiters.push({ n, resolve: () => resolve(this.all) }));
  }
}

describe('SQS event source (Lambda semantics)', () => {
  let clock: ManualClock;
  let engine: QueueEngine;
  let reports: Reports;
  const invokers: FunctionInvoker[] = [];
  const sources: SqsEventSource[] = [];

  function start(overrides: Partial<SqsTrigger> = {}, defaultConcurrency = 1): SqsEventSource {
    const invoker = createInvoker({
      fn: {
        name: 'fixture-worker',
        modulePath: workerModule,
        exportName: 'handler',
        memoryMb: 256,
        timeoutSec: 30,
      },
      env: {},
      region: 'us-east-1',
      accountId: '000000000000',
      isolation: 'inline',
    });
    invokers.push(invoker);
    const source = new SqsEventSource({
      engine,
      invoker,
      trigger: trigger(overrides),
      region: 'us-east-1',
      defaultConcurrency,
      onBatch: reports.add,
    });
    sources.push(source);
    source.start();
    return source;
  }

  const send = (body: object, group = 'g') =>
    engine.send(QUEUE, { body: JSON.stringify(body), groupId: group }).messageId;

  beforeEach(async () => {
    await Promise.all(sources.splice(0).map((s) => s.stop(0)));
    clock = new ManualClock();
    engine = new QueueEngine({ clock });
    engine.createQueue(DLQ, { ...DEFAULT_QUEUE_SETTINGS, fifo: true });
    engine.createQueue(QUEUE, {
      ...DEFAULT_QUEUE_SETTINGS,
      fifo: true,
      contentBasedDeduplication: true,
      visibilityTimeoutSec: 30,
      redrivePolicy: { deadLetterTargetArn: `arn:aws:sqs:us-east-1:000000000000:${DLQ}`, maxReceiveCount: 2 },
    });
    reports = new Reports();
  });

  after(async () => {
    await Promise.all(sources.map((s) => s.stop(0)));
    await Promise.all(invokers.map((i) => i.close()));
    engine.close();
  });

  it('deletes the successes of a partial batch and redelivers the reported failure after the visibility timeout', async () => {
    const ok1 = send({ id: 1 }, 'a');
    const bad = send({ id: 2, fail: 'item' }, 'b');
    const ok2 = send({ id: 3 }, 'c');
    start();
    const [first] = await reports.until(1);
    assert.equal(first?.outcome, 'partial');
    assert.deepEqual(first?.messageIds, [ok1, bad, ok2]);
    assert.deepEqual(first?.failedMessageIds, [bad]);
    assert.deepEqual(engine.counts(QUEUE), { visible: 0, inFlight: 1, delayed: 0 });

    clock.advance(30_000);
    const second = (await reports.until(2))[1];
    assert.deepEqual(second?.messageIds, [bad], 'only the failed message comes back');
    // Received twice = maxReceiveCount: the next receive moves it to the dead-letter queue.
    clock.advance(30_000);
    // The poller wakes on the expired visibility timeout and, receiving again, dead-letters the message.
    for (let spins = 0; spins < 100 && engine.counts(DLQ).visible === 0; spins++) {
      await new Promise((resolve) => setImmediate(resolve));
    }
    assert.deepEqual(engine.counts(QUEUE), { visible: 0, inFlight: 0, delayed: 0 });
    assert.equal(engine.counts(DLQ).visible, 1);
  });

  it('treats a thrown error as a whole-batch failure: nothing is deleted', async () => {
    send({ id: 1 }, 'a');
    send({ id: 2, fail: 'throw' }, 'b');
    start();
    const [report] = await reports.until(1);
    assert.equal(report?.outcome, 'failed');
    assert.match(report?.reason ?? '', /^Error: fixture worker failure/);
    assert.deepEqual(engine.counts(QUEUE), { visible: 0, inFlight: 2, delayed: 0 });
  });

  it('treats an itemIdentifier that is not in the batch as a whole-batch failure', async () => {
    send({ id: 1, fail: 'bad-report' }, 'a');
    send({ id: 2 }, 'b');
    start();
    const [report] = await reports.until(1);
    assert.equal(report?.outcome, 'failed');
    assert.match(report?.reason ?? '', /invalid itemIdentifier "not-in-this-batch"/);
  });

  it('ignores the response without ReportBatchItemFailures (success deletes everything)', async () => {
    send({ id: 1, fail: 'item' }, 'a');
    start({ reportBatchItemFailures: false });
    const [report] = await reports.until(1);
    assert.equal(report?.outcome, 'succeeded');
    assert.deepEqual(engine.counts(QUEUE), { visible: 0, inFlight: 0, delayed: 0 });
  });

  it('keeps each message group in order with several concurrent pollers and respects the batch size', async () => {
    const sent: Record<string, string[]> = { a: [], b: [], c: [] };
    for (let i = 0; i < 12; i++) {
      for (const group of ['a', 'b', 'c']) sent[group]?.push(send({ id: `${group}${i}` }, group));
    }
    start({ batchSize: 4, maximumConcurrency: 3 });
    const all = await reports.until(9);
    assert.ok(all.every((r) => r.messageIds.length <= 4));
    const seen: Record<string, string[]> = { a: [], b: [], c: [] };
    const groupOf = new Map(Object.entries(sent).flatMap(([g, ids]) => ids.map((id) => [id, g] as const)));
    for (const report of all) for (const id of report.messageIds) seen[groupOf.get(id) ?? '']?.push(id);
    assert.deepEqual(seen, sent);
    assert.equal(engine.counts(QUEUE).visible + engine.counts(QUEUE).inFlight, 0);
  });

  it('on stop, returns the messages of a batch still running after the grace period', async () => {
    send({ id: 'slow', sleepMs: 300 }, 'a');
    const source = start();
    while (source.inFlight === 0) await new Promise((resolve) => setImmediate(resolve));
    const stopped = await source.stop(20);
    assert.deepEqual(stopped, { finished: 0, returned: 1 });
    assert.deepEqual(engine.counts(QUEUE), { visible: 1, inFlight: 0, delayed: 0 });
  });
});

describe('Lambda SQS record shape and batch-response rules', () => {
  it('builds the record Lambda delivers', () => {
    const engine = new QueueEngine({ clock: new ManualClock() });
    engine.createQueue('q.fifo', { ...DEFAULT_QUEUE_SETTINGS, fifo: true });
    engine.send('q.fifo', {
      body: '{"x":1}',
      groupId: 'AccountObj:1',
      dedupId: 'msg-1',
      messageAttributes: { correlationId: { DataType: 'String', StringValue: 'c-1' } },
    });
    const [received] = engine.receiveNow('q.fifo', { maxMessages: 1 });
    assert.ok(received);
    const record = toLambdaRecord(received, 'arn:aws:sqs:us-east-1:000000000000:q.fifo', 'us-east-1');
    assert.equal(record.body, '{"x":1}');
    assert.equal(record.eventSource, 'aws:sqs');
    assert.equal(record.eventSourceARN, 'arn:aws:sqs:us-east-1:000000000000:q.fifo');
    assert.equal(record.awsRegion, 'us-east-1');
    assert.equal(record.receiptHandle, received.receiptHandle);
    assert.equal(record.attributes.ApproximateReceiveCount, '1');
    assert.equal(record.attributes.MessageGroupId, 'AccountObj:1');
    assert.equal(record.attributes.MessageDeduplicationId, 'msg-1');
    assert.match(record.attributes.SequenceNumber ?? '', /^\d{20,}$/);
    assert.match(record.attributes.SentTimestamp ?? '', /^\d+$/);
    assert.deepEqual(record.messageAttributes, {
      correlationId: { stringValue: 'c-1', stringListValues: [], binaryListValues: [], dataType: 'String' },
    });
    assert.match(record.md5OfBody, /^[0-9a-f]{32}$/);
    engine.close();
  });

  it('applies the batchItemFailures rules', () => {
    const ok = (value: unknown) => ({ ok: true as const, requestId: 'r', durationMs: 1, value });
    const ids = ['m1', 'm2'];
    assert.deepEqual(failedItems(ok(null), ids, true), { failed: [] });
    assert.deepEqual(failedItems(ok({}), ids, true), { failed: [] });
    assert.deepEqual(failedItems(ok({ batchItemFailures: [] }), ids, true), { failed: [] });
    assert.deepEqual(failedItems(ok({ batchItemFailures: [{ itemIdentifier: 'm2' }] }), ids, true), {
      failed: ['m2'],
    });
    assert.equal(failedItems(ok({ batchItemFailures: [{ itemIdentifier: '' }] }), ids, true).failed, 'all');
    assert.equal(failedItems(ok({ batchItemFailures: [{ id: 'm1' }] }), ids, true).failed, 'all');
    assert.equal(failedItems(ok('nonsense'), ids, true).failed, 'all');
    assert.deepEqual(failedItems(ok('nonsense'), ids, false), { failed: [] });
    const thrown = {
      ok: false as const,
      requestId: 'r',
      durationMs: 1,
      kind: 'handler' as const,
      error: { errorType: 'Error', errorMessage: 'x', trace: [] },
    };
    assert.equal(failedItems(thrown, ids, true).failed, 'all');
  });
});
