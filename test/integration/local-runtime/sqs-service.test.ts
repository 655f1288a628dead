import assert from 'node:assert/strict';
import { appendFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  ChangeMessageVisibilityBatchCommand,
  ChangeMessageVisibilityCommand,
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  ListQueuesCommand,
  type Message,
  PurgeQueueCommand,
  PurgeQueueInProgress,
  QueueDoesNotExist,
  QueueNameExists,
  ReceiptHandleIsInvalid,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  type SQSClient,
  SQSServiceException,
} from '@aws-sdk/client-sqs';
import { ManualClock } from '../../../infra/local/runtime/clock.ts';
import { LocalRuntimeError } from '../../../infra/local/runtime/errors.ts';
import { QueueEngine } from '../../../infra/local/runtime/sqs/queue-engine.ts';
import { type LocalSqs, startLocalSqs, tempDir } from './sqs-harness.ts';

async function createFifoWithDlq(client: SQSClient, base: string, maxReceiveCount = 3) {
  const dlq = await client.send(
    new CreateQueueCommand({ QueueName: `${base}-dlq.fifo`, Attributes: { FifoQueue: 'true' } }),
  );
  const dlqArn = (
    await client.send(new GetQueueAttributesCommand({ QueueUrl: dlq.QueueUrl, AttributeNames: ['QueueArn'] }))
  ).Attributes?.QueueArn;
  const queue = await client.send(
    new CreateQueueCommand({
      QueueName: `${base}.fifo`,
      Attributes: {
        FifoQueue: 'true',
        ContentBasedDeduplication: 'true',
        VisibilityTimeout: '30',
        RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount }),
      },
    }),
  );
  assert.ok(queue.QueueUrl && dlq.QueueUrl);
  return { url: queue.QueueUrl, dlqUrl: dlq.QueueUrl };
}

async function receive(client: SQSClient, url: string, max = 10): Promise<Message[]> {
  const out = await client.send(
    new ReceiveMessageCommand({
      QueueUrl: url,
      MaxNumberOfMessages: max,
      MessageSystemAttributeNames: ['All'],
      MessageAttributeNames: ['All'],
    }),
  );
  return out.Messages ?? [];
}

const send = (client: SQSClient, url: string, body: string, group: string, dedup?: string) =>
  client.send(
    new SendMessageCommand({
      QueueUrl: url,
      MessageBody: body,
      MessageGroupId: group,
      ...(dedup ? { MessageDeduplicationId: dedup } : {}),
    }),
  );

