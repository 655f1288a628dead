/**
 * The embedded engine's table-definition cache (infra/local/runtime/dynalite-server.ts): item requests
 * always follow the table's current definition — after it is deleted and recreated with another key — and
 * a table being created or deleted is answered as dynalite answers it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  CreateTableCommand,
  DeleteTableCommand,
  DescribeTableCommand,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
} from '@aws-sdk/client-dynamodb';
import { createDynaliteServer } from '../../../infra/local/runtime/dynalite-server.ts';
import { closeServer, listen } from '../../../infra/local/runtime/http-util.ts';
import { localDynamoClient } from '../../support/dynamodb.ts';

const TABLE = 'cache-test';

describe('embedded DynamoDB: table definitions in memory', () => {
  let client: DynamoDBClient;
  let close: () => Promise<void>;
  let tableCache = false;

  before(async () => {
    const made = createDynaliteServer({ createTableMs: 50, deleteTableMs: 50, updateTableMs: 0 });
    tableCache = made.tableCache;
    const { origin } = await listen(made.server, '127.0.0.1', 0);
    client = localDynamoClient(origin);
    close = async () => {
      client.destroy();
      made.server.closeAllConnections();
      await closeServer(made.server);
    };
  });
  after(async () => await close?.());

  const createTable = async (key: string) =>
    await client.send(
      new CreateTableCommand({
        TableName: TABLE,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [{ AttributeName: key, AttributeType: 'S' }],
        KeySchema: [{ AttributeName: key, KeyType: 'HASH' }],
      }),
    );
  const waitActive = async () => {
    for (;;) {
      const { Table } = await client.send(new DescribeTableCommand({ TableName: TABLE }));
      if (
        Table?.TableStatus === 'ACTIVE' &&
        (Table.GlobalSecondaryIndexes ?? []).every((i) => i.IndexStatus === 'ACTIVE')
      )
        return;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  };
  const waitGone = async () => {
    for (;;) {
      try {
        await client.send(new DescribeTableCommand({ TableName: TABLE }));
      } catch (error) {
        if (error instanceof Error && error.name === 'ResourceNotFoundException') return;
        throw error;
      }
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  };
  const errorName = async (promise: Promise<unknown>): Promise<string | undefined> => {
    try {
      await promise;
      return undefined;
    } catch (error) {
      return error instanceof Error ? error.name : String(error);
    }
  };

  it('is active with the installed dynalite (its store has the shape the cache relies on)', () => {
    assert.equal(tableCache, true);
  });

  it('answers a table being created or deleted as missing, and follows one recreated with another key', async () => {
    await createTable('pk');
    assert.equal(
      await errorName(client.send(new PutItemCommand({ TableName: TABLE, Item: { pk: { S: 'early' } } }))),
      'ResourceNotFoundException',
      'CREATING: not there yet',
    );
    await waitActive();
    await client.send(new PutItemCommand({ TableName: TABLE, Item: { pk: { S: 'a' } } }));
    const first = await client.send(new GetItemCommand({ TableName: TABLE, Key: { pk: { S: 'a' } } }));
    assert.deepEqual(first.Item, { pk: { S: 'a' } });

    await client.send(new DeleteTableCommand({ TableName: TABLE }));
    assert.equal(
      await errorName(client.send(new PutItemCommand({ TableName: TABLE, Item: { pk: { S: 'late' } } }))),
      'ResourceNotFoundException',
      'DELETING: the definition held in memory is not used',
    );
    await waitGone();
    assert.equal(
      await errorName(client.send(new PutItemCommand({ TableName: TABLE, Item: { pk: { S: 'b' } } }))),
      'ResourceNotFoundException',
      'a deleted table is not served from memory',
    );

    await createTable('id');
    await waitActive();
    assert.equal(
      await errorName(client.send(new PutItemCommand({ TableName: TABLE, Item: { pk: { S: 'c' } } }))),
      'ValidationException',
      'the old key no longer fits',
    );
    await client.send(new PutItemCommand({ TableName: TABLE, Item: { id: { S: 'c' } } }));
    const second = await client.send(new GetItemCommand({ TableName: TABLE, Key: { id: { S: 'c' } } }));
    assert.deepEqual(second.Item, { id: { S: 'c' } });
  });
});
