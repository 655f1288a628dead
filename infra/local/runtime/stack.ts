/**
 * The local stack: every function of serverless.yml running on one machine, with local stand-ins for the
 * AWS services they use and, in sandbox mode, the emulators of both vendors.
 *
 * Start-up (primary course):
 * 1. decide the mode (sandbox / real per system) and check the real systems' settings — one line per problem;
 * 2. open the queue store and its SQS endpoint, the embedded DynamoDB (both under the data directory) and
 *    the SSM endpoint;
 * 3. read serverless.yml (queue URLs point at the local SQS endpoint) and create its queues and tables;
 * 4. in sandbox mode, start the K3Cloud and Fxiaoke emulators, each on a thread of its own, with their data
 *    under the data directory;
 * 5. hand the sync's settings to the functions (through SSM under their prefix, as in AWS);
 * 6. start one execution environment per function and load every handler (init errors show now);
 * 7. open the HTTP gateway, start the SQS pollers and the scheduler, point the Fxiaoke emulator's change
 *    pushes at the webhook.
 *
 * Shutdown reverses it: stop accepting webhooks, stop polling and scheduling, let running invocations finish
 * within the grace period (the messages of those that do not are returned to their queues), close the
 * functions, the emulators (their data is flushed), the queue store (snapshot written) and DynamoDB.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Env } from '../../../lib/env.ts';
import { readFxiaokeConfig } from '../../../lib/fxiaoke/config.ts';
import { readK3CloudConfig } from '../../../lib/k3cloud/config.ts';
import { type Logger, silentLogger } from '../../../lib/log.ts';
import { identityOf } from '../k3cloud-emulator/api.ts';
import { type RuntimeClock, systemClock } from './clock.ts';
import { controlHandler } from './control.ts';
import {
  createStackTables,
  type EmbeddedDynamo,
  LOCAL_AWS_CREDENTIALS,
  startEmbeddedDynamo,
} from './embedded-dynamodb.ts';
import { startEmulatorThread, type ThreadEmulator } from './emulator-host.ts';
import { LocalRuntimeError } from './errors.ts';
import { type FakeSsm, startFakeSsm } from './fake-ssm.ts';
import {
  checkRealSettings,
  detectMode,
  functionSettings,
  SECRET_SETTING,
  type StackMode,
} from './function-settings.ts';
import { type HttpGateway, startHttpGateway } from './http-gateway.ts';
import { bundleDir, bundleFunctions, type FunctionBundles } from './lambda/bundle.ts';
import { createInvoker, type FunctionInvoker } from './lambda/invoker.ts';
import type { LocalSettings } from './local-settings.ts';
import { type ScheduleRunReport, Scheduler } from './scheduler.ts';
import {
  type FunctionDefinition,
  readStackDefinition,
  type StackDefinition,
} from './serverless/stack-definition.ts';
import { QueueEngine } from './sqs/queue-engine.ts';
import { type SqsServer, startSqsServer } from './sqs/sqs-server.ts';
import { type BatchReport, SqsEventSource } from './sqs-event-source.ts';

/** Where the Fxiaoke emulator's change pushes go (the webhook route of serverless.yml). */
export const WEBHOOK_PATH = '/webhooks/fxiaoke';
/** Written while the stack runs, for `npm run demo:*` and other tools. */
export const STACK_STATE_FILE = 'local-stack.json';

export interface LocalStackOptions {
  settings: LocalSettings;
  /** The environment with `.env` merged (process values win). */
  env: Env;
  logger?: Logger;
  clock?: RuntimeClock;
  /** Observers for tests and the benchmark. */
  onBatch?: (report: BatchReport) => void;
  onScheduleRun?: (report: ScheduleRunReport) => void;
}

export interface LocalStackEndpoints {
  gateway: string;
  webhook: string;
  sqs: string;
  dynamodb: string;
  ssm: string;
  k3cloud: string;
  fxiaoke: string;
  /** The Fxiaoke emulator's edit page, in sandbox mode. */
  fxiaokeEditPage: string | undefined;
}

