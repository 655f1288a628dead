/**
 * Reads `serverless.yml` into what the local runtime needs to run the same functions the cloud runs:
 * per function its handler module and export, environment, timeout, and its events (httpApi routes, SQS
 * triggers with batch settings, schedules); per queue its FIFO, visibility, retention and redrive settings;
 * per table its key schema. Everything comes from the file (and the files it includes), so local and cloud
 * cannot drift; a construct the runtime cannot honour stops start-up with its location.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { CreateTableCommandInput } from '@aws-sdk/client-dynamodb';
import { z } from 'zod';
import { ServerlessConfigError } from '../errors.ts';
import { parseScheduleExpression, type ScheduleExpression } from '../schedule-expression.ts';
import { applyQueueAttributes } from '../sqs/queue-attributes.ts';
import { DEFAULT_QUEUE_SETTINGS, type QueueSettings, queueNameFromArn } from '../sqs/queue-engine.ts';
import { SqsApiError } from '../sqs/sqs-errors.ts';
import { functionLogicalId, IntrinsicResolver, type ResourceDefinition } from './intrinsics.ts';
import { VariableResolver } from './variables.ts';
import { parseServerlessYaml } from './yaml.ts';

/** Serverless v3 defaults (provider.timeout / provider.memorySize). */
export const DEFAULT_TIMEOUT_SEC = 6;
export const DEFAULT_MEMORY_MB = 1_024;
/** Lambda's asynchronous invocation default: two retries after the first attempt. */
export const DEFAULT_ASYNC_RETRIES = 2;
/** Lambda's SQS event source default batch size. */
export const DEFAULT_SQS_BATCH_SIZE = 10;
export const LOCAL_ACCOUNT_ID = '000000000000';

export interface HttpRoute {
  /** Upper-case method, or `*` for any. */
  method: string;
  /** `/webhooks/fxiaoke`, `/items/{id}`, `/{proxy+}`, or `*` for the `$default` route. */
  path: string;
  /** API Gateway's route key, e.g. `POST /webhooks/fxiaoke` or `$default`. */
  routeKey: string;
}

export interface SqsTrigger {
  queueName: string;
  queueArn: string;
  batchSize: number;
  maximumBatchingWindowSec: number;
  reportBatchItemFailures: boolean;
  /** `maximumConcurrency` of the event source mapping (scaling config), when set. */
  maximumConcurrency: number | undefined;
  enabled: boolean;
}

export interface ScheduleTrigger {
  /** Location in serverless.yml, for logs. */
  id: string;
  expression: ScheduleExpression;
  enabled: boolean;
  /** `input`: the constant event EventBridge sends instead of the scheduled-event shape. */
  input: unknown;
}

export interface FunctionDefinition {
  /** The key under `functions:`. */
  key: string;
  /** The deployed name (`<service>-<stage>-<key>` unless `name:` is given). */
  name: string;
  /** `handler:` as written, e.g. `functions/fxiaoke-webhook.handler`. */
  handler: string;
  /** Absolute path of the handler module (`.ts`, `.mts`, `.js`, `.mjs` or `.cjs`). */
  modulePath: string;
  exportName: string;
  timeoutSec: number;
  memoryMb: number;
  /** provider.environment merged with the function's, every value resolved to a string. */
  environment: Record<string, string>;
  reservedConcurrency: number | undefined;
  /** Retries of asynchronous (scheduled) invocations after a failure. */
  maximumRetryAttempts: number;
  httpRoutes: HttpRoute[];
  sqsTriggers: SqsTrigger[];
  schedules: ScheduleTrigger[];
}

export interface QueueDefinition {
  logicalId: string;
  name: string;
  settings: QueueSettings;
}

export interface TableDefinition {
  logicalId: string;
  name: string;
  input: CreateTableCommandInput;
}

export interface StackDefinition {
  service: string;
  stage: string;
  region: string;
  accountId: string;
  stackName: string;
  /** Directory of serverless.yml: handler paths and the functions' working directory. */
  serviceDir: string;
  functions: FunctionDefinition[];
  queues: QueueDefinition[];
  tables: TableDefinition[];
}

