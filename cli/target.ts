/**
 * Which deployment the CLI talks to, and how it finds its tables, queues and settings — always from the same
 * naming conventions the functions use, so the CLI and the functions can never look at different places:
 *
 * 1. `--stage <s> [--region <r>]` — a deployed AWS stack. `serverless.yml` is read (with the local runtime's
 *    own reader, `infra/local/runtime/serverless/`) for stage `s`: table names `<service>-<s>-<table>`, queue
 *    names `<service>-<s>-<flow>.fifo` (URLs by SQS `GetQueueUrl`), SSM prefix `/<service>/<s>/`, mapping
 *    config path. AWS credentials come from the SDK's usual chain (environment, profile, SSO).
 * 2. `--local`, or nothing while `npm start` runs — the local stack: its endpoints come from
 *    `<LOCAL_DATA_DIR>/local-stack.json`, names from serverless.yml for `LOCAL_STAGE` (the same variables and
 *    `.env` file `npm start` reads), settings from its SSM endpoint, exactly as its functions get them.
 * 3. Neither, but `STATE_TABLE_COORDINATION` set — the environment names everything itself (the variables
 *    of docs/sync.md §7), as for a function; endpoints through the SDK's `AWS_ENDPOINT_URL_<SERVICE>`.
 *
 * In 1 and 2 these variables, when set in the operator's environment, override what serverless.yml says:
 * `STATE_TABLE_*`, `SYNC_QUEUE_URL_*`, `SSM_PARAMETER_PREFIX`, `SYNC_CONFIG_PATH`, `SYNC_CONFIG_SSM_PARAMETER`.
 */
import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetQueueUrlCommand, SQSClient } from '@aws-sdk/client-sqs';
import { SSMClient } from '@aws-sdk/client-ssm';
import { z } from 'zod';
import { environmentWithDotEnv } from '../infra/local/runtime/dotenv.ts';
import { LOCAL_AWS_CREDENTIALS } from '../infra/local/runtime/embedded-dynamodb.ts';
import { readLocalSettings } from '../infra/local/runtime/local-settings.ts';
import {
  readStackDefinition,
  type StackDefinition,
} from '../infra/local/runtime/serverless/stack-definition.ts';
import { STACK_STATE_FILE } from '../infra/local/runtime/stack.ts';
import { cleanEnv } from '../lib/env.ts';
import { STATE_TABLES } from '../lib/state/tables.ts';
import type { QueueRole } from '../lib/sync/queues.ts';
import { SYNC_ENV } from '../lib/sync/settings.ts';
import type { GlobalOptions } from './args.ts';
import { CliError } from './errors.ts';
import type { CliIo } from './io.ts';
import { sqsFailure } from './queue-admin.ts';

/** The repository root: serverless.yml, config/, .data/ (the CLI is run from a clone of the repository). */
export const REPO_ROOT = fileURLToPath(new URL('../', import.meta.url));

export const QUEUE_ROLES: readonly QueueRole[] = [
  'accountToCustomer',
  'salesOrderToSaleOrder',
  'saleOrderToDeliveryNotice',
  'crmWriteBack',
];

/** The variable holding each queue's URL (serverless.yml sets them from the stack). */
export const QUEUE_ENV: Readonly<Record<QueueRole, string>> = {
  accountToCustomer: SYNC_ENV.queueAccountToCustomer,
  salesOrderToSaleOrder: SYNC_ENV.queueSalesOrderToSaleOrder,
  saleOrderToDeliveryNotice: SYNC_ENV.queueSaleOrderToDeliveryNotice,
  crmWriteBack: SYNC_ENV.queueCrmWriteBack,
};

/** Operator variables that win over what serverless.yml says (local and AWS modes). */
const OVERRIDES = [
  ...Object.values(STATE_TABLES).map((table) => table.env),
  ...Object.values(QUEUE_ENV),
  SYNC_ENV.ssmPrefix,
  SYNC_ENV.configPath,
  SYNC_ENV.configSsmParameter,
];

