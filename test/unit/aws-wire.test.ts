/**
 * The DynamoDB wire (lib/aws-wire.ts) against a loopback server that answers as DynamoDB would: SigV4
 * exactly as AWS's own signer computes it, the protocol headers, errors by `__type`, retries of throttling,
 * 5xx and lost responses, and conditional failures that are never retried.
 */
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { SignatureV4 } from '@smithy/signature-v4';
import { StateError } from '../../lib/state/errors.ts';
import { StateTable } from '../../lib/state/table.ts';
import { changeMessage } from '../../lib/sync/messages.ts';
import { QueueClient, QueueError } from '../../lib/sync/queues.ts';

const FAKE = {
  accessKeyId: 'AKIDFAKEFORTESTS',
  secretAccessKey: 'fake-secret-key-for-tests-only',
  sessionToken: 'fake-session-token',
};

interface Seen {
  headers: IncomingMessage['headers'];
  body: string;
}

type Answer = (seen: Seen, res: ServerResponse, req: IncomingMessage) => void;

const json = (res: ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { 'content-type': 'application/x-amz-json-1.0' });
  res.end(JSON.stringify(body));
};
const fault = (type: string, message: string) => ({
  __type: `com.amazonaws.dynamodb.v20120810#${type}`,
  message,
});

