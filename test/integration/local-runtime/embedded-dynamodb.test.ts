/**
 * The embedded DynamoDB engine's priorities: requests of the HTTP-triggered functions (named by their SDK
 * app id) are served at once, the others a few at a time in arrival order — and every request is served.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CreateTableCommand, DynamoDBClient, PutItemCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import { type EmbeddedDynamo, startEmbeddedDynamo } from '../../../infra/local/runtime/embedded-dynamodb.ts';
import { FAKE_AWS } from '../../support/dynamodb.ts';

const TABLE = 'priority-test';

describe('embedded DynamoDB priorities', () => {
  let dynamo: EmbeddedDynamo;
  const clients: DynamoDBClient[] = [];
  const client = (appId: string) => {
    const created = new DynamoDBClient({
      endpoint: dynamo.endpoint,
      region: 'us-east-1',
      credentials: { ...FAKE_AWS.credentials },
      userAgentAppId: appId,
    });
    clients.push(created);
    return created;
  };

  before(async () => {
    dynamo = await startEmbeddedDynamo({
      region: 'us-east-1',
      priorityApps: ['webhookFn'],
      backgroundConcurrency: 1,
    });
    await dynamo.client.send(
      new CreateTableCommand({
        TableName: TABLE,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
      }),
    );
  });
  after(async () => {
    for (const c of clients) c.destroy();
    await dynamo?.close();
  });

  it('serves a priority request ahead of queued background requests, and serves every request', async () => {
    const background = client('queueFn');
    const webhook = client('webhookFn');
    const finished: string[] = [];
    const put = (c: DynamoDBClient, id: string) =>
      c
        .send(
          new PutItemCommand({ TableName: TABLE, Item: { id: { S: id }, pad: { S: 'x'.repeat(2_000) } } }),
        )
        .then(() => void finished.push(id));
    const backgroundPuts = Array.from({ length: 40 }, (_, i) => put(background, `bg-${i}`));
    // Let the background requests reach the engine and queue up behind the one admitted.
    await new Promise((resolve) => setTimeout(resolve, 50));
    await Promise.all([...backgroundPuts, put(webhook, 'webhook-1')]);

    assert.equal(finished.length, 41);
    const position = finished.indexOf('webhook-1');
    assert.ok(position < 20, `the webhook's put finished ${position + 1}th of 41, not behind the queue`);
    const scan = await background.send(new ScanCommand({ TableName: TABLE, Select: 'COUNT' }));
    assert.equal(scan.Count, 41, 'nothing lost while waiting');
    assert.equal(dynamo.operations().PutItem, 41);
  });
});