/** Wiring variables taken from serverless.yml's function environments. */
const WIRING = /^(STATE_TABLE_|SYNC_QUEUE_URL_|SSM_PARAMETER_PREFIX$|SYNC_CONFIG_|SYNC_MAX_RECEIVE_COUNT$)/;

export type TargetKind = 'local' | 'aws' | 'env';

export interface StackTarget {
  kind: TargetKind;
  /** Bilingual, for people: `本地运行时（沙箱）/ local stack (sandbox), stage local`. */
  label: string;
  stage: string | undefined;
  region: string;
  /** Local stack: which systems are emulated, and whether every function has loaded. */
  local:
    | { mode: { k3: 'sandbox' | 'real'; fx: 'sandbox' | 'real' }; ready: boolean; pid: number }
    | undefined;
  /** What the sync runtime is built from: the wiring a function sees (settings and secrets come via SSM). */
  runtimeEnv: Record<string, string>;
  dynamo: DynamoDBClient;
  sqs: SQSClient;
  ssm: SSMClient;
  /** Queue URLs by role (only the configured ones). */
  queueUrls: Partial<Record<QueueRole, string>>;
  /** SQS long-poll wait for admin receives (0 where the service answers at once; AWS samples servers). */
  receiveWaitSeconds: number;
  close(): void;
}

export interface ResolveOptions {
  /** Resolve queue URLs (AWS: `GetQueueUrl`); dry-run does not need them. Default true. */
  queues?: boolean;
}

const localStateSchema = z.object({
  pid: z.number().int(),
  ready: z.boolean(),
  mode: z.object({ k3: z.enum(['sandbox', 'real']), fx: z.enum(['sandbox', 'real']) }),
  endpoints: z.object({ sqs: z.url(), dynamodb: z.url(), ssm: z.url() }),
});

function noStack(detail: string): CliError {
  return new CliError(
    `找不到要连接的部署 / no deployment to talk to: ${detail}\n请先运行 npm start，或用 --stage <stage> 连接 AWS，或设置 STATE_TABLE_* 等环境变量（docs/cli.md）/ start the local stack (npm start), pass --stage <stage> for AWS, or set STATE_TABLE_* and the other variables (docs/cli.md)`,
    { kind: 'config', fault: 'caller', code: 'CLI_NO_STACK' },
  );
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return error instanceof Error && 'code' in error && error.code === 'EPERM';
  }
}

function staticCredentials(env: Readonly<Record<string, string>>) {
  const accessKeyId = env.AWS_ACCESS_KEY_ID;
  const secretAccessKey = env.AWS_SECRET_ACCESS_KEY;
  if (!accessKeyId || !secretAccessKey) return undefined;
  return {
    accessKeyId,
    secretAccessKey,
    ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}),
  };
}

interface ClientSettings {
  region: string;
  endpoints: { dynamodb?: string | undefined; sqs?: string | undefined; ssm?: string | undefined };
  credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string } | undefined;
}

function buildClients(settings: ClientSettings) {
  const common = {
    region: settings.region,
    ...(settings.credentials ? { credentials: settings.credentials } : {}),
  };
  const at = (endpoint: string | undefined) => (endpoint ? { endpoint } : {});
  const dynamo = new DynamoDBClient({ ...common, ...at(settings.endpoints.dynamodb) });
  const sqs = new SQSClient({ ...common, ...at(settings.endpoints.sqs) });
  const ssm = new SSMClient({ ...common, ...at(settings.endpoints.ssm) });
  return {
    dynamo,
    sqs,
    ssm,
    close: () => {
      dynamo.destroy();
      sqs.destroy();
      ssm.destroy();
    },
  };
}

/** The wiring variables of every function of the stack (they share provider.environment). */
function wiringOf(definition: StackDefinition): Record<string, string> {
  const env: Record<string, string> = {};
  for (const fn of definition.functions) {
    for (const [name, value] of Object.entries(fn.environment)) {
      if (WIRING.test(name) && value.trim() !== '') env[name] = value;
    }
  }
  const configPath = env[SYNC_ENV.configPath];
  if (configPath !== undefined && !isAbsolute(configPath)) {
    // The functions resolve it from their task root: the package root, i.e. the repository.
    env[SYNC_ENV.configPath] = resolve(definition.serviceDir, configPath);
  }
  return env;
}

