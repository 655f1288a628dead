/**
 * What the CLI tests share: running `runCli` against the sync test stack (test/integration/sync/harness.ts:
 * both emulators, dynalite, the local runtime's SQS service) in "environment" mode, a recorder in front of the
 * K3Cloud emulator that keeps every request body (to compare a dry run with what the pipeline then sends),
 * and whole-table snapshots (to prove a dry run wrote nothing).
 */
import { createServer, request as httpRequest, type Server } from 'node:http';
import { type AttributeValue, type DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { z } from 'zod';
import { runCli } from '../../../cli/main.ts';
import { FAKE_AWS } from '../../support/dynamodb.ts';
import type { SyncStack } from '../sync/harness.ts';

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** The environment the CLI gets: the stack's wiring (as a function has it) plus the AWS endpoints. */
export function cliEnv(stack: SyncStack, extra: Record<string, string> = {}): Record<string, string> {
  return {
    ...stack.env,
    AWS_ENDPOINT_URL_SQS: stack.sqs.url,
    AWS_ENDPOINT_URL_DYNAMODB: stack.dynamo.endpoint,
    AWS_REGION: FAKE_AWS.region,
    AWS_ACCESS_KEY_ID: FAKE_AWS.credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: FAKE_AWS.credentials.secretAccessKey,
    ...extra,
  };
}

/**
 * `fxk3 <argv>` in this process. The sync runtime is a per-process singleton that the CLI configures for
 * itself; afterwards the stack's handlers get theirs back.
 */
export async function fxk3(
  stack: SyncStack,
  argv: string[],
  extraEnv: Record<string, string> = {},
): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(argv, {
    stdout: (text) => {
      stdout += text;
    },
    stderr: (text) => {
      stderr += text;
    },
    env: cliEnv(stack, extraEnv),
  });
  await stack.reconfigure({});
  return { code, stdout, stderr };
}

/** The `--json` document of a run, validated with `schema`. */
export function jsonOf<S extends z.ZodType>(run: CliRun, schema: S): z.output<S> {
  try {
    return schema.parse(JSON.parse(run.stdout));
  } catch (error) {
    throw new Error(
      `unexpected --json output (${String(error)}):\n${run.stdout}\n--- stderr ---\n${run.stderr}`,
    );
  }
}

export const errorSchema = z.object({
  kind: z.string(),
  code: z.string(),
  message: z.string(),
  remoteMessages: z.array(z.string()),
});

export const k3RequestSchema = z.object({
  operation: z.string(),
  formId: z.string(),
  url: z.string(),
  data: z.record(z.string(), z.unknown()),
});

export const dryRunSchema = z.object({
  command: z.literal('dry-run'),
  record: z.object({ apiName: z.string(), id: z.string(), found: z.boolean() }).loose(),
  results: z.array(
    z
      .object({
        flow: z.string(),
        source: z.object({ type: z.string(), id: z.string() }).loose(),
        verdict: z.enum(['create', 'adopt', 'update', 'skip', 'fail']),
        reason: z.string().optional(),
        target: z.unknown().optional(),
        operations: z.array(z.string()),
        error: errorSchema.loose().optional(),
      })
      .loose(),
  ),
  k3Requests: z.array(k3RequestSchema),
  queued: z.array(z.unknown()),
  wrote: z.literal('nothing'),
});

/** One request the recorder saw: K3's operation (from the URL) and the `data` argument of the body. */
export interface RecordedRequest {
  operation: string;
  formId: string | undefined;
  data: unknown;
}

/**
 * A loopback HTTP proxy in front of the K3Cloud emulator that records each request: point
 * `K3CLOUD_SERVER_URL` at `url` and both the CLI and the handlers go through it.
 */
export interface K3Recorder {
  url: string;
  requests: RecordedRequest[];
  close(): Promise<void>;
}

const positionalBody = z.object({ parameters: z.tuple([z.string(), z.string()]).rest(z.unknown()) });
const namedBody = z.object({ formid: z.string(), data: z.unknown() });

function parseBody(text: string): { formId: string | undefined; data: unknown } {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { formId: undefined, data: text };
  }
  const positional = positionalBody.safeParse(json);
  if (positional.success) {
    const [formId, data] = positional.data.parameters;
    return { formId, data: JSON.parse(data) };
  }
  const named = namedBody.safeParse(json);
  if (named.success) return { formId: named.data.formid, data: named.data.data };
  return { formId: undefined, data: json };
}

export async function startK3Recorder(targetUrl: string): Promise<K3Recorder> {
  const target = new URL(targetUrl);
  const requests: RecordedRequest[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const operation = /DynamicFormService\.([A-Za-z]+)\.common\.kdsvc/.exec(req.url ?? '')?.[1];
      if (operation) requests.push({ operation, ...parseBody(body.toString('utf8')) });
      const upstream = httpRequest(
        {
          host: target.hostname,
          port: target.port,
          path: req.url,
          method: req.method,
          headers: { ...req.headers, host: target.host },
        },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      upstream.on('error', () => res.destroy());
      upstream.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}${target.pathname}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Every item of a table, sorted, as JSON text (for before/after comparisons). */
export async function tableItems(client: DynamoDBClient, tableName: string): Promise<string[]> {
  const items: string[] = [];
  let startKey: Record<string, AttributeValue> | undefined;
  do {
    const page = await client.send(new ScanCommand({ TableName: tableName, ExclusiveStartKey: startKey }));
    for (const item of page.Items ?? []) {
      items.push(
        JSON.stringify(Object.fromEntries(Object.entries(item).sort(([a], [b]) => a.localeCompare(b)))),
      );
    }
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return items.sort();
}