/** SHA-256 for the SDK's signer, from node:crypto. */
class NodeSha256 {
  readonly #secret: string | undefined;
  #chunks: Buffer[] = [];
  constructor(secret?: unknown) {
    this.#secret = secret === undefined ? undefined : (secret as string);
  }
  update(data: string | Uint8Array): void {
    this.#chunks.push(typeof data === 'string' ? Buffer.from(data) : Buffer.from(data));
  }
  async digest(): Promise<Uint8Array> {
    const data = Buffer.concat(this.#chunks);
    return this.#secret === undefined
      ? createHash('sha256').update(data).digest()
      : createHmac('sha256', this.#secret).update(data).digest();
  }
}

describe('DynamoDB wire', () => {
  let server: Server;
  let endpoint: string;
  let answers: Answer[] = [];
  let seen: Seen[] = [];
  let client: DynamoDBClient;
  let table: StateTable;

  before(async () => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const entry = { headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
        seen.push(entry);
        const answer = answers.shift() ?? ((_s, r) => json(r, 200, {}));
        answer(entry, res, req);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    client = new DynamoDBClient({
      endpoint,
      region: 'cn-north-1',
      credentials: FAKE,
      userAgentAppId: 'fxiaokeWebhook',
    });
    table = new StateTable(client, 'fxk3-test-inbox');
  });
  beforeEach(() => {
    answers = [];
    seen = [];
  });
  after(async () => {
    client.destroy();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('signs each request exactly as AWS’s SigV4 signer does, with the protocol headers and the app id', async () => {
    answers.push((_s, res) => json(res, 200, { Item: { messageId: { S: 'M1' }, n: { N: '3' } } }));
    assert.deepEqual(await table.get({ messageId: 'M1' }), { messageId: 'M1', n: 3 });

    const [request] = seen;
    assert.ok(request);
    assert.equal(request.headers['x-amz-target'], 'DynamoDB_20120810.GetItem');
    assert.equal(request.headers['content-type'], 'application/x-amz-json-1.0');
    assert.equal(request.headers['x-amz-security-token'], FAKE.sessionToken);
    assert.match(String(request.headers['user-agent']), /(^| )app\/fxiaokeWebhook( |$)/);
    assert.deepEqual(JSON.parse(request.body), {
      TableName: 'fxk3-test-inbox',
      Key: { messageId: { S: 'M1' } },
      ConsistentRead: true,
    });

    const amzDate = String(request.headers['x-amz-date']);
    const signingDate = new Date(
      `${amzDate.slice(0, 4)}-${amzDate.slice(4, 6)}-${amzDate.slice(6, 8)}T${amzDate.slice(9, 11)}:${amzDate.slice(11, 13)}:${amzDate.slice(13, 15)}Z`,
    );
    const url = new URL(endpoint);
    const signer = new SignatureV4({
      credentials: FAKE,
      region: 'cn-north-1',
      service: 'dynamodb',
      sha256: NodeSha256,
      // DynamoDB does not ask for x-amz-content-sha256 (S3 does); the wire does not send it.
      applyChecksum: false,
    });
    const signed = await signer.sign(
      {
        method: 'POST',
        protocol: 'http:',
        hostname: url.hostname,
        port: Number(url.port),
        path: '/',
        query: {},
        headers: {
          'content-type': String(request.headers['content-type']),
          host: url.host,
          'x-amz-date': amzDate,
          'x-amz-target': String(request.headers['x-amz-target']),
          'x-amz-security-token': FAKE.sessionToken,
        },
        body: request.body,
      },
      { signingDate },
    );
    assert.equal(request.headers.authorization, signed.headers.authorization);
    assert.ok(!JSON.stringify(request.headers).includes(FAKE.secretAccessKey), 'the secret never travels');
  });

  it('reports a refused condition as false, once, without retrying it', async () => {
    answers.push((_s, res) =>
      json(res, 400, fault('ConditionalCheckFailedException', 'The conditional request failed')),
    );
    assert.equal(
      await table.put({ messageId: 'M2' }, { condition: 'attribute_not_exists(messageId)' }),
      false,
    );
    assert.equal(seen.length, 1);
    assert.deepEqual(JSON.parse(seen[0]?.body ?? '{}').Item, { messageId: { S: 'M2' } });
  });

  it('retries a 5xx and a lost response, and answers when a later attempt succeeds', async () => {
    answers.push((_s, res) => json(res, 500, fault('InternalServerError', 'try again')));
    answers.push((_s, _res, req) => req.socket.destroy());
    answers.push((_s, res) =>
      json(res, 200, { Attributes: { messageId: { S: 'M3' }, deliveries: { N: '2' } } }),
    );
    const result = await table.update({
      key: { messageId: 'M3' },
      update: 'ADD #d :one',
      names: { '#d': 'deliveries' },
      values: { ':one': 1 },
      returnValues: 'ALL_NEW',
    });
    assert.deepEqual(result, { ok: true, attributes: { messageId: 'M3', deliveries: 2 } });
    assert.equal(seen.length, 3);
  });

  it('gives up after three attempts with the error in the caller’s terms, DynamoDB’s message kept', async () => {
    for (let i = 0; i < 3; i += 1)
      answers.push((_s, res) => json(res, 503, fault('ServiceUnavailable', 'down for a moment')));
    await assert.rejects(table.get({ messageId: 'M4' }), (error: unknown) => {
      assert.ok(error instanceof StateError);
      assert.equal(error.code, 'STATE_UNAVAILABLE');
      assert.equal(error.kind, 'transient');
      assert.deepEqual(error.remoteMessages, ['down for a moment']);
      return true;
    });
    assert.equal(seen.length, 3);
  });

  it('does not retry a request DynamoDB refused as invalid, and names a missing table', async () => {
    answers.push((_s, res) => json(res, 400, fault('ValidationException', 'Invalid UpdateExpression')));
    await assert.rejects(
      table.update({ key: { messageId: 'M5' }, update: 'SET', values: { ':x': 1 } }),
      (error: unknown) => error instanceof StateError && error.code === 'STATE_REQUEST_REJECTED',
    );
    assert.equal(seen.length, 1);
    answers.push((_s, res) =>
      json(res, 400, fault('ResourceNotFoundException', 'Requested resource not found')),
    );
    await assert.rejects(
      table.get({ messageId: 'M5' }),
      (error: unknown) => error instanceof StateError && error.code === 'STATE_TABLE_MISSING',
    );
  });

  it('pages a query and converts keys both ways', async () => {
    answers.push((_s, res) =>
      json(res, 200, {
        Items: [{ messageId: { S: 'A' } }, { messageId: { S: 'B' } }],
        LastEvaluatedKey: { messageId: { S: 'B' }, receivedAtMs: { N: '5' } },
      }),
    );
    const page = await table.query({
      index: 'pendingReads',
      keyCondition: '#p = :p',
      names: { '#p': 'pendingReadApiName' },
      values: { ':p': 'AccountObj' },
      startKey: { messageId: 'Z', receivedAtMs: 1 },
      limit: 2,
    });
    assert.deepEqual(page, {
      items: [{ messageId: 'A' }, { messageId: 'B' }],
      lastKey: { messageId: 'B', receivedAtMs: 5 },
    });
    const sent = JSON.parse(seen[0]?.body ?? '{}');
    assert.deepEqual(sent.ExclusiveStartKey, { messageId: { S: 'Z' }, receivedAtMs: { N: '1' } });
    assert.deepEqual(sent.ExpressionAttributeValues, { ':p': { S: 'AccountObj' } });
    assert.equal(sent.ConsistentRead, undefined, 'no ConsistentRead on a GSI');
  });

  it('speaks SQS’s JSON protocol too: FIFO ids in the batch, the service in the signature, errors by shape', async () => {
    const sqs = new SQSClient({ endpoint, region: 'cn-north-1', credentials: FAKE });
    try {
      const queueUrl = `${endpoint}/000000000000/fxk3-test.fifo`;
      const queues = new QueueClient(sqs, {
        accountToCustomer: queueUrl,
        salesOrderToSaleOrder: undefined,
        saleOrderToDeliveryNotice: undefined,
        crmWriteBack: undefined,
      });
      answers.push((_s, res) => json(res, 200, { Successful: [{ Id: '0', MessageId: 'sqs-message-1' }] }));
      const message = (messageId: string) =>
        changeMessage({
          kind: 'change',
          messageId,
          apiName: 'AccountObj',
          dataId: 'acc-1',
          eventType: 'update',
          receivedAtMs: 1_700_000_000_000,
          via: 'push',
        });
      const sent = message('MSG-1');
      const ids = await queues.send('accountToCustomer', [sent]);
      assert.deepEqual(ids, ['sqs-message-1']);
      const [request] = seen;
      assert.equal(request?.headers['x-amz-target'], 'AmazonSQS.SendMessageBatch');
      assert.match(String(request?.headers.authorization), /\/cn-north-1\/sqs\/aws4_request, /);
      assert.deepEqual(JSON.parse(request?.body ?? '{}'), {
        QueueUrl: queueUrl,
        Entries: [
          {
            Id: '0',
            MessageBody: JSON.stringify(sent.body),
            MessageGroupId: sent.groupId,
            MessageDeduplicationId: sent.deduplicationId,
          },
        ],
      });

      answers.push((_s, res) => {
        res.writeHead(400, {
          'content-type': 'application/x-amz-json-1.0',
          'x-amzn-query-error': 'AWS.SimpleQueueService.NonExistentQueue;Sender',
        });
        res.end(
          JSON.stringify({
            __type: 'com.amazonaws.sqs#QueueDoesNotExist',
            message: 'The specified queue does not exist.',
          }),
        );
      });
      await assert.rejects(
        queues.send('accountToCustomer', [message('MSG-2')]),
        (error: unknown) =>
          error instanceof QueueError &&
          error.kind === 'config' &&
          error.message.includes('The specified queue does not exist.'),
      );
    } finally {
      sqs.destroy();
    }
  });
});