function withOverrides(
  wiring: Record<string, string>,
  operatorEnv: Readonly<Record<string, string>>,
): Record<string, string> {
  const env = { ...wiring };
  for (const name of OVERRIDES) {
    const value = operatorEnv[name];
    if (value !== undefined) env[name] = value;
  }
  const configPath = env[SYNC_ENV.configPath];
  if (configPath !== undefined && !isAbsolute(configPath))
    env[SYNC_ENV.configPath] = resolve(REPO_ROOT, configPath);
  return env;
}

function queueUrlsOf(env: Readonly<Record<string, string>>): Partial<Record<QueueRole, string>> {
  const urls: Partial<Record<QueueRole, string>> = {};
  for (const role of QUEUE_ROLES) {
    const url = env[QUEUE_ENV[role]];
    if (url !== undefined) urls[role] = url;
  }
  return urls;
}

/**
 * Find the deployment (see the module comment).
 *
 * @throws {CliError} `CLI_NO_STACK` when there is nothing to talk to; `config` errors for a stack whose queues
 *   do not exist; ServerlessConfigError / ConfigError for an unreadable serverless.yml or local settings.
 */
export async function resolveTarget(
  global: GlobalOptions,
  io: CliIo,
  options: ResolveOptions = {},
): Promise<StackTarget> {
  const operatorEnv = cleanEnv(io.env);
  if (global.stage !== undefined) return await awsTarget(global.stage, global.region, operatorEnv, options);
  if (!global.local && operatorEnv[STATE_TABLES.coordination.env] !== undefined)
    return envTarget(operatorEnv);
  return localTarget(io, operatorEnv);
}

/** Endpoint overrides as the SDK reads them: `AWS_ENDPOINT_URL_<SERVICE>`, else `AWS_ENDPOINT_URL`. */
function endpointsOf(env: Record<string, string>): {
  dynamodb: string | undefined;
  sqs: string | undefined;
  ssm: string | undefined;
} {
  return {
    dynamodb: env.AWS_ENDPOINT_URL_DYNAMODB ?? env.AWS_ENDPOINT_URL,
    sqs: env.AWS_ENDPOINT_URL_SQS ?? env.AWS_ENDPOINT_URL,
    ssm: env.AWS_ENDPOINT_URL_SSM ?? env.AWS_ENDPOINT_URL,
  };
}

function envTarget(env: Record<string, string>): StackTarget {
  const region = env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'ap-east-1';
  const clients = buildClients({
    region,
    endpoints: endpointsOf(env),
    credentials: staticCredentials(env),
  });
  return {
    kind: 'env',
    label: '环境变量指定的部署 / deployment named by environment variables',
    stage: undefined,
    region,
    local: undefined,
    runtimeEnv: env,
    ...clients,
    queueUrls: queueUrlsOf(env),
    receiveWaitSeconds: 0,
  };
}

