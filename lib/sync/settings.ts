/**
 * Settings of the sync functions: the `K3CLOUD_*` / `FXIAOKE_*` connection settings and secrets, the state
 * tables, the queue URLs and the sync's own tuning knobs — read from the process environment and, in AWS,
 * from SSM Parameter Store.
 *
 * In AWS, secrets live in SSM as SecureString parameters under one path prefix, each named after its
 * environment variable (`/fxiaoke-k3cloud-sync/prod/K3CLOUD_APP_SECRET`). They are read at run time —
 * never at package time, never into serverless.yml — decrypted, cached per container for
 * `SSM_CACHE_TTL_MS`, and merged **over** the process environment, so the same readers
 * (`readK3CloudConfig`, `readFxiaokeConfig`, `readStateConfig`) serve the cloud, the local stack and tests.
 * Without `SSM_PARAMETER_PREFIX` the environment alone is used (local stack, tests, CI).
 */
import {
  GetParameterCommand,
  GetParametersByPathCommand,
  type GetParametersByPathCommandOutput,
  type SSMClient,
} from '@aws-sdk/client-ssm';
import { z } from 'zod';
import { type Clock, systemClock } from '../credentials.ts';
import { cleanEnv, type Env, parseEnv } from '../env.ts';
import { ConfigError, SyncError } from '../errors.ts';
import { type Logger, registerSecret, silentLogger } from '../log.ts';

/** The environment variables the sync functions read themselves (docs/sync.md lists them all). */
export const SYNC_ENV = {
  /** SSM path prefix holding the settings, e.g. `/fxiaoke-k3cloud-sync/prod/`; unset = environment only. */
  ssmPrefix: 'SSM_PARAMETER_PREFIX',
  /** How long SSM values are cached per container (ms). */
  ssmCacheTtlMs: 'SSM_CACHE_TTL_MS',
  /** Mapping config file (YAML/JSON), relative to the working directory (Lambda: the package root). */
  configPath: 'SYNC_CONFIG_PATH',
  /** Full name of an SSM parameter holding the mapping config text; wins over SYNC_CONFIG_PATH. */
  configSsmParameter: 'SYNC_CONFIG_SSM_PARAMETER',
  /** `true`: unset K3CLOUD_* / FXIAOKE_* take the emulators' sandbox identity (local stack only). */
  sandbox: 'SYNC_SANDBOX',
  queueAccountToCustomer: 'SYNC_QUEUE_URL_ACCOUNT_TO_CUSTOMER',
  queueSalesOrderToSaleOrder: 'SYNC_QUEUE_URL_SALES_ORDER_TO_SALE_ORDER',
  queueSaleOrderToDeliveryNotice: 'SYNC_QUEUE_URL_SALE_ORDER_TO_DELIVERY_NOTICE',
  queueCrmWriteBack: 'SYNC_QUEUE_URL_CRM_WRITE_BACK',
  /** The queues' redrive `maxReceiveCount`: the attempt that announces "going to the DLQ". */
  maxReceiveCount: 'SYNC_MAX_RECEIVE_COUNT',
  retryBaseDelayMs: 'SYNC_RETRY_BASE_DELAY_MS',
  retryMaxDelayMs: 'SYNC_RETRY_MAX_DELAY_MS',
  snapshotTtlMs: 'SYNC_SNAPSHOT_TTL_MS',
  /** Optional: our numeric enterprise id (ei); pushes for another tenant are refused. */
  fxiaokeTenantId: 'FXIAOKE_TENANT_ID',
} as const;

/** Default SSM cache lifetime: a rotated secret reaches every warm container within 5 minutes. */
export const DEFAULT_SSM_CACHE_TTL_MS = 5 * 60_000;
/**
 * When SSM cannot be reached on a refresh, the last values keep serving for this long (a short SSM outage
 * must not stop the sync); after that the error surfaces.
 */
