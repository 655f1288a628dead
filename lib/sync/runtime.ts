/**
 * Everything a sync function needs, built once per container (Lambda) or process (local stack) and reused by
 * every invocation: settings (environment + SSM), the mapping config, the DynamoDB state stores, the queue
 * facade, and — lazily, because the webhook never needs them — the K3Cloud and Fxiaoke clients and the
 * coalescing CRM reader.
 *
 * Clients are never built per invocation. When the SSM values change (a rotated secret), the next
 * invocation gets a runtime built from the new values; the previous clients are closed a little later, so
 * calls still in flight in the local stack (which runs many invocations in one process) can finish.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { SSMClient } from '@aws-sdk/client-ssm';
import { type Clock, systemClock } from '../credentials.ts';
import type { Env } from '../env.ts';
import { ConfigError } from '../errors.ts';
import { FxiaokeClient, type FxiaokeClientOptions } from '../fxiaoke/client.ts';
import { type FxiaokeConfig, readFxiaokeConfig } from '../fxiaoke/config.ts';
import { fxiaokeCredentialSchema } from '../fxiaoke/token.ts';
import { K3CloudClient, type K3CloudClientOptions } from '../k3cloud/client.ts';
import { readK3CloudConfig } from '../k3cloud/config.ts';
import { k3SessionCredentialSchema } from '../k3cloud/session.ts';
import { createLogger, type Logger } from '../log.ts';
import { loadSyncConfigFile, parseSyncConfig, type SyncConfig } from '../mappings/config.ts';
import { toQueryInput } from '../mappings/k3-client-inputs.ts';
import { buildOrgIdQuery, parseOrgIds } from '../mappings/k3-requests.ts';
import { createState, readStateConfig, type State } from '../state/index.ts';
import { QueueClient } from './queues.ts';
import { CrmReader } from './reader.ts';
import {
  readSyncSettings,
  SettingsCache,
  type SettingsSnapshot,
  SsmParameterSource,
  SYNC_ENV,
  type SyncSettings,
} from './settings.ts';

/** Share of Fxiaoke's per-interface budget the shared limiter keeps unused (see `fx()` below). */
const FXIAOKE_RATE_LIMIT_RESERVE = 0.05;

/** How long replaced clients stay open for calls still in flight. */
const RETIRE_GRACE_MS = 120_000;

export interface SyncRuntime {
  readonly settings: SyncSettings;
  /** The merged settings (environment + SSM). */
  readonly env: Readonly<Record<string, string>>;
  readonly config: SyncConfig;
  readonly state: State;
  readonly queues: QueueClient;
  readonly logger: Logger;
  readonly clock: Clock;
  /** The K3Cloud client (built on first use). @throws {ConfigError} when K3CLOUD_* settings are bad. */
  k3(): K3CloudClient;
  /** The Fxiaoke client (built on first use). @throws {ConfigError} when FXIAOKE_* settings are bad. */
  fx(): FxiaokeClient;
  /** The Fxiaoke settings (webhook: AES key, enterprise account, replay window). */
  fxConfig(): FxiaokeConfig;
  /** The coalescing CRM reader (built on first use). */
  reader(): CrmReader;
  /**
   * Internal ids of organisation numbers, cached for the runtime's life (organisations do not change ids).
   *
   * @throws {ConfigError} naming numbers K3 does not know; K3CloudError when the query fails.
   */
  orgIds(numbers: readonly string[]): Promise<Map<string, number>>;
  close(): Promise<void>;
}

/** What tests and the local stack may inject instead of the defaults. */
export interface RuntimeDeps {
  /** Default `process.env`. */
  env?: Env;
  dynamoClient?: DynamoDBClient;
  sqsClient?: SQSClient;
  ssmClient?: SSMClient;
  clock?: Clock;
  logger?: Logger;
  /** Extra K3Cloud client options (e.g. `onCall` for the benchmark's call counts). */
  k3Options?: Omit<Partial<K3CloudClientOptions>, 'config'>;
  /** Extra Fxiaoke client options (e.g. `onCall`). */
  fxOptions?: FxiaokeClientOptions;
}

