/**
 * The embedded DynamoDB engine of the local stack: dynalite in process (pure Node, in a thread of its own:
 * `dynamodb-thread.ts`), with its LevelDB data under the data directory so a restart keeps every item, and
 * the tables of serverless.yml created on it.
 *
 * The four state tables are created by `createStateTables` from `lib/state` — from the same
 * `infra/dynamodb-tables.json` serverless.yml deploys — which also checks that tables left by an earlier
 * run still have the expected keys and indexes. Any other `AWS::DynamoDB::Table` of serverless.yml is
 * created from its definition.
 */
import { mkdirSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { z } from 'zod';
import { type Logger, silentLogger } from '../../../lib/log.ts';
import { createStateTables, STATE_TABLES } from '../../../lib/state/tables.ts';
import { DYNAMODB_OPERATIONS } from './dynamodb-operations.ts';
import { LocalRuntimeError } from './errors.ts';
import type { StackDefinition } from './serverless/stack-definition.ts';
import { workerExecArgv } from './worker-exec-argv.ts';

export const LOCAL_AWS_CREDENTIALS = {
  accessKeyId: 'AKIAFXK3LOCALFAKE000',
  secretAccessKey: 'fxk3-local-stack-fake-secret-key',
} as const;

export interface EmbeddedDynamo {
  /** The value for `AWS_ENDPOINT_URL_DYNAMODB`. */
  readonly endpoint: string;
  readonly client: DynamoDBClient;
  /** Requests served since start, by operation (`PutItem`, `Query`, …; zero counts left out). */
  operations(): Record<string, number>;
  close(): Promise<void>;
}

/**
 * Start dynalite in its own thread, persisted under `dataDir` when given.
 *
 * @throws {LocalRuntimeError} `LOCAL_SETTINGS_INVALID` when the engine cannot start (a busy port, a data
 *   directory that cannot be created).
 */
export async function startEmbeddedDynamo(options: {
  dataDir?: string | undefined;
  host?: string;
  port?: number;
  region: string;
  /**
   * SDK app ids (AWS_SDK_UA_APP_ID) whose requests are served at once; see dynamodb-thread.ts. Default none.
   */
  priorityApps?: readonly string[];
  /** Other requests served at a time (0 = no limit, the default). */
  backgroundConcurrency?: number;
  /** … while a priority request is in flight (at least 1; default 1). */
  busyBackgroundConcurrency?: number;
}): Promise<EmbeddedDynamo> {
  if (options.dataDir) mkdirSync(options.dataDir, { recursive: true });
  const counters = new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT * DYNAMODB_OPERATIONS.length);
  const worker = new Worker(new URL('./dynamodb-thread.ts', import.meta.url), {
    workerData: {
      dataDir: options.dataDir,
      host: options.host ?? '127.0.0.1',
      port: options.port ?? 0,
      counters,
      priorityApps: [...(options.priorityApps ?? [])],
      backgroundConcurrency: options.backgroundConcurrency ?? 0,
      busyBackgroundConcurrency: options.busyBackgroundConcurrency ?? 1,
    },
    execArgv: workerExecArgv(),
  });
  const messages = z.discriminatedUnion('type', [
    z.object({ type: z.literal('listening'), origin: z.string() }),
    z.object({ type: z.literal('failed'), message: z.string() }),
    z.object({ type: z.literal('closed'), error: z.string().optional() }),
  ]);
  const next = (): Promise<z.output<typeof messages>> =>
    new Promise((resolve, reject) => {
      const onMessage = (raw: unknown) => {
        cleanup();
        resolve(messages.parse(raw));
      };
      const onError = (error: Error) => {
        cleanup();
        reject(error);
      };
      const onExit = (code: number) => {
        cleanup();
        reject(new Error(`the DynamoDB thread exited with code ${code}`));
      };
      const cleanup = () => {
        worker.off('message', onMessage);
        worker.off('error', onError);
        worker.off('exit', onExit);
      };
      worker.on('message', onMessage);
      worker.once('error', onError);
      worker.once('exit', onExit);
    });
  let first: z.output<typeof messages>;
  try {
    first = await next();
  } catch (error) {
    await worker.terminate();
    throw new LocalRuntimeError(
      `内嵌 DynamoDB 无法启动 / the embedded DynamoDB engine cannot start: ${String(error)}`,
      'LOCAL_SETTINGS_INVALID',
      { cause: error },
    );
  }
  if (first.type !== 'listening') {
    await worker.terminate();
    throw new LocalRuntimeError(
      `内嵌 DynamoDB 无法启动 / the embedded DynamoDB engine cannot start: ${first.type === 'failed' ? first.message : first.type}`,
      'LOCAL_SETTINGS_INVALID',
    );
  }
  const origin = first.origin;
  const client = new DynamoDBClient({
    endpoint: origin,
    region: options.region,
    credentials: { ...LOCAL_AWS_CREDENTIALS },
  });
  let closing: Promise<void> | undefined;
  return {
    endpoint: origin,
    client,
    operations() {
      const view = new Int32Array(counters);
      const out: Record<string, number> = {};
      DYNAMODB_OPERATIONS.forEach((name, i) => {
        const n = Atomics.load(view, i);
        if (n > 0) out[name] = n;
      });
      return out;
    },
    close() {
      closing ??= (async () => {
        client.destroy();
        const closed = next().catch(() => undefined);
        worker.postMessage('close');
        await closed;
        await worker.terminate();
      })();
      return closing;
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