export const SSM_STALE_IF_ERROR_MS = 60 * 60_000;

/** Parameter names are environment variable names: upper case, digits, underscores. */
const ENV_NAME = /^[A-Z][A-Z0-9_]*$/;

/** Where settings beyond the environment come from (SSM in AWS; tests may pass their own). */
export interface ParameterSource {
  /** Every parameter under the prefix, by its environment variable name (decrypted). */
  loadAll(): Promise<Record<string, string>>;
  /** One parameter by its full name (decrypted), e.g. the mapping config text. */
  loadOne(name: string): Promise<string>;
}

/** A failure to read settings from SSM (`transient` for throttling/outages, `config` for denied/missing). */
export class SettingsError extends SyncError {}

const TRANSIENT_SSM_ERRORS = new Set([
  'ThrottlingException',
  'InternalServerError',
  'ServiceUnavailable',
  'TimeoutError',
  'RequestTimeout',
]);

function ssmError(error: unknown, what: string): SettingsError {
  const name = error instanceof Error ? error.name : 'Error';
  const code = typeof error === 'object' && error !== null && 'code' in error ? String(error.code) : '';
  const transient =
    TRANSIENT_SSM_ERRORS.has(name) || ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EAI_AGAIN'].includes(code);
  const message = error instanceof Error ? error.message : String(error);
  return new SettingsError(
    `读取 SSM 参数失败（${what}）/ Cannot read SSM parameters (${what}): ${name}: ${message}`,
    {
      kind: transient ? 'transient' : 'config',
      fault: transient ? 'theirs' : 'ours',
      code: name === 'ParameterNotFound' ? 'SSM_PARAMETER_NOT_FOUND' : 'SSM_READ_FAILED',
      cause: error,
    },
  );
}

/**
 * SSM Parameter Store as a {@link ParameterSource}: `GetParametersByPath` (recursive, decrypted, paged) under
 * one prefix. The SDK client honours `AWS_ENDPOINT_URL_SSM`, which is how the local stack and the tests point
 * it at a fake endpoint.
 */
export class SsmParameterSource implements ParameterSource {
  readonly #client: SSMClient;
  readonly #prefix: string;

  /** @throws {ConfigError} when the prefix is not an absolute SSM path. */
  constructor(client: SSMClient, prefix: string) {
    if (!prefix.startsWith('/')) {
      throw new ConfigError([
        `${SYNC_ENV.ssmPrefix}: must be an SSM path starting with "/", e.g. /fxiaoke-k3cloud-sync/prod/, got "${prefix}"`,
      ]);
    }
    this.#client = client;
    this.#prefix = prefix.endsWith('/') ? prefix : `${prefix}/`;
  }

