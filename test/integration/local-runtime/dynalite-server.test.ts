/**
 * The embedded engine's additions (infra/local/runtime/dynalite-server.ts): item requests always follow the
 * table's current definition — after it is deleted and recreated with another key — and a table being created
 * or deleted is answered as dynalite answers it; with parsed expressions
 * reused (dynalite-expressions.ts), every request is decided by its own values and refused as dynalite would;
 * with reads answered on the engine's thread and an item and its index entries written in one batch
 * (dynalite-storage.ts), the indexes answer exactly what the items say, index entries are never dropped, even
 * when an item write does not follow, and a read while the database is still opening is answered.
 */

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  type AttributeValue,
  BatchWriteItemCommand,
  CreateTableCommand,
  DeleteItemCommand,
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
import {
  batchedItemWrites,
  batchItemWrites,
  engineThreadReads,
  readOnEngineThread,
} from '../../../infra/local/runtime/dynalite-storage.ts';
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

describe('embedded DynamoDB: table definitions', () => {
  let client: DynamoDBClient;
  let close: () => Promise<void>;

  before(async () => {
    const engine = await startEngine({ createTableMs: 50, deleteTableMs: 50, updateTableMs: 0 });
    ({ client, close } = engine);
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

describe('embedded DynamoDB: reads on the engine thread, an item and its index entries in one write', () => {
  let client: DynamoDBClient;
  let close: () => Promise<void>;
  let itemBatching = false;
  let syncReads = false;
  const TABLE_B = 'batch-test';

  before(async () => {
    const engine = await startEngine({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
    ({ client, close } = engine);
    itemBatching = engine.made.itemBatching;
    syncReads = engine.made.engineThreadReads;
    await client.send(
      new CreateTableCommand({
        TableName: TABLE_B,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [
          { AttributeName: 'pk', AttributeType: 'S' },
          { AttributeName: 'sk', AttributeType: 'S' },
          { AttributeName: 'colour', AttributeType: 'S' },
          { AttributeName: 'rank', AttributeType: 'N' },
        ],
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
        GlobalSecondaryIndexes: [
          {
            IndexName: 'byColour',
            KeySchema: [{ AttributeName: 'colour', KeyType: 'HASH' }],
            Projection: { ProjectionType: 'KEYS_ONLY' },
          },
        ],
        LocalSecondaryIndexes: [
          {
            IndexName: 'byRank',
            KeySchema: [
              { AttributeName: 'pk', KeyType: 'HASH' },
              { AttributeName: 'rank', KeyType: 'RANGE' },
            ],
            Projection: { ProjectionType: 'ALL' },
          },
        ],
      }),
    );
  });
  after(async () => await close?.());

  /** The sort keys the colour index lists for a colour. */
  const byColour = async (colour: string) =>
    (
      await client.send(
        new QueryCommand({
          TableName: TABLE_B,
          IndexName: 'byColour',
          KeyConditionExpression: 'colour = :c',
          ExpressionAttributeValues: { ':c': { S: colour } },
        }),
      )
    ).Items?.map((item) => item.sk?.S)
      .sort()
      .join(',');
  /** The sort keys of partition `p`, in rank order, with their colour as the rank index holds it. */
  const byRank = async () =>
    (
      await client.send(
        new QueryCommand({
          TableName: TABLE_B,
          IndexName: 'byRank',
          KeyConditionExpression: 'pk = :p',
          ExpressionAttributeValues: { ':p': { S: 'p' } },
        }),
      )
    ).Items?.map((item) => `${item.sk?.S}:${item.colour?.S ?? '-'}`).join(',');

  it('is active with the installed dynalite', () => {
    assert.equal(itemBatching, true);
    assert.equal(syncReads, true);
  });

  it('puts, updates (moving and dropping index keys), deletes and batch writes leave the indexes matching the items', async () => {
    const before = batchedItemWrites();
    const readsBefore = engineThreadReads();
    const put = (sk: string, colour: string, rank: number) =>
      client.send(
        new PutItemCommand({
          TableName: TABLE_B,
          Item: { pk: { S: 'p' }, sk: { S: sk }, colour: { S: colour }, rank: { N: String(rank) } },
        }),
      );
    await put('a', 'red', 3);
    await put('b', 'red', 1);
    await put('c', 'blue', 2);
    assert.equal(await byColour('red'), 'a,b');
    assert.equal(await byColour('blue'), 'c');
    assert.equal(await byRank(), 'b:red,c:blue,a:red');

    // Move a from red to blue and to the front; take b out of the colour index (sparse).
    await client.send(
      new UpdateItemCommand({
        TableName: TABLE_B,
        Key: { pk: { S: 'p' }, sk: { S: 'a' } },
        UpdateExpression: 'SET colour = :c, #r = :r',
        ExpressionAttributeNames: { '#r': 'rank' },
        ExpressionAttributeValues: { ':c': { S: 'blue' }, ':r': { N: '0' } },
      }),
    );
    await client.send(
      new UpdateItemCommand({
        TableName: TABLE_B,
        Key: { pk: { S: 'p' }, sk: { S: 'b' } },
        UpdateExpression: 'REMOVE colour',
      }),
    );
    assert.equal(await byColour('red'), '');
    assert.equal(await byColour('blue'), 'a,c');
    assert.equal(await byRank(), 'a:blue,b:-,c:blue');

    // A put over an existing item replaces its index entries.
    await put('c', 'green', 9);
    assert.equal(await byColour('blue'), 'a');
    assert.equal(await byColour('green'), 'c');

    await client.send(new DeleteItemCommand({ TableName: TABLE_B, Key: { pk: { S: 'p' }, sk: { S: 'a' } } }));
    assert.equal(await byColour('blue'), '');
    assert.equal(await byRank(), 'b:-,c:green');

    await client.send(
      new BatchWriteItemCommand({
        RequestItems: {
          [TABLE_B]: [
            { DeleteRequest: { Key: { pk: { S: 'p' }, sk: { S: 'c' } } } },
            {
              PutRequest: {
                Item: { pk: { S: 'p' }, sk: { S: 'd' }, colour: { S: 'green' }, rank: { N: '5' } },
              },
            },
          ],
        },
      }),
    );
    assert.equal(await byColour('green'), 'd');
    assert.equal(await byRank(), 'b:-,d:green');
    // 3 puts, 2 updates, 1 put, 1 delete, 2 batch items: every one wrote an index entry with its item.
    assert.equal(batchedItemWrites() - before, 9);
    // Each of those changes read its old item (plus the table definitions the cache had not seen).
    assert.ok(engineThreadReads() - readsBefore >= 9, 'item reads were answered on the engine thread');
  });

  it('answers a read made while the database is still opening, and on the engine thread once it is open', async () => {
    const require = createRequire(import.meta.url);
    const db = require('dynalite/db');
    const dir = mkdtempSync(join(tmpdir(), 'dynalite-reads-'));
    const store = db.create({ path: dir });
    try {
      assert.equal(readOnEngineThread(store), true);
      assert.notEqual(store.db.status, 'open', 'LevelDB opens asynchronously');
      const read = (key: string) =>
        new Promise<unknown>((resolve, reject) =>
          store.db.get(key, (error: unknown, value?: unknown) => (error ? reject(error) : resolve(value))),
        );
      const before = engineThreadReads();
      assert.equal(await read('missing'), undefined, 'answered by dynalite’s own read while opening');
      assert.equal(engineThreadReads(), before);
      await new Promise<void>((resolve, reject) =>
        store.db.batch([{ type: 'put', key: 'k', value: { v: 1 } }], (error?: unknown) =>
          error ? reject(error) : resolve(),
        ),
      );
      assert.deepEqual(await read('k'), { v: 1 });
      assert.equal(await read('missing'), undefined);
      assert.equal(engineThreadReads() - before, 2);
    } finally {
      await store.db.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('writes the index entries on their own when no item write follows inside the callback', async () => {
    // A store made by dynalite's own factory, in memory: the module's callback contract, not the HTTP path.
    const require = createRequire(import.meta.url);
    const db = require('dynalite/db');
    const store = db.create({});
    assert.equal(batchItemWrites(db, store), true);
    const table = {
      TableName: 'loose',
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      AttributeDefinitions: [
        { AttributeName: 'pk', AttributeType: 'S' },
        { AttributeName: 'colour', AttributeType: 'S' },
      ],
      GlobalSecondaryIndexes: [
        {
          IndexName: 'byColour',
          KeySchema: [{ AttributeName: 'colour', KeyType: 'HASH' }],
          Projection: { ProjectionType: 'ALL' },
        },
      ],
    };
    const item = { pk: { S: 'x' }, colour: { S: 'red' } };
    const before = batchedItemWrites();
    await new Promise<void>((resolve, reject) =>
      db.updateIndexes(store, table, undefined, item, (error?: unknown) =>
        error ? reject(error) : resolve(),
      ),
    );
    // The index entry was written without its item; find it through dynalite's own index scan.
    const indexDb = store.getIndexDb('Global', 'loose', 'byColour');
    const values: unknown[] = [];
    for (let attempt = 0; attempt < 50 && values.length === 0; attempt += 1) {
      await new Promise((resolve) => setTimeout(resolve, 2));
      await new Promise<void>((resolve, reject) => {
        const stream = indexDb.createValueStream({});
        stream.on('data', (value: unknown) => values.push(value));
        stream.on('error', reject);
        stream.on('end', () => resolve());
      });
    }
    assert.deepEqual(values, [item]);
    assert.equal(batchedItemWrites(), before, 'nothing was batched');
  });
});