export interface ReadStackOptions {
  /** Path of serverless.yml. */
  path: string;
  /** `${sls:stage}`; default: provider.stage, else `dev` (Serverless's default). */
  stage?: string;
  /** `${env:…}` source (the local environment with `.env` merged). */
  env: Readonly<Record<string, string | undefined>>;
  /** Origin of the local SQS service, for queue URLs (`Ref` of a queue). */
  sqsEndpoint: string;
}

const HANDLER_EXTENSIONS = ['.ts', '.mts', '.js', '.mjs', '.cjs'];
const SUPPORTED_EVENTS = ['httpApi', 'sqs', 'schedule'];
const HTTP_METHODS = new Set(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS', '*']);

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function invalid(location: string, problem: string): ServerlessConfigError {
  return new ServerlessConfigError(location, problem, 'LOCAL_SERVERLESS_INVALID');
}

function unsupported(location: string, problem: string): ServerlessConfigError {
  return new ServerlessConfigError(location, problem, 'LOCAL_SERVERLESS_UNSUPPORTED');
}

function objectAt(value: unknown, location: string): Record<string, unknown> {
  if (value === undefined || value === null) return {};
  if (!isPlainObject(value))
    throw invalid(location, `需要一个对象 / expected a mapping, got ${JSON.stringify(value)}`);
  return value;
}

function integerAt(value: unknown, location: string, min: number, max: number, fallback: number): number {
  if (value === undefined || value === null) return fallback;
  const n = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
    throw invalid(
      location,
      `需要 ${min}–${max} 的整数 / expected an integer from ${min} to ${max}, got ${JSON.stringify(value)}`,
    );
  }
  return n;
}

function booleanAt(value: unknown, location: string, fallback: boolean): boolean {
  if (value === undefined || value === null) return fallback;
  if (value === true || value === 'true') return true;
  if (value === false || value === 'false') return false;
  throw invalid(location, `需要 true 或 false / expected true or false, got ${JSON.stringify(value)}`);
}

/**
 * Read and resolve serverless.yml.
 *
 * @throws {ServerlessConfigError} `LOCAL_SERVERLESS_UNREADABLE` (file, YAML), `LOCAL_SERVERLESS_INVALID`
 *   (a reference to nothing, a bad value), `LOCAL_SERVERLESS_UNSUPPORTED` (a construct the local runtime
 *   cannot run) — each naming its location.
 */