describe('local SQS service through @aws-sdk/client-sqs', () => {
  let clock: ManualClock;
  let sqs: LocalSqs;

  before(async () => {
    clock = new ManualClock();
    sqs = await startLocalSqs({ clock });
  });
  after(() => sqs.close());

  describe('queues', () => {
    it('CreateQueue is idempotent for equal attributes, refuses different ones, and GetQueueUrl finds it', async () => {
      const first = await sqs.client.send(
        new CreateQueueCommand({ QueueName: 'plain', Attributes: { VisibilityTimeout: '12' } }),
      );
      const again = await sqs.client.send(
        new CreateQueueCommand({ QueueName: 'plain', Attributes: { VisibilityTimeout: '12' } }),
      );
      assert.equal(again.QueueUrl, first.QueueUrl);
      assert.equal(first.QueueUrl, `${sqs.server.url}/000000000000/plain`);
      await assert.rejects(
        sqs.client.send(
          new CreateQueueCommand({ QueueName: 'plain', Attributes: { VisibilityTimeout: '13' } }),
        ),
        QueueNameExists,
      );
      const found = await sqs.client.send(new GetQueueUrlCommand({ QueueName: 'plain' }));
      assert.equal(found.QueueUrl, first.QueueUrl);
      const listed = await sqs.client.send(new ListQueuesCommand({ QueueNamePrefix: 'pla' }));
      assert.deepEqual(listed.QueueUrls, [first.QueueUrl]);
    });

    it('answers QueueDoesNotExist with the SDK exception class', async () => {
      await assert.rejects(sqs.client.send(new GetQueueUrlCommand({ QueueName: 'nope' })), QueueDoesNotExist);
      await assert.rejects(
        sqs.client.send(
          new SendMessageCommand({ QueueUrl: `${sqs.server.url}/000000000000/nope`, MessageBody: 'x' }),
        ),
        (error: unknown) =>
          error instanceof QueueDoesNotExist && error.message === 'The specified queue does not exist.',
      );
    });

    it('reports attributes, including counts and the redrive policy', async () => {
      const { url } = await createFifoWithDlq(sqs.client, 'attrs', 4);
      await send(sqs.client, url, 'one', 'g');
      const attributes = (
        await sqs.client.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['All'] }))
      ).Attributes;
      assert.equal(attributes?.FifoQueue, 'true');
      assert.equal(attributes?.ContentBasedDeduplication, 'true');
      assert.equal(attributes?.VisibilityTimeout, '30');
      assert.equal(attributes?.ApproximateNumberOfMessages, '1');
      assert.equal(attributes?.QueueArn, 'arn:aws:sqs:us-east-1:000000000000:attrs.fifo');
      assert.deepEqual(JSON.parse(attributes?.RedrivePolicy ?? '{}'), {
        deadLetterTargetArn: 'arn:aws:sqs:us-east-1:000000000000:attrs-dlq.fifo',
        maxReceiveCount: 4,
      });
    });

    it('refuses a FIFO name without FifoQueue and unknown attributes', async () => {
      await assert.rejects(
        sqs.client.send(new CreateQueueCommand({ QueueName: 'bad.fifo' })),
        (error: unknown) => error instanceof SQSServiceException && error.name === 'InvalidParameterValue',
      );
      await assert.rejects(
        sqs.client.send(
          new CreateQueueCommand({ QueueName: 'bad2', Attributes: Object.fromEntries([['Colour', 'blue']]) }),
        ),
        (error: unknown) => error instanceof SQSServiceException && error.name === 'InvalidAttributeName',
      );
    });
  });

  describe('FIFO semantics', () => {
    it('delivers a group in order and holds the group while an earlier message is in flight', async () => {
      const { url } = await createFifoWithDlq(sqs.client, 'order');
      await send(sqs.client, url, 'A1', 'A');
      await send(sqs.client, url, 'B1', 'B');
      await send(sqs.client, url, 'A2', 'A');

      const first = await receive(sqs.client, url, 1);
      assert.deepEqual(
        first.map((m) => m.Body),
        ['A1'],
      );
      // A is blocked while A1 is in flight: only B1 can come.
      const second = await receive(sqs.client, url, 10);
      assert.deepEqual(
        second.map((m) => m.Body),
        ['B1'],
      );
      assert.deepEqual(await receive(sqs.client, url, 10), []);

      await sqs.client.send(
        new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: first[0]?.ReceiptHandle }),
      );
      const third = await receive(sqs.client, url, 10);
      assert.deepEqual(
        third.map((m) => m.Body),
        ['A2'],
      );
      assert.equal(third[0]?.Attributes?.MessageGroupId, 'A');
      assert.ok(
        BigInt(third[0]?.Attributes?.SequenceNumber ?? '0') >
          BigInt(first[0]?.Attributes?.SequenceNumber ?? '0'),
      );
    });

    it('returns as many messages of one group as possible in one receive, oldest group first', async () => {
      const { url } = await createFifoWithDlq(sqs.client, 'batching');
      for (const [body, group] of [
        ['X1', 'X'],
        ['Y1', 'Y'],
        ['X2', 'X'],
        ['X3', 'X'],
        ['Y2', 'Y'],
      ] as const) {
        await send(sqs.client, url, body, group);
      }
      const batch = await receive(sqs.client, url, 4);
      assert.deepEqual(
        batch.map((m) => m.Body),
        ['X1', 'X2', 'X3', 'Y1'],
      );
    });

    it('deduplicates explicit ids and content within 5 minutes, answering the first MessageId', async () => {
      const { url } = await createFifoWithDlq(sqs.client, 'dedupe');
      const a = await send(sqs.client, url, 'same body', 'g', 'id-1');
      const b = await send(sqs.client, url, 'other body', 'g', 'id-1');
      assert.equal(b.MessageId, a.MessageId);
      assert.equal(b.SequenceNumber, a.SequenceNumber);
      const c = await send(sqs.client, url, 'content based', 'g');
      const d = await send(sqs.client, url, 'content based', 'g');
      assert.equal(d.MessageId, c.MessageId);
      const all = await receive(sqs.client, url, 10);
      assert.deepEqual(
        all.map((m) => m.Body),
        ['same body', 'content based'],
      );
      for (const m of all)
        await sqs.client.send(new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: m.ReceiptHandle }));

      clock.advance(5 * 60_000);
      const e = await send(sqs.client, url, 'content based', 'g');
      assert.notEqual(e.MessageId, c.MessageId, 'after the window the same content is a new message');
      assert.deepEqual(
        (await receive(sqs.client, url)).map((m) => m.Body),
        ['content based'],
      );
    });

    it('requires a group id, and a dedupe id when content-based deduplication is off', async () => {
      const created = await sqs.client.send(
        new CreateQueueCommand({ QueueName: 'strict.fifo', Attributes: { FifoQueue: 'true' } }),
      );
      const url = created.QueueUrl ?? '';
      await assert.rejects(
        sqs.client.send(
          new SendMessageCommand({ QueueUrl: url, MessageBody: 'x', MessageDeduplicationId: 'd' }),
        ),
        (error: unknown) => error instanceof SQSServiceException && error.name === 'MissingParameter',
      );
      await assert.rejects(
        sqs.client.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'x', MessageGroupId: 'g' })),
        /ContentBasedDeduplication/,
      );
    });
  });

  describe('visibility timeout and redrive', () => {
    it('redelivers after the visibility timeout with a higher receive count; ChangeMessageVisibility(0) releases at once', async () => {
      const { url } = await createFifoWithDlq(sqs.client, 'visibility', 5);
      await send(sqs.client, url, 'v1', 'g');
      const [first] = await receive(sqs.client, url);
      assert.equal(first?.Attributes?.ApproximateReceiveCount, '1');
      clock.advance(29_999);
      assert.deepEqual(await receive(sqs.client, url), [], 'still in flight just before the timeout');
      clock.advance(1);
      const [second] = await receive(sqs.client, url);
      assert.equal(second?.Body, 'v1');
      assert.equal(second?.Attributes?.ApproximateReceiveCount, '2');
      assert.equal(
        second?.Attributes?.ApproximateFirstReceiveTimestamp,
        first?.Attributes?.ApproximateFirstReceiveTimestamp,
      );
      assert.notEqual(second?.ReceiptHandle, first?.ReceiptHandle);

      // The outdated handle deletes nothing (SQS: "the request succeeds, but the message will not be deleted").
      await sqs.client.send(new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: first?.ReceiptHandle }));
      await sqs.client.send(
        new ChangeMessageVisibilityCommand({
          QueueUrl: url,
          ReceiptHandle: second?.ReceiptHandle,
          VisibilityTimeout: 0,
        }),
      );
      const [third] = await receive(sqs.client, url);
      assert.equal(third?.Attributes?.ApproximateReceiveCount, '3');
    });

    it('moves a message to the DLQ once it was received maxReceiveCount times', async () => {
      const { url, dlqUrl } = await createFifoWithDlq(sqs.client, 'redrive', 2);
      await send(sqs.client, url, 'poison', 'g');
      await send(sqs.client, url, 'next', 'g');
      for (let attempt = 1; attempt <= 2; attempt++) {
        const [m] = await receive(sqs.client, url, 1);
        assert.equal(m?.Body, 'poison');
        clock.advance(30_000);
      }
      // Third receive: the poison message goes to the DLQ and the group moves on.
      const [after2] = await receive(sqs.client, url, 1);
      assert.equal(after2?.Body, 'next');
      const [dead] = await receive(sqs.client, dlqUrl);
      assert.equal(dead?.Body, 'poison');
      assert.equal(
        dead?.Attributes?.DeadLetterQueueSourceArn,
        'arn:aws:sqs:us-east-1:000000000000:redrive.fifo',
      );
      assert.equal(dead?.Attributes?.ApproximateReceiveCount, '1');
    });

    it('refuses visibility changes for messages not in flight and malformed handles', async () => {
      const { url } = await createFifoWithDlq(sqs.client, 'notinflight');
      await send(sqs.client, url, 'm', 'g');
      const [m] = await receive(sqs.client, url);
      clock.advance(30_000);
      await assert.rejects(
        sqs.client.send(
          new ChangeMessageVisibilityCommand({
            QueueUrl: url,
            ReceiptHandle: m?.ReceiptHandle,
            VisibilityTimeout: 10,
          }),
        ),
        (error: unknown) => error instanceof SQSServiceException && error.name === 'MessageNotInflight',
      );
      await assert.rejects(
        sqs.client.send(new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: 'not a handle!' })),
        ReceiptHandleIsInvalid,
      );
    });
  });

  describe('batches, attributes, purge, long polling', () => {
    it('SendMessageBatch reports per-entry failures; Delete/ChangeVisibility batches work per entry', async () => {
      const { url } = await createFifoWithDlq(sqs.client, 'batch');
      const sent = await sqs.client.send(
        new SendMessageBatchCommand({
          QueueUrl: url,
          Entries: [
            { Id: 'a', MessageBody: 'b1', MessageGroupId: 'g1' },
            { Id: 'b', MessageBody: 'b2' },
            { Id: 'c', MessageBody: 'b3', MessageGroupId: 'g2' },
          ],
        }),
      );
      assert.deepEqual(
        sent.Successful?.map((s) => s.Id),
        ['a', 'c'],
      );
      assert.equal(sent.Failed?.[0]?.Id, 'b');
      assert.equal(sent.Failed?.[0]?.Code, 'MissingParameter');
      assert.equal(sent.Failed?.[0]?.SenderFault, true);

      const messages = await receive(sqs.client, url);
      assert.equal(messages.length, 2);
      const visibility = await sqs.client.send(
        new ChangeMessageVisibilityBatchCommand({
          QueueUrl: url,
          Entries: [
            { Id: 'x', ReceiptHandle: messages[0]?.ReceiptHandle, VisibilityTimeout: 0 },
            { Id: 'y', ReceiptHandle: 'garbage!', VisibilityTimeout: 0 },
          ],
        }),
      );
      assert.deepEqual(
        visibility.Successful?.map((s) => s.Id),
        ['x'],
      );
      assert.equal(visibility.Failed?.[0]?.Code, 'ReceiptHandleIsInvalid');
      const deleted = await sqs.client.send(
        new DeleteMessageBatchCommand({
          QueueUrl: url,
          Entries: messages.map((m, i) => ({ Id: `d${i}`, ReceiptHandle: m.ReceiptHandle })),
        }),
      );
      assert.equal(deleted.Successful?.length, 2);
      await assert.rejects(
        sqs.client.send(
          new DeleteMessageBatchCommand({
            QueueUrl: url,
            Entries: [
              { Id: 'same', ReceiptHandle: 'x' },
              { Id: 'same', ReceiptHandle: 'y' },
            ],
          }),
        ),
        (error: unknown) => error instanceof SQSServiceException && error.name === 'BatchEntryIdsNotDistinct',
      );
    });

    it('round-trips message attributes with their MD5', async () => {
      const created = await sqs.client.send(new CreateQueueCommand({ QueueName: 'attributes' }));
      const url = created.QueueUrl ?? '';
      const sent = await sqs.client.send(
        new SendMessageCommand({
          QueueUrl: url,
          MessageBody: '{"hello":"世界"}',
          MessageAttributes: {
            correlationId: { DataType: 'String', StringValue: 'corr-1' },
            attempt: { DataType: 'Number', StringValue: '2' },
            blob: { DataType: 'Binary', BinaryValue: Uint8Array.from([1, 2, 3]) },
          },
        }),
      );
      // The byte layout itself is checked in test/unit/local-runtime/sqs-checksums.test.ts.
      assert.match(sent.MD5OfMessageAttributes ?? '', /^[0-9a-f]{32}$/);
      const [m] = await receive(sqs.client, url);
      assert.equal(m?.Body, '{"hello":"世界"}');
      assert.equal(m?.MD5OfMessageAttributes, sent.MD5OfMessageAttributes);
      assert.equal(m?.MessageAttributes?.correlationId?.StringValue, 'corr-1');
      assert.deepEqual([...(m?.MessageAttributes?.blob?.BinaryValue ?? [])], [1, 2, 3]);
    });

    it('PurgeQueue empties the queue and refuses a second purge within 60 s', async () => {
      const created = await sqs.client.send(new CreateQueueCommand({ QueueName: 'purge' }));
      const url = created.QueueUrl ?? '';
      await sqs.client.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'x' }));
      await sqs.client.send(new PurgeQueueCommand({ QueueUrl: url }));
      assert.deepEqual(await receive(sqs.client, url), []);
      await assert.rejects(sqs.client.send(new PurgeQueueCommand({ QueueUrl: url })), PurgeQueueInProgress);
      clock.advance(60_000);
      await sqs.client.send(new PurgeQueueCommand({ QueueUrl: url }));
    });

    it('a long poll returns as soon as a message arrives', async () => {
      const created = await sqs.client.send(new CreateQueueCommand({ QueueName: 'longpoll' }));
      const url = created.QueueUrl ?? '';
      const polling = sqs.client.send(new ReceiveMessageCommand({ QueueUrl: url, WaitTimeSeconds: 20 }));
      await new Promise((resolve) => setImmediate(resolve));
      await sqs.client.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'wake up' }));
      const out = await polling;
      assert.equal(out.Messages?.[0]?.Body, 'wake up');
    });

    it('answers a retried FIFO receive with the same ReceiveRequestAttemptId with the same messages', async () => {
      const { url } = await createFifoWithDlq(sqs.client, 'attempt');
      await send(sqs.client, url, 'once', 'g');
      const ask = () =>
        sqs.client.send(
          new ReceiveMessageCommand({
            QueueUrl: url,
            MaxNumberOfMessages: 10,
            ReceiveRequestAttemptId: 'try-1',
          }),
        );
      const first = await ask();
      const retry = await ask();
      assert.equal(first.Messages?.[0]?.Body, 'once');
      assert.equal(retry.Messages?.[0]?.ReceiptHandle, first.Messages?.[0]?.ReceiptHandle);
    });

    it('refuses malformed requests with protocol errors and keeps serving', async () => {
      const post = (target: string | undefined, body: string) =>
        fetch(sqs.server.url, {
          method: 'POST',
          headers: {
            'content-type': 'application/x-amz-json-1.0',
            ...(target ? { 'x-amz-target': target } : {}),
          },
          body,
        });
      const notJson = await post('AmazonSQS.SendMessage', '{not json');
      assert.equal(notJson.status, 400);
      assert.match(await notJson.text(), /"__type":"com\.amazonaws\.sqs#SerializationException"/);
      const unknown = await post('AmazonSQS.DeleteQueue', '{}');
      assert.match(await unknown.text(), /"__type":"com\.amazonaws\.sqs#UnsupportedOperation"/);
      const noTarget = await post(undefined, 'Action=ListQueues');
      assert.equal(noTarget.status, 400);
      const wrongType = await post(
        'AmazonSQS.ReceiveMessage',
        JSON.stringify({ QueueUrl: `${sqs.server.url}/000000000000/plain`, MaxNumberOfMessages: 'ten' }),
      );
      assert.equal(wrongType.status, 400);
      assert.equal(wrongType.headers.get('x-amzn-query-error'), 'InvalidParameterValue;Sender');
      const listed = await sqs.client.send(new ListQueuesCommand({}));
      assert.ok((listed.QueueUrls ?? []).length > 0, 'still serving');
    });

    it('drops messages past their retention period', async () => {
      const created = await sqs.client.send(
        new CreateQueueCommand({ QueueName: 'retention', Attributes: { MessageRetentionPeriod: '60' } }),
      );
      const url = created.QueueUrl ?? '';
      await sqs.client.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'old' }));
      clock.advance(60_000);
      assert.deepEqual(await receive(sqs.client, url), []);
    });
  });
});

