/**
 * The local stack's own settings, from the environment (and `.env`), validated once with one line per
 * problem. They only say where things listen and where data lives; the sync's settings (K3CLOUD_*,
 * FXIAOKE_*, SYNC_*) belong to the functions and are handed to them (see `function-settings.ts`).
 */
import { isAbsolute, resolve } from 'node:path';
import { z } from 'zod';
import { type Env, parseEnv } from '../../../lib/env.ts';

const port = (fallback: number) =>
  z.coerce
    .number('must be a port number')
    .int('must be a port number')
    .min(0, 'must be 0–65535')
    .max(65_535, 'must be 0–65535')
    .default(fallback);

const schema = z.object({
  PORT: port(3000),
  HOST: z.string().min(1).default('127.0.0.1'),
  LOCAL_DATA_DIR: z.string().min(1).default('.data'),
  LOCAL_STAGE: z
    .string()
    .regex(/^[A-Za-z0-9-]{1,32}$/, 'must be 1–32 letters, digits or hyphens')
    .default('local'),
  LOCAL_SERVERLESS_FILE: z.string().min(1).default('serverless.yml'),
  LOCAL_SQS_PORT: port(0),
  LOCAL_DYNAMODB_PORT: port(0),
  LOCAL_SSM_PORT: port(0),
  K3CLOUD_EMULATOR_PORT: port(8090),
  FXIAOKE_EMULATOR_PORT: port(8091),
  LOCAL_ISOLATION: z.enum(['worker', 'inline'], 'expected worker or inline').default('worker'),
  LOCAL_SQS_CONCURRENCY: z.coerce
    .number('must be a number')
    .int()
    .min(1, 'must be at least 1')
    .max(100, 'must be at most 100')
    .default(5),
  LOCAL_SCHEDULES: z.enum(['on', 'off'], 'expected on or off').default('on'),
  LOCAL_SHUTDOWN_GRACE_MS: z.coerce
    .number('must be a number of ms')
    .int()
    .min(0)
    .max(600_000)
    .default(10_000),
  LOCAL_CONTROL: z.enum(['on', 'off'], 'expected on or off').optional(),
  LOCAL_BACKGROUND_NICE: z.coerce
    .number('must be a number')
    .int('must be a whole number')
    .min(0, 'must be 0–19')
    .max(19, 'must be 0–19')
    .default(10),
  LOCAL_DYNAMODB_BACKGROUND_CONCURRENCY: z.coerce
    .number('must be a number')
    .int('must be a whole number')
    .min(0, 'must be 0 (no limit) or more')
    .max(1_000)
    .default(4),
  LOCAL_DYNAMODB_BACKGROUND_CONCURRENCY_BUSY: z.coerce
    .number('must be a number')
    .int('must be a whole number')
    .min(1, 'must be at least 1 (the queues must keep moving)')
    .max(1_000)
    .default(1),
  LOCAL_SQS_MAX_CONCURRENCY: z.coerce
    .number('must be a number')
    .int()
    .min(1, 'must be at least 1')
    .max(1_000)
    .optional(),
  // The emulators' own tuning knobs, with the names and formats of their CLIs (npm run emulator:*).
  K3CLOUD_EMULATOR_LATENCY_MS: z.coerce.number('must be a number of ms').int().min(0).default(0),
  FXIAOKE_EMULATOR_LATENCY_MS: z.coerce.number('must be a number of ms').int().min(0).default(0),
  FXIAOKE_EMULATOR_RATE_LIMIT: z
    .string()
    .regex(/^(off|\d+\/\d+)$/i, 'expected "<calls>/<windowMs>" such as 100/20000, or "off"')
    .default('100/20000'),
  FXIAOKE_EMULATOR_PUSH_CONCURRENCY: z.coerce
    .number('must be a number')
    .int()
    .min(1, 'must be at least 1')
    .max(1_000, 'must be at most 1000')
    .optional(),
  FXIAOKE_EMULATOR_PUSH_RETRY_DELAYS_MS: z
    .string()
    .regex(/^\d+(,\d+)*$/, 'expected comma-separated milliseconds such as 2000,10000,60000')
    .optional(),
});