export function readStackDefinition(options: ReadStackOptions): StackDefinition {
  const path = resolve(options.path);
  const serviceDir = dirname(path);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ServerlessConfigError(path, `无法读取 / cannot be read`, 'LOCAL_SERVERLESS_UNREADABLE', error);
  }
  const raw = parseServerlessYaml(text, path);
  if (!isPlainObject(raw)) throw invalid('(root)', '需要一个对象 / the file must be a mapping');
  const rawProvider = isPlainObject(raw.provider) ? raw.provider : {};

  // The stage and region may themselves be variables; resolve them first with a provisional context.
  const preliminary = new VariableResolver(raw, {
    serviceDir,
    stage: options.stage ?? 'dev',
    region: 'us-east-1',
    accountId: LOCAL_ACCOUNT_ID,
    env: options.env,
  });
  const stageValue =
    options.stage ??
    (rawProvider.stage === undefined ? 'dev' : preliminaryString(preliminary, 'provider.stage'));
  const stageResolver = new VariableResolver(raw, {
    serviceDir,
    stage: stageValue,
    region: 'us-east-1',
    accountId: LOCAL_ACCOUNT_ID,
    env: options.env,
    options: { stage: stageValue },
  });
  const region =
    rawProvider.region === undefined ? 'us-east-1' : preliminaryString(stageResolver, 'provider.region');
  const resolver = new VariableResolver(raw, {
    serviceDir,
    stage: stageValue,
    region,
    accountId: LOCAL_ACCOUNT_ID,
    env: options.env,
    options: { stage: stageValue },
  });
  const doc = objectAt(resolver.resolveDocument(), '(root)');

  const service = isPlainObject(doc.service) ? doc.service.name : doc.service;
  if (typeof service !== 'string' || service === '')
    throw invalid('service', '缺少服务名 / service name is required');
  const provider = objectAt(doc.provider, 'provider');
  if (provider.name !== undefined && provider.name !== 'aws') {
    throw unsupported(
      'provider.name',
      `只支持 aws / only provider aws is supported, got ${JSON.stringify(provider.name)}`,
    );
  }
  const httpApi = objectAt(provider.httpApi, 'provider.httpApi');
  if (httpApi.payload !== undefined && String(httpApi.payload) !== '2.0') {
    throw unsupported(
      'provider.httpApi.payload',
      `本地网关只支持 2.0 负载格式 / the local gateway speaks payload format 2.0 only, got ${String(httpApi.payload)}`,
    );
  }
  const stackName = typeof provider.stackName === 'string' ? provider.stackName : `${service}-${stageValue}`;

  const resources = collectResources(doc.resources);
  const functionsRaw = collectFunctions(doc.functions);
  const functionNames: Record<string, string> = {};
  for (const [key, fn] of Object.entries(functionsRaw)) {
    functionNames[functionLogicalId(key)] =
      typeof fn.name === 'string' ? fn.name : `${service}-${stageValue}-${key}`;
  }
  const intrinsics = new IntrinsicResolver({
    region,
    accountId: LOCAL_ACCOUNT_ID,
    stackName,
    sqsEndpoint: options.sqsEndpoint.replace(/\/+$/, ''),
    resources,
    functionNames,
  });

  const queues = readQueues(resources, intrinsics);
  const tables = readTables(resources, intrinsics);
  const providerEnv = readEnvironment(provider.environment, 'provider.environment', intrinsics);
  const defaults = {
    timeoutSec: integerAt(provider.timeout, 'provider.timeout', 1, 900, DEFAULT_TIMEOUT_SEC),
    memoryMb: integerAt(provider.memorySize, 'provider.memorySize', 128, 10_240, DEFAULT_MEMORY_MB),
    runtime: provider.runtime,
  };
  const functions = Object.entries(functionsRaw).map(([key, fn]) =>
    readFunction(key, fn, {
      service,
      stage: stageValue,
      serviceDir,
      providerEnv,
      defaults,
      intrinsics,
      queues,
      name: functionNames[functionLogicalId(key)] ?? key,
    }),
  );
  checkRouteConflicts(functions);
  return {
    service,
    stage: stageValue,
    region,
    accountId: LOCAL_ACCOUNT_ID,
    stackName,
    serviceDir,
    functions,
    queues,
    tables,
  };
}

function preliminaryString(resolver: VariableResolver, path: string): string {
  const doc = resolver.resolveDocument();
  let node: unknown = doc;
  for (const segment of path.split('.')) node = isPlainObject(node) ? node[segment] : undefined;
  if (typeof node !== 'string' || node === '')
    throw invalid(path, `需要文本 / expected a string, got ${JSON.stringify(node)}`);
  return node;
}

/** `resources` is a mapping with `Resources`, or a list of such fragments (merged, as Serverless does). */
function collectResources(value: unknown): Record<string, ResourceDefinition> {
  const fragments = Array.isArray(value) ? value : value === undefined || value === null ? [] : [value];
  const out: Record<string, ResourceDefinition> = {};
  fragments.forEach((fragment, index) => {
    const location = Array.isArray(value) ? `resources[${index}]` : 'resources';
    const block = objectAt(fragment, location);
    const resources = objectAt(block.Resources, `${location}.Resources`);
    for (const [logicalId, resource] of Object.entries(resources)) {
      if (!isPlainObject(resource) || typeof resource.Type !== 'string') {
        throw invalid(`${location}.Resources.${logicalId}`, '资源需要 Type / a resource needs a Type');
      }
      out[logicalId] = {
        Type: resource.Type,
        ...(isPlainObject(resource.Properties) ? { Properties: resource.Properties } : {}),
      };
    }
  });
  return out;
}