  /** @throws {SettingsError} when SSM refuses or cannot be reached. */
  async loadAll(): Promise<Record<string, string>> {
    const values: Record<string, string> = {};
    let nextToken: string | undefined;
    do {
      let page: GetParametersByPathCommandOutput;
      try {
        page = await this.#client.send(
          new GetParametersByPathCommand({
            Path: this.#prefix,
            Recursive: true,
            WithDecryption: true,
            MaxResults: 10,
            NextToken: nextToken,
          }),
        );
      } catch (error) {
        throw ssmError(error, this.#prefix);
      }
      for (const parameter of page.Parameters ?? []) {
        const name = parameter.Name?.slice(this.#prefix.length);
        // Nested paths (`/prefix/extra/X`) and names that are no variable names are not settings.
        if (name !== undefined && ENV_NAME.test(name) && parameter.Value !== undefined) {
          values[name] = parameter.Value;
        }
      }
      nextToken = page.NextToken;
    } while (nextToken);
    return values;
  }

  /** @throws {SettingsError} when the parameter is missing, SSM refuses, or cannot be reached. */
  async loadOne(name: string): Promise<string> {
    try {
      const out = await this.#client.send(new GetParameterCommand({ Name: name, WithDecryption: true }));
      const value = out.Parameter?.Value;
      if (value === undefined)
        throw Object.assign(new Error(`${name} has no value`), { name: 'ParameterNotFound' });
      return value;
    } catch (error) {
      throw ssmError(error, name);
    }
  }
}

export interface SettingsSnapshot {
  /** The environment with the SSM values merged over it (empty strings removed). */
  env: Readonly<Record<string, string>>;
  /** Changes whenever any value changes: the runtime rebuilds its clients when it does. */
  version: string;
}

export interface SettingsCacheOptions {
  /** The process environment (tests pass their own). */
  env: Env;
  /** Absent: environment only. */
  source?: ParameterSource | undefined;
  ttlMs?: number;
  clock?: Clock;
  logger?: Logger;
}

/** Names of settings that are secrets: registered with the log redactor as soon as they are read. */
const SECRET_NAMES = /(SECRET|PASSWORD|AES_KEY|PERMANENT_CODE|TOKEN)/;

/**
 * The merged settings, cached per container with an expiry; a failed refresh keeps serving the previous
 * values for up to {@link SSM_STALE_IF_ERROR_MS}.
 */
export class SettingsCache {
  readonly #env: Env;
  readonly #source: ParameterSource | undefined;
  readonly #ttlMs: number;
  readonly #clock: Clock;
  readonly #logger: Logger;
  #current: { snapshot: SettingsSnapshot; loadedAtMs: number } | undefined;
  #loading: Promise<SettingsSnapshot> | undefined;

  constructor(options: SettingsCacheOptions) {
    this.#env = options.env;
    this.#source = options.source;
    this.#ttlMs = options.ttlMs ?? DEFAULT_SSM_CACHE_TTL_MS;
    this.#clock = options.clock ?? systemClock;
    this.#logger = options.logger ?? silentLogger;
  }

  /**
   * The current settings (one SSM round trip per TTL per container; concurrent callers share it).
   *
   * @throws {SettingsError} when SSM cannot be read and no usable earlier values exist.
   */
  async get(): Promise<SettingsSnapshot> {
    const now = this.#clock();
    const current = this.#current;
    if (current && (this.#source === undefined || now - current.loadedAtMs < this.#ttlMs)) {
      return current.snapshot;
    }
    this.#loading ??= this.#load().finally(() => {
      this.#loading = undefined;
    });
    try {
      return await this.#loading;
    } catch (error) {
      if (current && now - current.loadedAtMs < this.#ttlMs + SSM_STALE_IF_ERROR_MS) {
        this.#logger.warn('sync.settings.refresh-failed', {
          error,
          servingValuesLoadedAtMs: current.loadedAtMs,
        });
        return current.snapshot;
      }
      throw error;
    }
  }

  /** Whether SSM is read at all (a prefix is set). */
  get usesSsm(): boolean {
    return this.#source !== undefined;
  }

  /** One parameter by full name, through the same source (no caching: callers cache what they parse). */
  async loadParameter(name: string): Promise<string> {
    if (this.#source === undefined) {
      throw new ConfigError([
        `${SYNC_ENV.configSsmParameter}: needs ${SYNC_ENV.ssmPrefix} (SSM is only read when a prefix is set)`,
      ]);
    }
    return await this.#source.loadOne(name);
  }

  async #load(): Promise<SettingsSnapshot> {
    const fromSsm = this.#source ? await this.#source.loadAll() : {};
    const env = cleanEnv({ ...this.#env, ...fromSsm });
    for (const [name, value] of Object.entries(env)) if (SECRET_NAMES.test(name)) registerSecret(value);
    const version = settingsVersion(env);
    this.#current = { snapshot: { env, version }, loadedAtMs: this.#clock() };
    return this.#current.snapshot;
  }
}

