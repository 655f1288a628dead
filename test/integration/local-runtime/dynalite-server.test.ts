/**
 * The embedded engine's additions (infra/local/runtime/dynalite-server.ts): with table definitions in memory,
 * item requests always follow the table's current definition — after it is deleted and recreated with another
 * key — and a table being created or deleted is answered as dynalite answers it; with parsed expressions
 * reused (dynalite-expressions.ts), every request is decided by its own values and refused as dynalite would.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  type AttributeValue,
  CreateTableCommand,
  DeleteTableCommand,
  DescribeTableCommand,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { reusedParses } from '../../../infra/local/runtime/dynalite-expressions.ts';
import { createDynaliteServer, type DynaliteOptions } from '../../../infra/local/runtime/dynalite-server.ts';
import { closeServer, listen } from '../../../infra/local/runtime/http-util.ts';
import { localDynamoClient } from '../../support/dynamodb.ts';

const TABLE = 'cache-test';

/** A dynalite made by the local stack's factory, listening on a free port, with a client for it. */
async function startEngine(options: DynaliteOptions) {
  const made = createDynaliteServer(options);
  const { origin } = await listen(made.server, '127.0.0.1', 0);
  const client = localDynamoClient(origin);
  return {
    made,
    client,
    async close() {
      client.destroy();
      made.server.closeAllConnections();
      await closeServer(made.server);
    },
  };
}

/** The name of the error a request ends with; undefined when it succeeds. */
async function errorName(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.name : String(error);
  }
}