function collectFunctions(value: unknown): Record<string, Record<string, unknown>> {
  const fragments = Array.isArray(value) ? value : [value];
  const out: Record<string, Record<string, unknown>> = {};
  fragments.forEach((fragment, index) => {
    const location = Array.isArray(value) ? `functions[${index}]` : 'functions';
    for (const [key, fn] of Object.entries(objectAt(fragment, location))) {
      out[key] = objectAt(fn, `functions.${key}`);
    }
  });
  return out;
}

function readQueues(
  resources: Record<string, ResourceDefinition>,
  intrinsics: IntrinsicResolver,
): QueueDefinition[] {
  const queues: QueueDefinition[] = [];
  for (const [logicalId, resource] of Object.entries(resources)) {
    if (resource.Type !== 'AWS::SQS::Queue') continue;
    const location = `resources.${logicalId}.Properties`;
    const properties = objectAt(intrinsics.resolve(resource.Properties ?? {}, location), location);
    const name = intrinsics.queueName(logicalId, location);
    const { QueueName: _name, Tags: _tags, ...attributes } = properties;
    let settings: QueueSettings;
    try {
      settings = applyQueueAttributes(DEFAULT_QUEUE_SETTINGS, attributes);
    } catch (error) {
      if (error instanceof SqsApiError) throw invalid(location, error.message);
      throw error;
    }
    if (settings.fifo !== name.endsWith('.fifo')) {
      throw invalid(
        location,
        `FIFO 队列名必须以 .fifo 结尾（反之亦然）/ a FIFO queue's name must end in .fifo, and only a FIFO queue's: ${name}`,
      );
    }
    queues.push({ logicalId, name, settings });
  }
  const names = new Set(queues.map((q) => q.name));
  for (const queue of queues) {
    const target = queue.settings.redrivePolicy?.deadLetterTargetArn;
    const targetName = target === undefined ? undefined : queueNameFromArn(target);
    if (target !== undefined && (targetName === undefined || !names.has(targetName))) {
      throw invalid(
        `resources.${queue.logicalId}.Properties.RedrivePolicy`,
        `死信队列 ${target} 未在 serverless.yml 中定义 / the dead-letter queue ${target} is not defined in serverless.yml`,
      );
    }
  }
  return queues;
}

const keySchema = z
  .array(z.object({ AttributeName: z.string().min(1), KeyType: z.enum(['HASH', 'RANGE']) }))
  .min(1)
  .max(2);
const projection = z.object({
  ProjectionType: z.enum(['ALL', 'KEYS_ONLY', 'INCLUDE']),
  NonKeyAttributes: z.array(z.string()).optional(),
});
const tablePropertiesSchema = z.object({
  AttributeDefinitions: z.array(
    z.object({ AttributeName: z.string().min(1), AttributeType: z.enum(['S', 'N', 'B']) }),
  ),
  KeySchema: keySchema,
  BillingMode: z.enum(['PAY_PER_REQUEST', 'PROVISIONED']).optional(),
  GlobalSecondaryIndexes: z
    .array(z.object({ IndexName: z.string(), KeySchema: keySchema, Projection: projection }))
    .optional(),
  LocalSecondaryIndexes: z
    .array(z.object({ IndexName: z.string(), KeySchema: keySchema, Projection: projection }))
    .optional(),
});

/** Locally, provisioned capacity has no meaning; any value the engine accepts will do. */
const LOCAL_THROUGHPUT = { ReadCapacityUnits: 5, WriteCapacityUnits: 5 };