function localTarget(io: CliIo, operatorEnv: Record<string, string>): StackTarget {
  const envFile = resolve(REPO_ROOT, operatorEnv.LOCAL_ENV_FILE ?? '.env');
  const withDotEnv = environmentWithDotEnv(io.env, envFile).env;
  const settings = readLocalSettings(withDotEnv, REPO_ROOT);
  const stateFile = join(settings.dataDir, STACK_STATE_FILE);
  if (!existsSync(stateFile)) {
    throw noStack(`本地运行时未运行（没有 ${stateFile}）/ the local stack is not running (no ${stateFile})`);
  }
  let parsed: z.output<typeof localStateSchema>;
  try {
    parsed = localStateSchema.parse(JSON.parse(readFileSync(stateFile, 'utf8')));
  } catch (error) {
    throw new CliError(
      `无法读取本地运行时的状态文件 ${stateFile} / cannot read the local stack's state file ${stateFile}: ${error instanceof Error ? error.message : String(error)}`,
      { kind: 'config', fault: 'ours', code: 'CLI_LOCAL_STATE_UNREADABLE', cause: error },
    );
  }
  if (!processAlive(parsed.pid)) {
    throw noStack(
      `本地运行时（进程 ${parsed.pid}）已停止 / the local stack (pid ${parsed.pid}) is no longer running`,
    );
  }
  const definition = readStackDefinition({
    path: settings.serverlessFile,
    stage: settings.stage,
    env: withDotEnv,
    sqsEndpoint: parsed.endpoints.sqs,
  });
  const runtimeEnv = withOverrides(wiringOf(definition), operatorEnv);
  const clients = buildClients({
    region: definition.region,
    endpoints: parsed.endpoints,
    credentials: { ...LOCAL_AWS_CREDENTIALS },
  });
  const { k3, fx } = parsed.mode;
  const mode =
    k3 === 'sandbox' && fx === 'sandbox'
      ? '沙箱模式 / sandbox mode'
      : k3 === 'real' && fx === 'real'
        ? '真实模式 / real mode'
        : `混合模式 / mixed mode (K3Cloud ${k3}, Fxiaoke ${fx})`;
  return {
    kind: 'local',
    label: `本地运行时 local stack — ${mode}, stage ${settings.stage}`,
    stage: settings.stage,
    region: definition.region,
    local: { mode: parsed.mode, ready: parsed.ready, pid: parsed.pid },
    runtimeEnv,
    ...clients,
    queueUrls: queueUrlsOf(runtimeEnv),
    receiveWaitSeconds: 0,
  };
}

async function awsTarget(
  stage: string,
  regionOption: string | undefined,
  operatorEnv: Record<string, string>,
  options: ResolveOptions,
): Promise<StackTarget> {
  // Queue URLs are looked up by name below; this placeholder origin only lets the reader resolve `Ref`s.
  const placeholder = 'https://sqs.placeholder.invalid';
  const definition = readStackDefinition({
    path: resolve(REPO_ROOT, 'serverless.yml'),
    stage,
    env: operatorEnv,
    sqsEndpoint: placeholder,
  });
  const region =
    regionOption ?? operatorEnv.AWS_REGION ?? operatorEnv.AWS_DEFAULT_REGION ?? definition.region;
  const wiring = wiringOf(definition);
  const clients = buildClients({
    region,
    endpoints: endpointsOf(operatorEnv),
    credentials: staticCredentials(operatorEnv),
  });
  try {
    for (const role of QUEUE_ROLES) {
      const name = QUEUE_ENV[role];
      const placeholderUrl = wiring[name];
      delete wiring[name];
      if (placeholderUrl === undefined || operatorEnv[name] !== undefined || options.queues === false)
        continue;
      const queueName = placeholderUrl.split('/').at(-1) ?? '';
      try {
        const out = await clients.sqs.send(new GetQueueUrlCommand({ QueueName: queueName }));
        if (out.QueueUrl) wiring[name] = out.QueueUrl;
      } catch (error) {
        const failure = sqsFailure(error, `GetQueueUrl ${queueName}`);
        throw new CliError(
          `找不到队列 ${queueName}：stage "${stage}" 是否已部署在 ${region}？/ queue ${queueName} not found: is stage "${stage}" deployed in ${region}? — ${failure.message}`,
          {
            kind: failure.kind,
            fault: failure.fault,
            code: failure.code,
            remoteMessages: failure.remoteMessages,
            cause: error,
          },
        );
      }
    }
  } catch (error) {
    clients.close();
    throw error;
  }
  const runtimeEnv = withOverrides(wiring, operatorEnv);
  return {
    kind: 'aws',
    label: `AWS stage ${stage} (${region}), CloudFormation stack ${definition.stackName}`,
    stage,
    region,
    local: undefined,
    runtimeEnv,
    ...clients,
    queueUrls: queueUrlsOf(runtimeEnv),
    // Short polls sample a subset of SQS servers; a short long-poll sees every visible message.
    receiveWaitSeconds: 2,
  };
}