export interface LocalSettings {
  host: string;
  port: number;
  /** Absolute. */
  dataDir: string;
  stage: string;
  /** Absolute path of serverless.yml. */
  serverlessFile: string;
  sqsPort: number;
  dynamoPort: number;
  ssmPort: number;
  k3EmulatorPort: number;
  fxEmulatorPort: number;
  isolation: 'worker' | 'inline';
  defaultSqsConcurrency: number;
  schedules: boolean;
  shutdownGraceMs: number;
  /** The `/__local/` control endpoint: on by default only when the gateway listens on loopback. */
  control: boolean;
  /** Caps the pollers per SQS trigger (serverless.yml's maximumConcurrency) on a small machine. */
  maxSqsConcurrency: number | undefined;
  /**
   * One machine serves what AWS spreads over many: these keep the webhook's acknowledgement from queueing
   * behind the queue consumers' work (see docs/local-stack.md, "Priorities").
   */
  priorities: {
    /**
     * How much lower (a Linux nice increment, 0–19) the threads of functions without an HTTP route — the
     * queue consumers and scheduled flows — are scheduled than the rest of the stack; 0 = the same. Linux only: elsewhere the nice value
     * belongs to the whole process, so nothing is changed.
     */
    backgroundNice: number;
    /**
     * Requests of functions without an HTTP route that the embedded DynamoDB serves at once; the rest wait
     * their turn, while requests of HTTP-triggered functions never wait. 0 = no limit.
     */
    dynamoBackgroundConcurrency: number;
    /** The same limit while a request of an HTTP-triggered function is in flight (at least 1). */
    dynamoBusyBackgroundConcurrency: number;
  };
  emulators: {
    k3LatencyMs: number;
    fxLatencyMs: number;
    /** Fxiaoke's per-interface limit (100 calls / 20 s), or false. */
    fxRateLimit: { calls: number; windowMs: number } | false;
    fxPushRetryDelaysMs: number[] | undefined;
    /** Change pushes the Fxiaoke emulator delivers at the same time (its default when undefined). */
    fxPushConcurrency?: number | undefined;
  };
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}

function rateLimit(text: string): { calls: number; windowMs: number } | false {
  if (text.toLowerCase() === 'off') return false;
  const [calls = 100, windowMs = 20_000] = text.split('/').map(Number);
  return { calls, windowMs };
}

/**
 * Read the local stack's settings; relative paths are taken from `rootDir`.
 *
 * @throws {ConfigError} naming every bad variable.
 */
export function readLocalSettings(env: Env, rootDir: string): LocalSettings {
  const parsed = parseEnv(schema, env);
  const absolute = (path: string) => (isAbsolute(path) ? path : resolve(rootDir, path));
  return {
    host: parsed.HOST,
    port: parsed.PORT,
    dataDir: absolute(parsed.LOCAL_DATA_DIR),
    stage: parsed.LOCAL_STAGE,
    serverlessFile: absolute(parsed.LOCAL_SERVERLESS_FILE),
    sqsPort: parsed.LOCAL_SQS_PORT,
    dynamoPort: parsed.LOCAL_DYNAMODB_PORT,
    ssmPort: parsed.LOCAL_SSM_PORT,
    k3EmulatorPort: parsed.K3CLOUD_EMULATOR_PORT,
    fxEmulatorPort: parsed.FXIAOKE_EMULATOR_PORT,
    isolation: parsed.LOCAL_ISOLATION,
    defaultSqsConcurrency: parsed.LOCAL_SQS_CONCURRENCY,
    schedules: parsed.LOCAL_SCHEDULES === 'on',
    shutdownGraceMs: parsed.LOCAL_SHUTDOWN_GRACE_MS,
    control: (parsed.LOCAL_CONTROL ?? (isLoopback(parsed.HOST) ? 'on' : 'off')) === 'on',
    maxSqsConcurrency: parsed.LOCAL_SQS_MAX_CONCURRENCY,
    priorities: {
      backgroundNice: parsed.LOCAL_BACKGROUND_NICE,
      dynamoBackgroundConcurrency: parsed.LOCAL_DYNAMODB_BACKGROUND_CONCURRENCY,
      dynamoBusyBackgroundConcurrency: parsed.LOCAL_DYNAMODB_BACKGROUND_CONCURRENCY_BUSY,
    },
    emulators: {
      k3LatencyMs: parsed.K3CLOUD_EMULATOR_LATENCY_MS,
      fxLatencyMs: parsed.FXIAOKE_EMULATOR_LATENCY_MS,
      fxRateLimit: rateLimit(parsed.FXIAOKE_EMULATOR_RATE_LIMIT),
      fxPushRetryDelaysMs: parsed.FXIAOKE_EMULATOR_PUSH_RETRY_DELAYS_MS?.split(',').map(Number),
      fxPushConcurrency: parsed.FXIAOKE_EMULATOR_PUSH_CONCURRENCY,
    },
  };
}