function readTables(
  resources: Record<string, ResourceDefinition>,
  intrinsics: IntrinsicResolver,
): TableDefinition[] {
  const tables: TableDefinition[] = [];
  for (const [logicalId, resource] of Object.entries(resources)) {
    if (resource.Type !== 'AWS::DynamoDB::Table') continue;
    const location = `resources.${logicalId}.Properties`;
    const parsed = tablePropertiesSchema.safeParse(intrinsics.resolve(resource.Properties ?? {}, location));
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw invalid(
        `${location}.${issue?.path.join('.') ?? ''}`,
        `表定义无效 / invalid table definition: ${issue?.message ?? ''}`,
      );
    }
    const p = parsed.data;
    const name = intrinsics.tableName(logicalId, location);
    const provisioned = p.BillingMode === 'PROVISIONED';
    const input: CreateTableCommandInput = {
      TableName: name,
      AttributeDefinitions: p.AttributeDefinitions,
      KeySchema: p.KeySchema,
      BillingMode: provisioned ? 'PROVISIONED' : 'PAY_PER_REQUEST',
      ...(provisioned ? { ProvisionedThroughput: LOCAL_THROUGHPUT } : {}),
      ...(p.GlobalSecondaryIndexes
        ? {
            GlobalSecondaryIndexes: p.GlobalSecondaryIndexes.map((gsi) =>
              provisioned ? { ...gsi, ProvisionedThroughput: LOCAL_THROUGHPUT } : gsi,
            ),
          }
        : {}),
      ...(p.LocalSecondaryIndexes ? { LocalSecondaryIndexes: p.LocalSecondaryIndexes } : {}),
    };
    tables.push({ logicalId, name, input });
  }
  return tables;
}

function readEnvironment(
  value: unknown,
  location: string,
  intrinsics: IntrinsicResolver,
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, raw] of Object.entries(objectAt(value, location))) {
    if (raw === null || raw === undefined) continue;
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) {
      throw invalid(`${location}.${key}`, '环境变量名无效 / not a valid environment variable name');
    }
    env[key] = intrinsics.string(raw, `${location}.${key}`);
  }
  return env;
}

interface FunctionContext {
  service: string;
  stage: string;
  serviceDir: string;
  providerEnv: Record<string, string>;
  defaults: { timeoutSec: number; memoryMb: number; runtime: unknown };
  intrinsics: IntrinsicResolver;
  queues: QueueDefinition[];
  name: string;
}

function readFunction(key: string, fn: Record<string, unknown>, ctx: FunctionContext): FunctionDefinition {
  const at = `functions.${key}`;
  if (fn.image !== undefined)
    throw unsupported(
      `${at}.image`,
      '本地运行时不支持容器镜像函数 / container-image functions cannot run locally',
    );
  const runtime = fn.runtime ?? ctx.defaults.runtime;
  if (runtime !== undefined && (typeof runtime !== 'string' || !runtime.startsWith('nodejs'))) {
    throw unsupported(
      `${at}.runtime`,
      `本地运行时只运行 Node.js 函数 / only Node.js functions run locally, got ${JSON.stringify(runtime)}`,
    );
  }
  const handler = fn.handler;
  if (typeof handler !== 'string' || !/^[^.]+(\.[^.]+)*\.[A-Za-z_$][\w$]*$/.test(handler)) {
    throw invalid(
      `${at}.handler`,
      `需要 "<模块路径>.<导出名>" / expected "<module path>.<export>", got ${JSON.stringify(handler)}`,
    );
  }
  const dot = handler.lastIndexOf('.');
  const moduleBase = resolve(ctx.serviceDir, handler.slice(0, dot));
  const modulePath = HANDLER_EXTENSIONS.map((ext) => `${moduleBase}${ext}`).find((candidate) =>
    existsSync(candidate),
  );
  if (!modulePath) {
    throw invalid(
      `${at}.handler`,
      `找不到处理函数模块 / handler module not found: tried ${HANDLER_EXTENSIONS.map((ext) => `${handler.slice(0, dot)}${ext}`).join(', ')}`,
    );
  }
  const environment = {
    ...ctx.providerEnv,
    ...readEnvironment(fn.environment, `${at}.environment`, ctx.intrinsics),
  };
  const events = Array.isArray(fn.events) ? fn.events : fn.events === undefined ? [] : undefined;
  if (!events) throw invalid(`${at}.events`, '需要一个列表 / expected a list');
  const definition: FunctionDefinition = {
    key,
    name: ctx.name,
    handler,
    modulePath,
    exportName: handler.slice(dot + 1),
    timeoutSec: integerAt(fn.timeout, `${at}.timeout`, 1, 900, ctx.defaults.timeoutSec),
    memoryMb: integerAt(fn.memorySize, `${at}.memorySize`, 128, 10_240, ctx.defaults.memoryMb),
    environment,
    reservedConcurrency:
      fn.reservedConcurrency === undefined
        ? undefined
        : integerAt(fn.reservedConcurrency, `${at}.reservedConcurrency`, 0, 10_000, 0),
    maximumRetryAttempts: integerAt(
      fn.maximumRetryAttempts,
      `${at}.maximumRetryAttempts`,
      0,
      2,
      DEFAULT_ASYNC_RETRIES,
    ),
    httpRoutes: [],
    sqsTriggers: [],
    schedules: [],
  };
  events.forEach((event: unknown, index: number) => {
    const location = `${at}.events[${index}]`;
    const entry = objectAt(event, location);
    const [type, ...others] = Object.keys(entry);
    if (type === undefined || others.length > 0)
      throw invalid(location, '每个事件只能有一种类型 / each event must have exactly one type');
    if (!SUPPORTED_EVENTS.includes(type)) {
      throw unsupported(
        `${location}.${type}`,
        `本地运行时不支持 "${type}" 事件（支持 ${SUPPORTED_EVENTS.join('、')}）/ "${type}" events cannot run locally (supported: ${SUPPORTED_EVENTS.join(', ')})`,
      );
    }
    const value = entry[type];
    if (type === 'httpApi') definition.httpRoutes.push(readHttpRoute(value, `${location}.httpApi`));
    else if (type === 'sqs') definition.sqsTriggers.push(readSqsTrigger(value, `${location}.sqs`, ctx));
    else definition.schedules.push(...readSchedules(value, `${location}.schedule`));
  });
  return definition;
}