export interface LocalStack {
  readonly mode: StackMode;
  readonly definition: StackDefinition;
  readonly endpoints: LocalStackEndpoints;
  readonly queues: QueueEngine;
  readonly scheduler: Scheduler;
  readonly invokers: ReadonlyMap<string, FunctionInvoker>;
  /** Functions whose handler failed to load (they answer with the init error until fixed). */
  readonly initErrors: ReadonlyMap<string, string>;
  /** Resolves when every handler has been loaded (or failed to load: see `initErrors`). */
  readonly ready: Promise<void>;
  readonly isReady: boolean;
  /** The SSM prefix the settings were written under, if any function reads SSM. */
  readonly ssmPrefixes: readonly string[];
  readonly configPath: string | undefined;
  readonly k3Emulator: ThreadEmulator | undefined;
  readonly fxEmulator: ThreadEmulator | undefined;
  /** Requests the embedded DynamoDB served since start, by operation. */
  dynamoOperations(): Record<string, number>;
  /** Stop everything (idempotent); resolves when data is on disk. */
  stop(reason?: string): Promise<void>;
}

type Closer = { name: string; close: () => Promise<void> | void };

/**
 * Start the stack.
 *
 * @throws {ConfigError} for missing or inconsistent settings (every problem listed);
 *   {@link LocalRuntimeError} / ServerlessConfigError for a serverless.yml the runtime cannot run, damaged
 *   queue files, a busy port — with everything started so far closed again.
 */
