/**
 * `npm run emulator:fxiaoke` — the Fxiaoke emulator as a standalone server (default http://127.0.0.1:8091),
 * control endpoint and edit page on. Configuration by environment:
 *
 *   FXIAOKE_EMULATOR_HOST, FXIAOKE_EMULATOR_PORT    where to listen
 *   FXIAOKE_EMULATOR_DATA_DIR                       default .data/fxiaoke-emulator; `:memory:` = no disk
 *   FXIAOKE_EMULATOR_LATENCY_MS                     added to every response
 *   FXIAOKE_EMULATOR_CALLBACK_URLS                  change-push targets, comma-separated
 *   FXIAOKE_EMULATOR_RATE_LIMIT                     `100/20000` (calls / window in ms) or `off`
 *   FXIAOKE_EMULATOR_PUSH_RETRY_DELAYS_MS           e.g. `2000,10000,60000`
 *   FXIAOKE_EMULATOR_DAILY_QUOTA                    calls per day (default unlimited)
 *   FXIAOKE_EMULATOR_THIRD_TRACE_ID                 require | require-unique | ignore
 *   FXIAOKE_APP_ID, FXIAOKE_APP_SECRET, …           the tenant identity (lib/fxiaoke/config.ts, sandbox defaults)
 */
import { z } from 'zod';
import { parseEnv } from '../../../lib/env.ts';
import { ConfigError } from '../../../lib/errors.ts';
import { createLogger } from '../../../lib/log.ts';
import type { FxiaokeEmulatorIdentity } from './api.ts';
import { DEFAULT_FXIAOKE_EMULATOR_PORT, identityFromEnv, startFxiaokeEmulator } from './server.ts';

const commaList = z.string().transform((text) =>
  text
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== ''),
);

const schema = z.object({
  FXIAOKE_EMULATOR_HOST: z.string().default('127.0.0.1'),
  FXIAOKE_EMULATOR_PORT: z.coerce.number().int().min(0).max(65_535).default(DEFAULT_FXIAOKE_EMULATOR_PORT),
  FXIAOKE_EMULATOR_DATA_DIR: z.string().default('.data/fxiaoke-emulator'),
  FXIAOKE_EMULATOR_LATENCY_MS: z.coerce.number().int().nonnegative().default(0),
  FXIAOKE_EMULATOR_CALLBACK_URLS: commaList.pipe(z.array(z.url('each callback must be a URL'))).default([]),
  FXIAOKE_EMULATOR_RATE_LIMIT: z
    .string()
    .regex(/^(off|\d+\/\d+)$/i, 'expected "<calls>/<windowMs>" such as 100/20000, or "off"')
    .default('100/20000'),
  FXIAOKE_EMULATOR_PUSH_RETRY_DELAYS_MS: commaList
    .transform((parts) => parts.map(Number))
    .pipe(z.array(z.number().int().nonnegative()))
    .optional(),
  FXIAOKE_EMULATOR_DAILY_QUOTA: z.coerce.number().int().positive().optional(),
  FXIAOKE_EMULATOR_THIRD_TRACE_ID: z.enum(['require', 'require-unique', 'ignore']).default('require'),
});

function rateLimitFrom(text: string): { calls: number; windowMs: number } | false {
  if (text.toLowerCase() === 'off') return false;
  const [calls, windowMs] = text.split('/').map(Number);
  return { calls: calls ?? 100, windowMs: windowMs ?? 20_000 };
}

async function main(): Promise<void> {
  const logger = createLogger({ base: { service: 'fxiaoke-emulator' } });
  let env: z.output<typeof schema>;
  let identity: FxiaokeEmulatorIdentity;
  try {
    env = parseEnv(schema, process.env);
    identity = identityFromEnv(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  const rateLimit = rateLimitFrom(env.FXIAOKE_EMULATOR_RATE_LIMIT);
  const dataDir = env.FXIAOKE_EMULATOR_DATA_DIR === ':memory:' ? undefined : env.FXIAOKE_EMULATOR_DATA_DIR;
  const callbacks = env.FXIAOKE_EMULATOR_CALLBACK_URLS;
  const emulator = await startFxiaokeEmulator({
    host: env.FXIAOKE_EMULATOR_HOST,
    port: env.FXIAOKE_EMULATOR_PORT,
    identity,
    dataDir,
    latencyMs: env.FXIAOKE_EMULATOR_LATENCY_MS,
    callbackUrls: callbacks,
    rateLimit,
    controlEnabled: true,
    thirdTraceId: env.FXIAOKE_EMULATOR_THIRD_TRACE_ID,
    ...(env.FXIAOKE_EMULATOR_PUSH_RETRY_DELAYS_MS
      ? { pushRetryDelaysMs: env.FXIAOKE_EMULATOR_PUSH_RETRY_DELAYS_MS }
      : {}),
    ...(env.FXIAOKE_EMULATOR_DAILY_QUOTA ? { dailyQuota: env.FXIAOKE_EMULATOR_DAILY_QUOTA } : {}),
    logger,
  });
  // One banner line: identifiers only, never secrets.
  const limitText = rateLimit === false ? 'off' : `${rateLimit.calls}/${rateLimit.windowMs}ms`;
  process.stdout.write(
    `纷享销客模拟器已启动 / Fxiaoke emulator (sandbox) at ${emulator.url} — ea=${identity.enterpriseAccount} appId=${identity.appId} corpId=${emulator.corpId}; data=${dataDir ?? 'memory only'}; edit page ${emulator.url}/; pushes → ${callbacks.length > 0 ? callbacks.join(', ') : 'none'}; rate limit ${limitText}\n`,
  );
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    const pending = emulator.stats().pushes.pending;
    emulator
      .close()
      .then(() => {
        logger.info('fxiaoke_emulator.stopped', {
          signal,
          pendingPushes: pending,
          pendingPushesKept: pending > 0 && dataDir !== undefined,
        });
        process.exit(0);
      })
      .catch((error: unknown) => {
        logger.error('fxiaoke_emulator.stop_failed', { error });
        process.exit(1);
      });
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

main().catch((error: unknown) => {
  process.stderr.write(`纷享销客模拟器启动失败 / Fxiaoke emulator failed to start: ${String(error)}\n`);
  process.exit(1);
});