function readHttpRoute(value: unknown, location: string): HttpRoute {
  let method: string;
  let path: string;
  if (typeof value === 'string') {
    if (value.trim() === '*') return { method: '*', path: '*', routeKey: '$default' };
    const [m = '', p = '', ...rest] = value.trim().split(/\s+/);
    if (rest.length > 0 || p === '')
      throw invalid(
        location,
        `需要 "METHOD /path" / expected "METHOD /path" or "*", got ${JSON.stringify(value)}`,
      );
    method = m;
    path = p;
  } else {
    const spec = objectAt(value, location);
    if (spec.authorizer !== undefined) {
      throw unsupported(
        `${location}.authorizer`,
        '本地网关不模拟授权器 / authorizers are not emulated by the local gateway',
      );
    }
    method = typeof spec.method === 'string' ? spec.method : '*';
    path = typeof spec.path === 'string' ? spec.path : '';
    if (path === '*') return { method: '*', path: '*', routeKey: '$default' };
  }
  method = method === '*' || method.toUpperCase() === 'ANY' ? '*' : method.toUpperCase();
  if (!HTTP_METHODS.has(method)) throw invalid(location, `未知的 HTTP 方法 / unknown HTTP method ${method}`);
  if (!path.startsWith('/'))
    throw invalid(location, `路径必须以 / 开头 / the path must start with "/": ${path}`);
  if (/\{[^}]*\+\}./.test(path))
    throw invalid(location, `贪婪参数只能在末尾 / a greedy {param+} must be last: ${path}`);
  return { method, path, routeKey: `${method === '*' ? 'ANY' : method} ${path}` };
}