interface Shared {
  deps: RuntimeDeps;
  logger: Logger;
  settings: SettingsCache;
  dynamo: DynamoDBClient;
  sqs: SQSClient;
  current: { version: string; runtime: Promise<SyncRuntime> } | undefined;
}

let shared: Shared | undefined;

/** Replace the injected dependencies (tests, the local stack); the next `getRuntime` builds afresh. */
export async function configureRuntime(deps: RuntimeDeps): Promise<void> {
  await resetRuntime();
  shared = newShared(deps);
}

/** Drop the cached runtime and close its clients (tests; a local stack shutting down). */
export async function resetRuntime(): Promise<void> {
  const previous = shared;
  shared = undefined;
  if (previous?.current) {
    const runtime = await previous.current.runtime.catch(() => undefined);
    await runtime?.close();
  }
  if (previous && !previous.deps.dynamoClient) previous.dynamo.destroy();
  if (previous && !previous.deps.sqsClient) previous.sqs.destroy();
}

function newShared(deps: RuntimeDeps): Shared {
  const env = deps.env ?? process.env;
  const prefix = env[SYNC_ENV.ssmPrefix]?.trim();
  const logger = deps.logger ?? createLogger({ base: { service: 'fxiaoke-k3cloud-sync' } });
  const ttl = Number(env[SYNC_ENV.ssmCacheTtlMs]);
  const source = prefix ? new SsmParameterSource(deps.ssmClient ?? new SSMClient({}), prefix) : undefined;
  return {
    deps,
    logger,
    settings: new SettingsCache({
      env,
      source,
      ...(Number.isFinite(ttl) && ttl > 0 ? { ttlMs: ttl } : {}),
      ...(deps.clock ? { clock: deps.clock } : {}),
      logger,
    }),
    dynamo: deps.dynamoClient ?? new DynamoDBClient({}),
    sqs: deps.sqsClient ?? new SQSClient({}),
    current: undefined,
  };
}

/** The logger the runtime uses (also when it cannot be built: start-up failures are logged with it). */
export function runtimeLogger(): Logger {
  shared ??= newShared({});
  return shared.logger;
}

/**
 * The runtime for this container, built on first use and rebuilt when the settings change.
 *
 * @throws {ConfigError} when a setting or the mapping config is invalid (each problem with its variable or
 *   the exact config path); {@link SettingsError} when SSM cannot be read.
 */
export async function getRuntime(): Promise<SyncRuntime> {
  shared ??= newShared({});
  const ctx = shared;
  const snapshot = await ctx.settings.get();
  if (ctx.current?.version === snapshot.version) return await ctx.current.runtime;
  const previous = ctx.current;
  const runtime = buildRuntime(ctx, snapshot);
  ctx.current = { version: snapshot.version, runtime };
  // A failed build is not cached: the next invocation tries again (and fails again, loudly, until fixed).
  runtime.catch(() => {
    if (ctx.current?.runtime === runtime) ctx.current = undefined;
  });
  if (previous) {
    void previous.runtime
      .then((old) => setTimeout(() => void old.close(), RETIRE_GRACE_MS).unref())
      .catch(() => {});
  }
  return await runtime;
}

async function loadConfig(settings: SyncSettings, cache: SettingsCache): Promise<SyncConfig> {
  if (settings.configSsmParameter !== undefined) {
    const name = settings.configSsmParameter;
    const text = await cache.loadParameter(name);
    return parseSyncConfig(text, { source: `ssm:${name}` });
  }
  if (settings.configPath !== undefined) return await loadSyncConfigFile(settings.configPath);
  throw new ConfigError([
    `${SYNC_ENV.configPath} / ${SYNC_ENV.configSsmParameter}: one of them is required (the mapping config file, or the SSM parameter holding its text)`,
  ]);
}