export async function startLocalStack(options: LocalStackOptions): Promise<LocalStack> {
  const { settings, env } = options;
  const logger = options.logger ?? silentLogger;
  const clock = options.clock ?? systemClock;
  const closers: Closer[] = [];
  const closeAll = async (): Promise<void> => {
    for (const closer of closers.splice(0).reverse()) {
      try {
        await closer.close();
      } catch (error) {
        logger.error('local.stack.close_failed', { component: closer.name, error });
      }
    }
  };

  try {
    // 1. Mode and the real systems' settings.
    const mode = detectMode(env);
    checkRealSettings(env, mode);
    mkdirSync(settings.dataDir, { recursive: true });
    refuseSharedDataDir(settings.dataDir);

    // 2. AWS stand-ins.
    const queues = new QueueEngine({ clock, dataDir: join(settings.dataDir, 'sqs'), logger });
    closers.push({ name: 'queue store', close: () => queues.close() });
    const sqs: SqsServer = await startSqsServer({
      engine: queues,
      host: '127.0.0.1',
      port: settings.sqsPort,
      logger,
    });
    closers.push({ name: 'sqs endpoint', close: () => sqs.close() });

    // 3. serverless.yml, queues, tables.
    const definition = readStackDefinition({
      path: settings.serverlessFile,
      stage: settings.stage,
      env,
      sqsEndpoint: sqs.url,
    });
    const dynamo: EmbeddedDynamo = await startEmbeddedDynamo({
      dataDir: join(settings.dataDir, 'dynamodb'),
      port: settings.dynamoPort,
      region: definition.region,
      // The HTTP-triggered functions (the webhook) answer a caller who waits: their requests go first.
      priorityApps: definition.functions.filter((fn) => fn.httpRoutes.length > 0).map(sdkAppId),
      backgroundConcurrency: settings.priorities.dynamoBackgroundConcurrency,
      busyBackgroundConcurrency: settings.priorities.dynamoBusyBackgroundConcurrency,
    });
    closers.push({ name: 'dynamodb', close: () => dynamo.close() });
    const ssm: FakeSsm = await startFakeSsm({
      port: settings.ssmPort,
      region: definition.region,
      accountId: definition.accountId,
      logger,
    });
    closers.push({ name: 'ssm endpoint', close: () => ssm.close() });
    createQueues(queues, definition, logger);
    await createStackTables(dynamo.client, definition, logger);

    // 4. Emulators (sandbox).
    // Each on a thread of its own: they stand in for other machines (see emulator-thread.ts).
    // Started side by side (each loads its own modules); one that failed is reported once both settled.
    const startEmulator = async (
      name: string,
      spec: Parameters<typeof startEmulatorThread>[0],
      component: string,
    ): Promise<ThreadEmulator> => {
      const started = await startEmulatorThread(spec, logger.child({ component }));
      closers.push({ name, close: () => started.close() });
      return started;
    };
    const k3Starting = (async () => {
      if (mode.k3 !== 'sandbox') return undefined;
      const k3 = readK3CloudConfig(env, { sandbox: true });
      return startEmulator(
        'k3cloud emulator',
        {
          kind: 'k3cloud',
          options: {
            port: settings.k3EmulatorPort,
            dataDir: join(settings.dataDir, 'k3cloud-emulator'),
            identity: identityOf(k3),
            loginSignAlgorithms: [k3.loginSignAlgorithm],
            latencyMs: settings.emulators.k3LatencyMs,
            controlEnabled: true,
          },
        },
        'k3cloud-emulator',
      );
    })();
    const fxStarting = (async () => {
      if (mode.fx !== 'sandbox') return undefined;
      const fx = readFxiaokeConfig(env, { sandbox: true });
      return startEmulator(
        'fxiaoke emulator',
        {
          kind: 'fxiaoke',
          options: {
            port: settings.fxEmulatorPort,
            dataDir: join(settings.dataDir, 'fxiaoke-emulator'),
            identity: {
              appId: fx.appId,
              appSecret: fx.appSecret,
              permanentCode: fx.permanentCode,
              openUserId: fx.openUserId,
              aesKey: fx.aesKey,
              enterpriseAccount: fx.enterpriseAccount,
            },
            latencyMs: settings.emulators.fxLatencyMs,
            rateLimit: settings.emulators.fxRateLimit,
            ...(settings.emulators.fxPushRetryDelaysMs
              ? { pushRetryDelaysMs: settings.emulators.fxPushRetryDelaysMs }
              : {}),
            ...(settings.emulators.fxPushConcurrency
              ? { pushConcurrency: settings.emulators.fxPushConcurrency }
              : {}),
            controlEnabled: true,
          },
        },
        'fxiaoke-emulator',
      );
    })();
    const [k3Started, fxStarted] = await Promise.allSettled([k3Starting, fxStarting]);
    if (k3Started.status === 'rejected') throw k3Started.reason;
    if (fxStarted.status === 'rejected') throw fxStarted.reason;
    const k3Emulator = k3Started.value;
    const fxEmulator = fxStarted.value;

    // 5. Settings for the functions.
    const declaredConfigPath = definition.functions.find((f) => f.environment.SYNC_CONFIG_PATH)?.environment
      .SYNC_CONFIG_PATH;
    const fnSettings = functionSettings({
      env,
      mode,
      k3EmulatorUrl: k3Emulator?.url,
      fxEmulatorUrl: fxEmulator?.url,
      serviceDir: definition.serviceDir,
      declaredConfigPath,
    });
    const ssmPrefixes = new Set<string>();
    for (const fn of definition.functions) {
      const prefix = fn.environment.SSM_PARAMETER_PREFIX;
      if (!prefix || ssmPrefixes.has(prefix)) continue;
      ssmPrefixes.add(prefix);
      const base = prefix.endsWith('/') ? prefix : `${prefix}/`;
      for (const [name, value] of Object.entries(fnSettings.values)) {
        ssm.put({
          name: `${base}${name}`,
          value,
          type: SECRET_SETTING.test(name) ? 'SecureString' : 'String',
        });
      }
    }

    // 6. Execution environments: the functions bundled once (as `npm run package` bundles them), so each
    //    worker thread loads plain JavaScript; if the build fails, the sources load through the TypeScript
    //    loader instead and the problem shows as that function's init error.
    const endpointsForFunctions = { sqs: sqs.url, dynamodb: dynamo.endpoint, ssm: ssm.url };
    let bundles: FunctionBundles | undefined;
    if (settings.isolation === 'worker') {
      try {
        bundles = await bundleFunctions(
          definition.functions.map((fn) => fn.modulePath),
          bundleDir(settings.dataDir),
        );
        const built = bundles;
        closers.push({ name: 'function bundles', close: () => built.remove() });
        logger.info('local.functions.bundled', {
          functions: definition.functions.length,
          ms: Math.round(bundles.buildMs),
        });
      } catch (error) {
        logger.warn('local.functions.bundle_failed', { error });
      }
    }
    const invokers = new Map<string, FunctionInvoker>();
    for (const fn of definition.functions) {
      const fnEnv = functionEnvironment(fn, definition, endpointsForFunctions, fnSettings.values, env);
      if (settings.isolation === 'inline') Object.assign(process.env, fnEnv);
      invokers.set(
        fn.key,
        createInvoker({
          fn: {
            name: fn.name,
            modulePath: fn.modulePath,
            exportName: fn.exportName,
            memoryMb: fn.memoryMb,
            timeoutSec: fn.timeoutSec,
          },
          env: fnEnv,
          region: definition.region,
          accountId: definition.accountId,
          isolation: settings.isolation,
          logger,
          // Queue consumers and scheduled flows yield the CPU to the gateway, the webhook and the DynamoDB
          // thread (see LocalSettings.priorities).
          nice: fn.httpRoutes.length > 0 ? 0 : settings.priorities.backgroundNice,
          bundle: bundles && {
            workerEntry: bundles.workerEntry,
            modulePath: bundles.modules.get(fn.modulePath) ?? fn.modulePath,
          },
        }),
      );
    }
    closers.push({
      name: 'functions',
      close: async () => void (await Promise.all([...invokers.values()].map((i) => i.close()))),
    });
    // Handlers load in the background (about a second each, like a cold start): the stack answers at once,
    // an invocation that arrives first simply waits for its function, and `ready` says when all are loaded.
    const initErrors = new Map<string, string>();
    const warmStarted = performance.now();
    let stopped = false;
    const ready = Promise.all(
      [...invokers.entries()].map(async ([key, invoker]) => {
        const error = await invoker.warm();
        // A stop during loading ends the containers; that is no load failure.
        if (error && !stopped) {
          initErrors.set(key, `${error.errorType}: ${error.errorMessage}`);
          logger.error('local.function.init_failed', { function: key, error });
        }
      }),
    ).then(() => {
      logger.info('local.stack.ready', {
        functions: invokers.size,
        initFailed: [...initErrors.keys()],
        ms: Math.round(performance.now() - warmStarted),
      });
    });

    // 7. Event sources: gateway, pollers, scheduler.
    const sources: SqsEventSource[] = [];
    for (const fn of definition.functions) {
      const invoker = invokers.get(fn.key);
      if (!invoker) continue;
      for (const trigger of fn.sqsTriggers) {
        sources.push(
          new SqsEventSource({
            engine: queues,
            invoker,
            trigger,
            region: definition.region,
            defaultConcurrency: settings.defaultSqsConcurrency,
            reservedConcurrency: fn.reservedConcurrency,
            maxConcurrency: settings.maxSqsConcurrency,
            logger,
            ...(options.onBatch ? { onBatch: options.onBatch } : {}),
          }),
        );
      }
    }
    const scheduler = new Scheduler({
      functions: definition.functions
        .filter((fn) => fn.schedules.length > 0)
        .flatMap((fn) => {
          const invoker = invokers.get(fn.key);
          return invoker
            ? [{ invoker, schedules: fn.schedules, maximumRetryAttempts: fn.maximumRetryAttempts }]
            : [];
        }),
      clock,
      region: definition.region,
      accountId: definition.accountId,
      logger,
      ...(options.onScheduleRun ? { onRun: options.onScheduleRun } : {}),
    });

    let stack: LocalStack | undefined;
    const gateway: HttpGateway = await startHttpGateway({
      routes: definition.functions.flatMap((fn) => {
        const invoker = invokers.get(fn.key);
        return invoker ? fn.httpRoutes.map((route) => ({ route, invoker })) : [];
      }),
      host: settings.host,
      port: settings.port,
      region: definition.region,
      accountId: definition.accountId,
      logger,
      ...(settings.control ? { extra: controlHandler(() => stack) } : {}),
    });
    closers.push({ name: 'gateway', close: () => gateway.close(0) });
    for (const source of sources) source.start();
    if (settings.schedules) scheduler.start();

    const hasWebhookRoute = definition.functions.some((fn) =>
      fn.httpRoutes.some((r) => r.path === WEBHOOK_PATH),
    );
    const webhook = `${gateway.url}${WEBHOOK_PATH}`;
    if (fxEmulator) {
      if (hasWebhookRoute) fxEmulator.setCallbackUrls([webhook]);
      else logger.warn('local.stack.no_webhook_route', { expected: `POST ${WEBHOOK_PATH}` });
    }

    const endpoints: LocalStackEndpoints = {
      gateway: gateway.url,
      webhook,
      sqs: sqs.url,
      dynamodb: dynamo.endpoint,
      ssm: ssm.url,
      k3cloud: k3Emulator?.url ?? fnSettings.values.K3CLOUD_SERVER_URL ?? '',
      fxiaoke: fxEmulator?.url ?? fnSettings.values.FXIAOKE_BASE_URL ?? '',
      fxiaokeEditPage: fxEmulator ? `${fxEmulator.url}/` : undefined,
    };
    const stateFile = join(settings.dataDir, STACK_STATE_FILE);
    const writeState = (isReady: boolean): void =>
      writeFileSync(
        stateFile,
        `${JSON.stringify({ pid: process.pid, mode, ready: isReady, endpoints, startedAt: new Date().toISOString() }, null, 2)}\n`,
      );
    writeState(false);
    let isReady = false;
    void ready.then(() => {
      isReady = true;
      if (!stopped) writeState(true);
    });

    let stopping: Promise<void> | undefined;
    const stop = (reason = 'stop'): Promise<void> => {
      stopping ??= (async () => {
        const graceMs = settings.shutdownGraceMs;
        stopped = true;
        logger.info('local.stack.stopping', { reason, graceMs });
        // a. No new webhooks; b. no new polls or runs; running batches get the grace period.
        gateway.stopAccepting();
        const [returned] = await Promise.all([
          Promise.all(sources.map((source) => source.stop(graceMs))),
          scheduler.stop(graceMs),
          gateway.close(graceMs),
        ]);
        const messagesReturned = returned.reduce((sum, r) => sum + r.returned, 0);
        rmSync(stateFile, { force: true });
        // c. Functions, emulators, queues (snapshot), SSM, DynamoDB — in reverse order of start.
        await closeAll();
        logger.info('local.stack.stopped', { reason, messagesReturned });
      })();
      return stopping;
    };

    stack = {
      mode,
      definition,
      endpoints,
      queues,
      scheduler,
      invokers,
      initErrors,
      ready,
      get isReady() {
        return isReady;
      },
      ssmPrefixes: [...ssmPrefixes],
      configPath: fnSettings.configPath,
      k3Emulator,
      fxEmulator,
      dynamoOperations: () => dynamo.operations(),
      stop,
    };
    logger.info('local.stack.started', {
      mode,
      functions: definition.functions.map((f) => f.key),
      queues: definition.queues.map((q) => q.name),
      endpoints,
    });
    return stack;
  } catch (error) {
    await closeAll();
    throw error;
  }
}