function readSqsTrigger(value: unknown, location: string, ctx: FunctionContext): SqsTrigger {
  const spec = typeof value === 'string' ? { arn: value } : objectAt(value, location);
  if (spec.filterPatterns !== undefined) {
    throw unsupported(
      `${location}.filterPatterns`,
      '本地运行时不支持事件过滤 / event filtering is not supported locally',
    );
  }
  const arn = ctx.intrinsics.string(spec.arn, `${location}.arn`);
  const queueName = queueNameFromArn(arn);
  const queue = ctx.queues.find((q) => q.name === queueName);
  if (!queue || queueName === undefined) {
    throw invalid(
      `${location}.arn`,
      `队列 ${arn} 未在 serverless.yml 的 resources 中定义 / queue ${arn} is not defined in this serverless.yml's resources`,
    );
  }
  const maxBatch = queue.settings.fifo ? 10 : 10_000;
  const batchSize = integerAt(spec.batchSize, `${location}.batchSize`, 1, maxBatch, DEFAULT_SQS_BATCH_SIZE);
  const window = integerAt(spec.maximumBatchingWindow, `${location}.maximumBatchingWindow`, 0, 300, 0);
  if (batchSize > 10 && window === 0) {
    // Lambda's rule for standard queues: above 10 messages a batching window of at least 1 s is required.
    throw invalid(
      `${location}.batchSize`,
      'batchSize 大于 10 时需要 maximumBatchingWindow ≥ 1 / batchSize above 10 needs maximumBatchingWindow ≥ 1',
    );
  }
  const responseType = spec.functionResponseType;
  if (responseType !== undefined && responseType !== 'ReportBatchItemFailures') {
    throw invalid(
      `${location}.functionResponseType`,
      `只能是 ReportBatchItemFailures / must be ReportBatchItemFailures, got ${JSON.stringify(responseType)}`,
    );
  }
  return {
    queueName,
    queueArn: arn,
    batchSize,
    maximumBatchingWindowSec: window,
    reportBatchItemFailures: responseType === 'ReportBatchItemFailures',
    maximumConcurrency:
      spec.maximumConcurrency === undefined
        ? undefined
        : integerAt(spec.maximumConcurrency, `${location}.maximumConcurrency`, 2, 1_000, 2),
    enabled: booleanAt(spec.enabled, `${location}.enabled`, true),
  };
}

function readSchedules(value: unknown, location: string): ScheduleTrigger[] {
  const spec = typeof value === 'string' ? { rate: value } : objectAt(value, location);
  for (const key of ['inputPath', 'inputTransformer']) {
    if (spec[key] !== undefined)
      throw unsupported(
        `${location}.${key}`,
        `本地调度器不支持 ${key} / ${key} is not supported by the local scheduler`,
      );
  }
  if (spec.timezone !== undefined && spec.timezone !== 'UTC') {
    throw unsupported(
      `${location}.timezone`,
      `本地调度器按 UTC 计算 / the local scheduler evaluates in UTC only, got ${JSON.stringify(spec.timezone)}`,
    );
  }
  const rates = Array.isArray(spec.rate) ? spec.rate : [spec.rate];
  const enabled = booleanAt(spec.enabled, `${location}.enabled`, true);
  let input: unknown;
  if (spec.input !== undefined) {
    if (typeof spec.input === 'string') {
      try {
        input = JSON.parse(spec.input);
      } catch {
        throw invalid(`${location}.input`, 'input 字符串必须是 JSON / an input string must be JSON');
      }
    } else input = spec.input;
  }
  return rates.map((rate, index) => {
    const at = Array.isArray(spec.rate) ? `${location}.rate[${index}]` : `${location}.rate`;
    if (typeof rate !== 'string')
      throw invalid(at, `需要 rate(...) 或 cron(...) / expected rate(...) or cron(...)`);
    return { id: at, expression: parseScheduleExpression(rate, at), enabled, input };
  });
}

/** Two functions on the same route would be a deployment error in API Gateway; say so now. */
function checkRouteConflicts(functions: readonly FunctionDefinition[]): void {
  const seen = new Map<string, string>();
  for (const fn of functions) {
    for (const route of fn.httpRoutes) {
      const other = seen.get(route.routeKey);
      if (other !== undefined) {
        throw invalid(
          `functions.${fn.key}.events`,
          `路由 ${route.routeKey} 已被 ${other} 使用 / route ${route.routeKey} is already used by ${other}`,
        );
      }
      seen.set(route.routeKey, fn.key);
    }
  }
}
