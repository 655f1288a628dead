/**
 * One DynamoDB table as the stores use it: native JS values in and out (lib-dynamodb), conditional writes
 * reported as `false` instead of thrown, every other SDK failure translated once into a {@link StateError}.
 *
 * Only operations that both dynalite (the embedded engine) and AWS DynamoDB implement are used: GetItem,
 * PutItem, UpdateItem, DeleteItem, Query, BatchGetItem and BatchWriteItem (unconditional puts only). No transactions, and no reliance on
 * `ReturnValuesOnConditionCheckFailure` (dynalite does not return the item; toolchain facts §1) — a store
 * that needs to know why a condition failed reads the item again.
 */
import type { AttributeValue, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { type AwsWire, dynamoWire } from '../aws-wire.ts';
import { isConditionalCheckFailed, toStateError } from './errors.ts';

/** A stored item as lib-dynamodb returns it (values not yet validated). */
export type Item = Record<string, unknown>;

export type ExpressionNames = Record<string, string>;
export type ExpressionValues = Record<string, unknown>;

export interface ConditionalWrite {
  condition?: string;
  names?: ExpressionNames;
  values?: ExpressionValues;
}

export interface UpdateRequest extends ConditionalWrite {
  key: Item;
  update: string;
  /** `ALL_OLD` or `ALL_NEW` to get the item back on success. */
  returnValues?: 'ALL_OLD' | 'ALL_NEW';
}

export type UpdateResult = { ok: true; attributes: Item | undefined } | { ok: false };

export interface QueryRequest {
  index?: string;
  keyCondition: string;
  filter?: string;
  names?: ExpressionNames;
  values?: ExpressionValues;
  limit?: number;
  startKey?: Item;
  /** Ascending sort-key order when true (DynamoDB's default). */
  forward?: boolean;
  /** Only for the base table; a GSI is always eventually consistent. */
  consistent?: boolean;
}

export interface QueryPage {
  items: Item[];
  lastKey: Item | undefined;
}

/** BatchGetItem accepts at most 100 keys per request. */
const BATCH_GET_MAX_KEYS = 100;
/** BatchWriteItem accepts at most 25 items per request. */
const BATCH_WRITE_MAX_ITEMS = 25;
/** Unprocessed keys are retried a few times before we give up and report the table as unavailable. */
const BATCH_GET_MAX_ROUNDS = 5;

const MARSHALL_OPTIONS = { removeUndefinedValues: true, convertClassInstanceToMap: false };

type Wire = Record<string, AttributeValue>;

/** Native JS values → DynamoDB attribute values (as lib-dynamodb does, with the same options). */
function toWire(item: Item): Wire {
  return marshall(item, MARSHALL_OPTIONS);
}

function toWireOptional(item: Item | undefined): Wire | undefined {
  return item === undefined ? undefined : toWire(item);
}

function fromWire(value: unknown): Item | undefined {
  return value === undefined || value === null ? undefined : unmarshall(value as Wire);
}

function fromWireList(value: unknown): Item[] {
  return Array.isArray(value) ? value.map((entry) => unmarshall(entry as Wire)) : [];
}

/**
 * One table, wrapped once per store; every method maps DynamoDB failures to StateError. Requests go over
 * {@link dynamoWire} (the SDK client supplies credentials, region and endpoint; see wire.ts for why).
 */
export class StateTable {
  readonly name: string;
  readonly #wire: AwsWire;

  constructor(client: DynamoDBClient, name: string) {
    this.name = name;
    this.#wire = dynamoWire(client);
  }

  /** One operation with native values already converted (undefined members are left out by JSON). */
  async #call(operation: string, input: Record<string, unknown>): Promise<Record<string, unknown>> {
    return await this.#wire.call(operation, input);
  }

  /**
   * Read one item.
   *
   * @throws {StateError} when DynamoDB fails.
   */
  async get(key: Item, consistent = true): Promise<Item | undefined> {
    try {
      const out = await this.#call('GetItem', {
        TableName: this.name,
        Key: toWire(key),
        ConsistentRead: consistent,
      });
      return fromWire(out.Item);
    } catch (error) {
      throw toStateError(error, 'GetItem', this.name);
    }
  }

  /**
   * Write one item; `false` when the condition refused it.
   *
   * @throws {StateError} when DynamoDB fails for any other reason.
   */
  async put(item: Item, write: ConditionalWrite = {}): Promise<boolean> {
    try {
      await this.#call('PutItem', {
        TableName: this.name,
        Item: toWire(item),
        ConditionExpression: write.condition,
        ExpressionAttributeNames: write.names,
        ExpressionAttributeValues: toWireOptional(write.values),
      });
      return true;
    } catch (error) {
      if (isConditionalCheckFailed(error)) return false;
      throw toStateError(error, 'PutItem', this.name);
    }
  }

  /**
   * Update one item; `{ok: false}` when the condition refused it.
   *
   * @throws {StateError} when DynamoDB fails for any other reason.
   */
  async update(request: UpdateRequest): Promise<UpdateResult> {
    try {
      const out = await this.#call('UpdateItem', {
        TableName: this.name,
        Key: toWire(request.key),
        UpdateExpression: request.update,
        ConditionExpression: request.condition,
        ExpressionAttributeNames: request.names,
        ExpressionAttributeValues: toWireOptional(request.values),
        ReturnValues: request.returnValues ?? 'NONE',
      });
      return { ok: true, attributes: fromWire(out.Attributes) };
    } catch (error) {
      if (isConditionalCheckFailed(error)) return { ok: false };
      throw toStateError(error, 'UpdateItem', this.name);
    }
  }

  /**
   * Delete one item; `false` when the condition refused it.
   *
   * @throws {StateError} when DynamoDB fails for any other reason.
   */
  async delete(key: Item, write: ConditionalWrite = {}): Promise<boolean> {
    try {
      await this.#call('DeleteItem', {
        TableName: this.name,
        Key: toWire(key),
        ConditionExpression: write.condition,
        ExpressionAttributeNames: write.names,
        ExpressionAttributeValues: toWireOptional(write.values),
      });
      return true;
    } catch (error) {
      if (isConditionalCheckFailed(error)) return false;
      throw toStateError(error, 'DeleteItem', this.name);
    }
  }

  /**
   * One page of a Query.
   *
   * @throws {StateError} when DynamoDB fails.
   */
  async query(request: QueryRequest): Promise<QueryPage> {
    try {
      const out = await this.#call('Query', {
        TableName: this.name,
        IndexName: request.index,
        KeyConditionExpression: request.keyCondition,
        FilterExpression: request.filter,
        ExpressionAttributeNames: request.names,
        ExpressionAttributeValues: toWireOptional(request.values),
        Limit: request.limit,
        ExclusiveStartKey: toWireOptional(request.startKey),
        ScanIndexForward: request.forward ?? true,
        ConsistentRead: request.index === undefined ? (request.consistent ?? false) : undefined,
      });
      return { items: fromWireList(out.Items), lastKey: fromWire(out.LastEvaluatedKey) };
    } catch (error) {
      throw toStateError(error, 'Query', this.name);
    }
  }

  /**
   * Write many items without conditions (any number; requests of 25 sent in parallel, unprocessed items
   * retried a few times). For data that may be overwritten freely, such as caches.
   *
   * @throws {StateError} when DynamoDB fails or keeps leaving items unprocessed.
   */
  async batchPut(items: readonly Item[]): Promise<void> {
    const chunks: Item[][] = [];
    for (let start = 0; start < items.length; start += BATCH_WRITE_MAX_ITEMS) {
      chunks.push(items.slice(start, start + BATCH_WRITE_MAX_ITEMS));
    }
    await Promise.all(
      chunks.map(async (chunk) => {
        let pending: unknown[] = chunk.map((item) => ({ PutRequest: { Item: toWire(item) } }));
        for (let round = 0; pending.length > 0; round += 1) {
          if (round >= BATCH_GET_MAX_ROUNDS) {
            throw toStateError(
              Object.assign(new Error('BatchWriteItem kept returning UnprocessedItems'), {
                name: 'ServiceUnavailable',
              }),
              'BatchWriteItem',
              this.name,
            );
          }
          try {
            const out = await this.#call('BatchWriteItem', { RequestItems: { [this.name]: pending } });
            // Unprocessed requests come back in wire format, ready to be sent again.
            const unprocessed = (out.UnprocessedItems as Record<string, unknown[]> | undefined)?.[this.name];
            pending = Array.isArray(unprocessed) ? unprocessed : [];
          } catch (error) {
            throw toStateError(error, 'BatchWriteItem', this.name);
          }
        }
      }),
    );
  }

  /**
   * Read many items by key (any number; split into requests of 100, unprocessed keys retried).
   * Items that do not exist are simply absent from the result.
   *
   * @throws {StateError} when DynamoDB fails or keeps leaving keys unprocessed.
   */
  async batchGet(keys: readonly Item[], consistent = true): Promise<Item[]> {
    const found: Item[] = [];
    for (let start = 0; start < keys.length; start += BATCH_GET_MAX_KEYS) {
      let pending: unknown[] = keys.slice(start, start + BATCH_GET_MAX_KEYS).map(toWire);
      for (let round = 0; pending.length > 0; round += 1) {
        if (round >= BATCH_GET_MAX_ROUNDS) {
          throw toStateError(
            Object.assign(new Error('BatchGetItem kept returning UnprocessedKeys'), {
              name: 'ServiceUnavailable',
            }),
            'BatchGetItem',
            this.name,
          );
        }
        try {
          const out = await this.#call('BatchGetItem', {
            RequestItems: { [this.name]: { Keys: pending, ConsistentRead: consistent } },
          });
          found.push(...fromWireList((out.Responses as Record<string, unknown> | undefined)?.[this.name]));
          const unprocessed = (out.UnprocessedKeys as Record<string, { Keys?: unknown[] }> | undefined)?.[
            this.name
          ]?.Keys;
          pending = Array.isArray(unprocessed) ? unprocessed : [];
        } catch (error) {
          throw toStateError(error, 'BatchGetItem', this.name);
        }
      }
    }
    return found;
  }
}