/** A cheap fingerprint of the values (not a hash for security; it never leaves the process). */
function settingsVersion(env: Readonly<Record<string, string>>): string {
  let hash = 0x811c9dc5;
  for (const key of Object.keys(env).sort()) {
    for (const char of `${key}=${env[key]}\u0000`) {
      hash ^= char.codePointAt(0) ?? 0;
      hash = Math.imul(hash, 0x01000193) >>> 0;
    }
  }
  return hash.toString(16);
}

const positiveMs = (fallback: number) => z.coerce.number().int().positive().default(fallback);

const syncSchema = z.object({
  // Read before the settings exist (it decides how long they are cached); validated here so a typo is reported.
  [SYNC_ENV.ssmCacheTtlMs]: positiveMs(DEFAULT_SSM_CACHE_TTL_MS),
  [SYNC_ENV.configPath]: z.string().optional(),
  [SYNC_ENV.configSsmParameter]: z.string().startsWith('/', 'must be a full SSM parameter name').optional(),
  [SYNC_ENV.sandbox]: z.enum(['true', 'false', '1', '0']).optional(),
  [SYNC_ENV.queueAccountToCustomer]: z.url().optional(),
  [SYNC_ENV.queueSalesOrderToSaleOrder]: z.url().optional(),
  [SYNC_ENV.queueSaleOrderToDeliveryNotice]: z.url().optional(),
  [SYNC_ENV.queueCrmWriteBack]: z.url().optional(),
  [SYNC_ENV.maxReceiveCount]: z.coerce.number().int().min(1).max(1000).default(5),
  [SYNC_ENV.retryBaseDelayMs]: positiveMs(10_000),
  [SYNC_ENV.retryMaxDelayMs]: positiveMs(900_000),
  [SYNC_ENV.snapshotTtlMs]: positiveMs(600_000),
  [SYNC_ENV.fxiaokeTenantId]: z.string().regex(/^\d+$/, 'must be the numeric enterprise id (ei)').optional(),
});

/** The queue URLs by role (a flow whose queue is not configured cannot be enqueued to). */
export interface QueueUrls {
  accountToCustomer: string | undefined;
  salesOrderToSaleOrder: string | undefined;
  saleOrderToDeliveryNotice: string | undefined;
  crmWriteBack: string | undefined;
}

export interface SyncSettings {
  configPath: string | undefined;
  configSsmParameter: string | undefined;
  sandbox: boolean;
  queues: QueueUrls;
  maxReceiveCount: number;
  retry: { baseDelayMs: number; maxDelayMs: number };
  snapshotTtlMs: number;
  fxiaokeTenantId: string | undefined;
}

/**
 * The sync's own settings.
 *
 * @throws {ConfigError} naming every bad variable.
 */
export function readSyncSettings(env: Env): SyncSettings {
  const parsed = parseEnv(syncSchema, env);
  return {
    configPath: parsed[SYNC_ENV.configPath],
    configSsmParameter: parsed[SYNC_ENV.configSsmParameter],
    sandbox: parsed[SYNC_ENV.sandbox] === 'true' || parsed[SYNC_ENV.sandbox] === '1',
    queues: {
      accountToCustomer: parsed[SYNC_ENV.queueAccountToCustomer],
      salesOrderToSaleOrder: parsed[SYNC_ENV.queueSalesOrderToSaleOrder],
      saleOrderToDeliveryNotice: parsed[SYNC_ENV.queueSaleOrderToDeliveryNotice],
      crmWriteBack: parsed[SYNC_ENV.queueCrmWriteBack],
    },
    maxReceiveCount: parsed[SYNC_ENV.maxReceiveCount],
    retry: { baseDelayMs: parsed[SYNC_ENV.retryBaseDelayMs], maxDelayMs: parsed[SYNC_ENV.retryMaxDelayMs] },
    snapshotTtlMs: parsed[SYNC_ENV.snapshotTtlMs],
    fxiaokeTenantId: parsed[SYNC_ENV.fxiaokeTenantId],
  };
}