async function buildRuntime(ctx: Shared, snapshot: SettingsSnapshot): Promise<SyncRuntime> {
  const env = snapshot.env;
  const deps = ctx.deps;
  const clock = deps.clock ?? systemClock;
  const logger = ctx.logger;
  // Every problem of every reader at once, so an operator fixes the settings in one round.
  const problems: string[] = [];
  const attempt = <T>(read: () => T): T | undefined => {
    try {
      return read();
    } catch (error) {
      if (error instanceof ConfigError) problems.push(...error.problems);
      else throw error;
      return undefined;
    }
  };
  const settings = attempt(() => readSyncSettings(env));
  const stateConfig = attempt(() => readStateConfig(env));
  if (!settings || !stateConfig) throw new ConfigError(problems);
  const config = await loadConfig(settings, ctx.settings);
  const state = createState({
    client: ctx.dynamo,
    ...stateConfig,
    snapshotTtlMs: settings.snapshotTtlMs,
    clock,
    logger,
  });
  const queues = new QueueClient(ctx.sqs, settings.queues);
  const sandbox = { sandbox: settings.sandbox };

  let k3: K3CloudClient | undefined;
  let fx: FxiaokeClient | undefined;
  let fxConfig: FxiaokeConfig | undefined;
  let reader: CrmReader | undefined;
  const orgIdCache = new Map<string, number>();

  const runtime: SyncRuntime = {
    settings,
    env,
    config,
    state,
    queues,
    logger,
    clock,
    k3() {
      k3 ??= new K3CloudClient({
        ...deps.k3Options,
        config: readK3CloudConfig(env, sandbox),
        credentialStore: state.credentials(k3SessionCredentialSchema),
        logger,
        clock,
      });
      return k3;
    },
    fxConfig() {
      fxConfig ??= readFxiaokeConfig(env, sandbox);
      return fxConfig;
    },
    fx() {
      if (!fx) {
        const settingsFx = runtime.fxConfig();
        fx = new FxiaokeClient(settingsFx, {
          // Every copy of every function shares one token and one call budget per interface.
          credentialStore: state.credentials(fxiaokeCredentialSchema),
          // 5 % of each window in reserve: a saturated shared budget can over-admit at slot boundaries, and
          // Fxiaoke counts arrivals, which trail admissions (lib/state/rate-limiter.ts); 14001 costs a retry.
          rateLimiter: state.rateLimiter(settingsFx.rateLimit, {
            reserve: (limit) => Math.ceil(limit.calls * FXIAOKE_RATE_LIMIT_RESERVE),
          }),
          // Everything the sync writes to the CRM comes from the ERP: it must not fire CRM workflows, which
          // would echo the write back to us as a new change event.
          writeDefaults: { triggerWorkFlow: false },
          logger,
          clock,
          ...deps.fxOptions,
        });
      }
      return fx;
    },
    reader() {
      reader ??= new CrmReader({
        fx: runtime.fx(),
        inbox: state.inbox,
        snapshots: state.snapshots,
        clock,
        logger,
      });
      return reader;
    },
    async orgIds(numbers) {
      const missing = [...new Set(numbers)].filter((n) => !orgIdCache.has(n));
      if (missing.length > 0) {
        const query = buildOrgIdQuery(missing);
        const rows = await runtime.k3().executeBillQuery(toQueryInput(query));
        for (const [number, id] of parseOrgIds(query, rows, missing)) orgIdCache.set(number, id);
      }
      return new Map(numbers.map((n) => [n, orgIdCache.get(n) ?? 0]));
    },
    async close() {
      await Promise.allSettled([k3?.close(), fx?.close()]);
    },
  };
  logger.info('sync.runtime.ready', {
    flows: Object.entries(config.flows)
      .filter(([, flow]) => flow?.enabled)
      .map(([id]) => id),
    ssm: ctx.settings.usesSsm,
  });
  return runtime;
}
