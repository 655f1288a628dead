/**
 * The embedded DynamoDB engine of the local stack: dynalite in process (pure Node), with its LevelDB data
 * under the data directory so a restart keeps every item, and the tables of serverless.yml created on it.
 *
 * The four state tables are created by `createStateTables` from `lib/state` — from the same
 * `infra/dynamodb-tables.json` serverless.yml deploys — which also checks that tables left by an earlier
 * run still have the expected keys and indexes. Any other `AWS::DynamoDB::Table` of serverless.yml is
 * created from its definition.
 */
import { mkdirSync } from 'node:fs';
import type { Server } from 'node:http';
import { createRequire } from 'node:module';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { type Logger, silentLogger } from '../../../lib/log.ts';
import { createStateTables, STATE_TABLES } from '../../../lib/state/tables.ts';
import { LocalRuntimeError } from './errors.ts';
import { closeServer, listen } from './http-util.ts';
import type { StackDefinition } from './serverless/stack-definition.ts';

interface DynaliteOptions {
  path?: string;
  createTableMs?: number;
  deleteTableMs?: number;
  updateTableMs?: number;
}

const require = createRequire(import.meta.url);

export const LOCAL_AWS_CREDENTIALS = {
  accessKeyId: 'AKIAFXK3LOCALFAKE000',
  secretAccessKey: 'fxk3-local-stack-fake-secret-key',
} as const;

export interface EmbeddedDynamo {
  /** The value for `AWS_ENDPOINT_URL_DYNAMODB`. */
  readonly endpoint: string;
  readonly client: DynamoDBClient;
  close(): Promise<void>;
}

/**
 * Start dynalite, persisted under `dataDir` when given.
 *
 * @throws {LocalRuntimeError} `LOCAL_SETTINGS_INVALID` when the data directory is locked by another process
 *   (another `npm start` on the same directory) or cannot be created; the listen error for a busy port.
 */
export async function startEmbeddedDynamo(options: {
  dataDir?: string | undefined;
  host?: string;
  port?: number;
  region: string;
}): Promise<EmbeddedDynamo> {
  // dynalite ships no type declarations; its factory returns a plain node:http Server.
  const dynalite: (options: DynaliteOptions) => Server = require('dynalite');
  if (options.dataDir) mkdirSync(options.dataDir, { recursive: true });
  const server = dynalite({
    ...(options.dataDir ? { path: options.dataDir } : {}),
    createTableMs: 0,
    deleteTableMs: 0,
    updateTableMs: 0,
  });
  const { origin } = await listen(server, options.host ?? '127.0.0.1', options.port ?? 0);
  const client = new DynamoDBClient({
    endpoint: origin,
    region: options.region,
    credentials: { ...LOCAL_AWS_CREDENTIALS },
  });
  return {
    endpoint: origin,
    client,
    async close() {
      client.destroy();
      // dynalite's close() also closes the LevelDB store, flushing it.
      await closeServer(server);
    },
  };
}

/**
 * Create the stack's tables (existing ones are kept and, for the state tables, checked).
 *
 * @throws {LocalRuntimeError} when the engine refuses a table (the message carries DynamoDB's); the state
 *   module's StateError when an existing state table does not match `infra/dynamodb-tables.json`.
 */
export async function createStackTables(
  client: DynamoDBClient,
  stack: StackDefinition,
  logger: Logger = silentLogger,
): Promise<{ created: string[] }> {
  const created: string[] = [];
  const stateIds: Set<string> = new Set(Object.values(STATE_TABLES).map((t) => t.logicalId));
  const stateTables = stack.tables.filter((t) => stateIds.has(t.logicalId));
  const usesStandardNames =
    stateTables.length === stateIds.size &&
    stateTables.every((t) => {
      const spec = Object.values(STATE_TABLES).find((s) => s.logicalId === t.logicalId);
      return spec !== undefined && t.name === `${stack.stackName}-${spec.suffix}`;
    });
  if (usesStandardNames) {
    const result = await createStateTables(client, { prefix: stack.stackName, logger });
    created.push(...result.created.map((role) => `${stack.stackName}-${STATE_TABLES[role].suffix}`));
  }
  for (const table of stack.tables) {
    if (usesStandardNames && stateIds.has(table.logicalId)) continue;
    try {
      await client.send(new CreateTableCommand(table.input));
      created.push(table.name);
    } catch (error) {
      if (error instanceof Error && error.name === 'ResourceInUseException') continue;
      throw new LocalRuntimeError(
        `无法创建表 ${table.name}（resources.${table.logicalId}）/ cannot create table ${table.name} (resources.${table.logicalId}): ${error instanceof Error ? error.message : String(error)}`,
        'LOCAL_SERVERLESS_INVALID',
        { cause: error },
      );
    }
  }
  if (created.length > 0) logger.info('local.dynamodb.tables_created', { tables: created });
  return { created };
}
