/**
 * The queue side every flow shares (`lib/sync/batch.ts`), with the real runtime and state tables and a flow
 * of the test's own: FIFO order inside a batch, malformed messages, and the sync log of each attempt.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { SQSEvent, SQSRecord } from 'aws-lambda';
import { z } from 'zod';
import { SyncError } from '../../../lib/errors.ts';
import { processQueueBatch, type RecordReport } from '../../../lib/sync/batch.ts';
import { SyncStack } from './harness.ts';

const bodySchema = z.object({ record: z.string(), fail: z.boolean() });

function record(id: string, group: string, body: unknown, receiveCount = 1): SQSRecord {
  return {
    messageId: id,
    receiptHandle: `handle-${id}`,
    body: JSON.stringify(body),
    attributes: {
      ApproximateReceiveCount: String(receiveCount),
      SentTimestamp: '1',
      SenderId: 'test',
      ApproximateFirstReceiveTimestamp: '1',
      MessageGroupId: group,
    },
    messageAttributes: {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:test.fifo',
    awsRegion: 'us-east-1',
  };
}

describe('processQueueBatch (shared by every queue flow)', () => {
  let stack: SyncStack;
  before(async () => {
    stack = await SyncStack.start();
  });
  after(async () => {
    await stack?.close();
  });

  /** A flow that processes each message on its own and fails those that say so. */
  const flow = async (
    records: { sqsMessageId: string; body: z.output<typeof bodySchema> }[],
  ): Promise<RecordReport[]> =>
    records.map((r) => ({
      sqsMessageIds: [r.sqsMessageId],
      result: {
        flow: 'test-flow',
        source: { system: 'crm', type: 'AccountObj', id: r.body.record },
        outcome: r.body.fail ? 'failed' : 'succeeded',
        ...(r.body.fail
          ? {
              error: new SyncError('K3 busy', { kind: 'transient', fault: 'theirs', code: 'TEST_TRANSIENT' }),
            }
          : {}),
        correlationId: r.sqsMessageId,
      },
    }));

  it('a failed message holds back the later messages of its group in the batch, not other groups', async () => {
    const event: SQSEvent = {
      Records: [
        record('m1', 'AccountObj:a', { record: 'a', fail: true }),
        record('m2', 'AccountObj:b', { record: 'b', fail: false }),
        record('m3', 'AccountObj:a', { record: 'a', fail: false }),
        record('m4', 'AccountObj:b', { record: 'b', fail: false }),
      ],
    };
    const runtime = await stack.runtime();
    const response = await processQueueBatch(event, runtime, {
      queue: 'accountToCustomer',
      flow: 'test-flow',
      schema: bodySchema,
      process: flow,
    });
    assert.deepEqual(
      response.batchItemFailures.map((f) => f.itemIdentifier),
      ['m1', 'm3'],
      'm3 is kept for order although its own processing succeeded',
    );
  });

  it('sends a message that is not one of ours towards the DLQ and still processes the others', async () => {
    const event: SQSEvent = {
      Records: [record('x1', 'g1', 'not our shape'), record('x2', 'g2', { record: 'c', fail: false })],
    };
    const runtime = await stack.runtime();
    const response = await processQueueBatch(event, runtime, {
      queue: 'accountToCustomer',
      flow: 'test-flow',
      schema: bodySchema,
      process: flow,
    });
    assert.deepEqual(
      response.batchItemFailures.map((f) => f.itemIdentifier),
      ['x1'],
    );
    assert.ok(stack.logEvents('sync.message.malformed').some((line) => line.sqsMessageId === 'x1'));
    const [entry] = await stack.syncLog('crm', 'AccountObj', 'c');
    assert.equal(entry?.outcome, 'succeeded');
  });

  it('a flow that throws fails the whole batch for a retry; nothing is lost', async () => {
    const event: SQSEvent = {
      Records: [
        record('y1', 'g1', { record: 'd', fail: false }),
        record('y2', 'g2', { record: 'e', fail: false }),
      ],
    };
    const runtime = await stack.runtime();
    const response = await processQueueBatch(event, runtime, {
      queue: 'accountToCustomer',
      flow: 'test-flow',
      schema: bodySchema,
      process: async () => {
        throw new Error('DynamoDB unreachable');
      },
    });
    assert.deepEqual(
      response.batchItemFailures.map((f) => f.itemIdentifier),
      ['y1', 'y2'],
    );
  });
});