/**
 * One stack per data directory: a second one would corrupt the queue journal and find DynamoDB's store
 * locked. A state file left by a crashed run (its process is gone) is ignored.
 *
 * @throws {LocalRuntimeError} naming the other process.
 */
function refuseSharedDataDir(dataDir: string): void {
  const file = join(dataDir, STACK_STATE_FILE);
  let pid: unknown;
  try {
    pid = JSON.parse(readFileSync(file, 'utf8')).pid;
  } catch {
    return;
  }
  if (typeof pid !== 'number' || pid === process.pid) return;
  try {
    process.kill(pid, 0);
  } catch {
    return;
  }
  throw new LocalRuntimeError(
    `另一个本地运行时（进程 ${pid}）正在使用数据目录 ${dataDir}；请先停止它，或用 LOCAL_DATA_DIR 指定另一个目录 / another local stack (pid ${pid}) is using ${dataDir}; stop it first or set LOCAL_DATA_DIR to another directory`,
    'LOCAL_SETTINGS_INVALID',
  );
}

/** Create serverless.yml's queues; a queue kept from an earlier run takes the file's current settings. */
function createQueues(engine: QueueEngine, definition: StackDefinition, logger: Logger): void {
  // Dead-letter queues first: a redrive policy may only point at an existing queue.
  const ordered = [...definition.queues].sort(
    (a, b) => Number(a.settings.redrivePolicy !== undefined) - Number(b.settings.redrivePolicy !== undefined),
  );
  for (const queue of ordered) {
    if (!engine.hasQueue(queue.name)) {
      engine.createQueue(queue.name, queue.settings);
      continue;
    }
    const current = engine.queueInfo(queue.name).settings;
    if (current.fifo !== queue.settings.fifo) {
      throw new LocalRuntimeError(
        `队列 ${queue.name} 的 FIFO 设置变了；请删除数据目录中的 sqs/ 后重启 / queue ${queue.name} changed between FIFO and standard; delete sqs/ in the data directory and restart`,
        'LOCAL_SERVERLESS_INVALID',
      );
    }
    if (JSON.stringify(current) !== JSON.stringify(queue.settings)) {
      engine.updateQueue(queue.name, queue.settings);
      logger.info('local.sqs.queue_updated', { queue: queue.name });
    }
  }
}