describe('local SQS persistence', () => {
  it('keeps messages, in-flight state, receive counts and the dedupe window across a restart', async () => {
    const dir = tempDir('sqs-persist');
    const clock = new ManualClock();
    try {
      const first = await startLocalSqs({ clock, dataDir: dir.path });
      const { url } = await createFifoWithDlq(first.client, 'persist', 5);
      await send(first.client, url, 'in flight', 'g1');
      await send(first.client, url, 'waiting', 'g2');
      const [inFlight] = await receive(first.client, url, 1);
      assert.equal(inFlight?.Body, 'in flight');
      await first.close();

      const second = await startLocalSqs({ clock, dataDir: dir.path });
      try {
        const url2 =
          (await second.client.send(new GetQueueUrlCommand({ QueueName: 'persist.fifo' }))).QueueUrl ?? '';
        // Only g2 is available: g1's message is still in flight after the restart.
        assert.deepEqual(
          (await receive(second.client, url2)).map((m) => m.Body),
          ['waiting'],
        );
        clock.advance(30_000);
        const [redelivered] = await receive(second.client, url2);
        assert.equal(redelivered?.Body, 'in flight');
        assert.equal(redelivered?.MessageId, inFlight?.MessageId);
        assert.equal(redelivered?.Attributes?.ApproximateReceiveCount, '2');
        // The dedupe window survived too.
        const again = await send(second.client, url2, 'in flight', 'g1');
        assert.equal(again.MessageId, inFlight?.MessageId);
      } finally {
        await second.close();
      }
    } finally {
      dir.remove();
    }
  });

  it('replays the journal after a crash (no clean close), skipping a torn last line', async () => {
    const dir = tempDir('sqs-crash');
    try {
      const crashed = new QueueEngine({ dataDir: dir.path });
      crashed.createQueue('crash', { ...defaultsFor(false) });
      crashed.send('crash', { body: 'kept' });
      // No close(): the journal holds the queue and the message. Simulate a torn write after it.
      const journal = readdirSync(dir.path).find((f) => f.startsWith('queues.journal.'));
      assert.ok(journal);
      appendFileSync(join(dir.path, journal), '{"op":"send","q":"crash","m":{"mess');
      const restarted = new QueueEngine({ dataDir: dir.path });
      assert.deepEqual(
        restarted.receiveNow('crash', { maxMessages: 10 }).map((r) => r.message.body),
        ['kept'],
      );
      restarted.close();
    } finally {
      dir.remove();
    }
  });

  it('refuses to start on a damaged journal line that is not the last', async () => {
    const dir = tempDir('sqs-corrupt');
    try {
      writeFileSync(join(dir.path, 'queues.journal.0.jsonl'), 'not json\n{"op":"purge","q":"x","atMs":1}\n');
      assert.throws(
        () => new QueueEngine({ dataDir: dir.path }),
        (error: unknown) => error instanceof LocalRuntimeError && error.code === 'LOCAL_QUEUE_STORE_CORRUPT',
      );
    } finally {
      dir.remove();
    }
  });
});

function defaultsFor(fifo: boolean) {
  return {
    fifo,
    contentBasedDeduplication: false,
    deduplicationScope: 'queue' as const,
    fifoThroughputLimit: 'perQueue' as const,
    visibilityTimeoutSec: 30,
    messageRetentionSec: 345_600,
    delaySec: 0,
    receiveMessageWaitTimeSec: 0,
    maximumMessageSize: 262_144,
  };
}