describe('embedded DynamoDB: table definitions in memory', () => {
  let client: DynamoDBClient;
  let close: () => Promise<void>;
  let tableCache = false;

  before(async () => {
    const engine = await startEngine({ createTableMs: 50, deleteTableMs: 50, updateTableMs: 0 });
    ({ client, close } = engine);
    tableCache = engine.made.tableCache;
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

describe('embedded DynamoDB: parsed expressions reused', () => {
  let client: DynamoDBClient;
  let close: () => Promise<void>;
  let expressionCache = false;
  const TABLE_E = 'expression-test';

  before(async () => {
    const engine = await startEngine({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
    ({ client, close } = engine);
    expressionCache = engine.made.expressionCache;
    await client.send(
      new CreateTableCommand({
        TableName: TABLE_E,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [
          { AttributeName: 'pk', AttributeType: 'S' },
          { AttributeName: 'sk', AttributeType: 'N' },
        ],
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
      }),
    );
  });
  after(async () => await close?.());

  it('is active with the installed dynalite', () => {
    assert.equal(expressionCache, true);
  });

  it('a conditional update repeated with other values is decided by each request’s own values', async () => {
    await client.send(
      new PutItemCommand({ TableName: TABLE_E, Item: { pk: { S: 'n' }, sk: { N: '0' }, n: { N: '5' } } }),
    );
    // "Raise n to :v, only upwards": the same expression and names each time, new values.
    const raise = (v: number) =>
      errorName(
        client.send(
          new UpdateItemCommand({
            TableName: TABLE_E,
            Key: { pk: { S: 'n' }, sk: { N: '0' } },
            UpdateExpression: 'SET #n = :v, #at = :at',
            ConditionExpression: 'attribute_exists(#n) AND #n < :v',
            ExpressionAttributeNames: { '#n': 'n', '#at': 'at' },
            ExpressionAttributeValues: { ':v': { N: String(v) }, ':at': { S: `t${v}` } },
          }),
        ),
      );
    const outcomes: (string | undefined)[] = [];
    const reusedBefore = reusedParses();
    for (const v of [6, 3, 7, 4, 9, 9, 12, 1, 13]) outcomes.push(await raise(v));
    // Two parses each (update, condition); the first two requests are parsed for real and checked.
    assert.ok(reusedParses() - reusedBefore >= 10, 'the parses were reused');
    const failed = 'ConditionalCheckFailedException';
    assert.deepEqual(outcomes, [
      undefined,
      failed,
      undefined,
      failed,
      undefined,
      failed,
      undefined,
      failed,
      undefined,
    ]);
    const { Item } = await client.send(
      new GetItemCommand({ TableName: TABLE_E, Key: { pk: { S: 'n' }, sk: { N: '0' } } }),
    );
    assert.deepEqual(Item?.n, { N: '13' });
    assert.deepEqual(Item?.at, { S: 't13' });
  });

  it('queries repeated with other key and filter values find what those values select', async () => {
    for (let i = 1; i <= 6; i += 1) {
      await client.send(
        new PutItemCommand({
          TableName: TABLE_E,
          Item: { pk: { S: 'q' }, sk: { N: String(i) }, colour: { S: i % 2 === 0 ? 'red' : 'blue' } },
        }),
      );
    }
    const query = async (from: number, colour: string) =>
      (
        await client.send(
          new QueryCommand({
            TableName: TABLE_E,
            KeyConditionExpression: '#pk = :pk AND #sk >= :from',
            FilterExpression: '#colour = :colour',
            ExpressionAttributeNames: { '#pk': 'pk', '#sk': 'sk', '#colour': 'colour' },
            ExpressionAttributeValues: {
              ':pk': { S: 'q' },
              ':from': { N: String(from) },
              ':colour': { S: colour },
            },
          }),
        )
      ).Items?.map((item) => Number(item.sk?.N));
    // Written value-first, which dynalite turns around in the parsed tree it is given.
    const reversed = async (from: number) =>
      (
        await client.send(
          new QueryCommand({
            TableName: TABLE_E,
            KeyConditionExpression: ':pk = #pk AND :from <= #sk',
            ExpressionAttributeNames: { '#pk': 'pk', '#sk': 'sk' },
            ExpressionAttributeValues: { ':pk': { S: 'q' }, ':from': { N: String(from) } },
          }),
        )
      ).Items?.map((item) => Number(item.sk?.N));
    for (const from of [5, 2, 4, 6, 1]) {
      assert.deepEqual(
        await reversed(from),
        [1, 2, 3, 4, 5, 6].filter((sk) => sk >= from),
      );
    }
    assert.deepEqual(await query(1, 'red'), [2, 4, 6]);
    assert.deepEqual(await query(3, 'blue'), [3, 5]);
    assert.deepEqual(await query(4, 'red'), [4, 6]);
    assert.deepEqual(await query(6, 'blue'), []);
    assert.deepEqual(await query(2, 'blue'), [3, 5]);
  });

  it('still refuses an unused placeholder, a wrong operand type and reversed BETWEEN bounds after good requests', async () => {
    const update = (values: Record<string, AttributeValue>, names: Record<string, string> = { '#n': 'n' }) =>
      errorName(
        client.send(
          new UpdateItemCommand({
            TableName: TABLE_E,
            Key: { pk: { S: 'v' }, sk: { N: '0' } },
            UpdateExpression: 'SET #n = :v',
            ExpressionAttributeNames: names,
            ExpressionAttributeValues: values,
          }),
        ),
      );
    for (const v of ['1', '2', '3']) assert.equal(await update({ ':v': { N: v } }), undefined);
    assert.equal(await update({ ':v': { N: '4' }, ':unused': { S: 'x' } }), 'ValidationException');
    assert.equal(await update({ ':v': { N: '5' } }, { '#n': 'n', '#unused': 'x' }), 'ValidationException');
    const between = (low: string, high: string) =>
      errorName(
        client.send(
          new QueryCommand({
            TableName: TABLE_E,
            KeyConditionExpression: 'pk = :pk AND sk BETWEEN :low AND :high',
            ExpressionAttributeValues: { ':pk': { S: 'q' }, ':low': { N: low }, ':high': { N: high } },
          }),
        ),
      );
    const bounds: [string, string][] = [
      ['1', '2'],
      ['2', '5'],
      ['3', '4'],
    ];
    for (const [low, high] of bounds) assert.equal(await between(low, high), undefined);
    assert.equal(await between('5', '1'), 'ValidationException');
    const sizeOf = (value: AttributeValue) =>
      errorName(
        client.send(
          new UpdateItemCommand({
            TableName: TABLE_E,
            Key: { pk: { S: 'v' }, sk: { N: '0' } },
            UpdateExpression: 'SET #n = :v',
            ConditionExpression: 'size(:s) > :zero',
            ExpressionAttributeNames: { '#n': 'n' },
            ExpressionAttributeValues: { ':v': { N: '1' }, ':s': value, ':zero': { N: '0' } },
          }),
        ),
      );
    for (const s of ['a', 'bb', 'ccc']) assert.equal(await sizeOf({ S: s }), undefined);
    assert.equal(
      await sizeOf({ N: '7' }),
      'ValidationException',
      'size() of a number is refused, whatever came before',
    );
  });
});