/**
 * The environment one function's execution environment gets: what serverless.yml declares, what the Lambda
 * runtime sets, the local endpoints, and — only for a function that does not read SSM — the settings.
 */
/** The function's AWS SDK app id (at most 50 characters, the SDK's limit): its serverless.yml key. */
function sdkAppId(fn: FunctionDefinition): string {
  return fn.key.slice(0, 50);
}

export function functionEnvironment(
  fn: FunctionDefinition,
  definition: StackDefinition,
  endpoints: { sqs: string; dynamodb: string; ssm: string },
  settings: Readonly<Record<string, string>>,
  hostEnv: Env,
): Record<string, string> {
  const passThrough: Record<string, string> = {};
  // Host variables a function may legitimately need on this machine (proxies, CA bundle, temp dir).
  for (const name of [
    'PATH',
    'LANG',
    'TMPDIR',
    'TMP',
    'TEMP',
    'NODE_EXTRA_CA_CERTS',
    'HTTPS_PROXY',
    'HTTP_PROXY',
    'NO_PROXY',
  ]) {
    const value = hostEnv[name];
    if (value) passThrough[name] = value;
  }
  const logLevel = hostEnv.LOG_LEVEL;
  return {
    ...passThrough,
    ...fn.environment,
    ...(fn.environment.SSM_PARAMETER_PREFIX ? {} : settings),
    ...(logLevel ? { LOG_LEVEL: logLevel } : {}),
    AWS_REGION: definition.region,
    AWS_DEFAULT_REGION: definition.region,
    AWS_ACCESS_KEY_ID: LOCAL_AWS_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_AWS_CREDENTIALS.secretAccessKey,
    AWS_ENDPOINT_URL_SQS: endpoints.sqs,
    AWS_ENDPOINT_URL_DYNAMODB: endpoints.dynamodb,
    AWS_ENDPOINT_URL_SSM: endpoints.ssm,
    AWS_LAMBDA_FUNCTION_NAME: fn.name,
    // Names the function in its AWS SDK user agent (`app/<key>`): the embedded DynamoDB serves by it.
    AWS_SDK_UA_APP_ID: sdkAppId(fn),
    AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(fn.memoryMb),
    AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${fn.name}`,
    AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x',
    LAMBDA_TASK_ROOT: definition.serviceDir,
  };
}
