/**
 * Fxiaoke (纷享销客) connection and change-push settings, read from the same variables by the client, the
 * webhook receiver and the Fxiaoke emulator, so one `.env` configures every side.
 *
 * Sandbox defaults are obviously fake; the AES key is the public key of Fxiaoke's own demo test vector
 * (`shared/docs/fxiaoke-openapi.md` §11), which is fine for a sandbox and never for a tenant.
 */
import { z } from 'zod';
import { cleanEnv, type Env, parseEnv } from '../env.ts';

export const FXIAOKE_AUTH_FLOWS = ['legacy', 'oauth2'] as const;
/**
 * `legacy`: `/cgi/corpAccessToken/get/V2`, credentials in the body (most tenants' existing integrations);
 * `oauth2`: `/oauth2.0/token`, `authorization: Bearer` + `x-fs-ea` + `x-fs-userid` headers.
 */
export type FxiaokeAuthFlow = (typeof FXIAOKE_AUTH_FLOWS)[number];

/** Where the emulator listens by default (`npm run emulator:fxiaoke`). */
export const FXIAOKE_SANDBOX_URL = 'http://127.0.0.1:8091';

export const FXIAOKE_SANDBOX_IDENTITY = {
  FXIAOKE_APP_ID: 'FSAID_5a4d80x',
  FXIAOKE_APP_SECRET: 'sandbox-app-secret-not-real',
  FXIAOKE_PERMANENT_CODE: '5A4D80C0FFEE0000SANDBOX000000000',
  FXIAOKE_OPEN_USER_ID: 'FSUID_5A4D8000000000000000000000001000',
  FXIAOKE_AES_KEY: 'O0YjM0EDOygzNykzMzUjLwUTN3MjL5ADN1QjM5gTM0A=',
  FXIAOKE_ENTERPRISE_ACCOUNT: 'sandbox01',
  FXIAOKE_APL_HMAC_SECRET: 'sandbox-apl-hmac-secret-not-real',
} as const;

/** Fxiaoke's published per-interface limit (developer site rate.html): 100 calls per 20 s. */
export const FXIAOKE_RATE_LIMIT_CALLS = 100;
export const FXIAOKE_RATE_LIMIT_WINDOW_MS = 20_000;
export const DEFAULT_FXIAOKE_TIMEOUT_MS = 15_000;
/**
 * How old a change push may be (outer `timestamp`, delivery time) before it is rejected as a replay.
 * Fxiaoke's redelivery schedule is undocumented (spec §8a: UNKNOWN); the official test vector shows a retry
 * ~9 minutes after the change, with a fresh outer timestamp. 15 minutes tolerates clock skew and slow
 * redeliveries while bounding replays; a replay is harmless anyway (events are thin and de-duplicated).
 */
export const DEFAULT_PUSH_MAX_AGE_MS = 15 * 60_000;

const SECRET_KEYS = [
  'FXIAOKE_APP_SECRET',
  'FXIAOKE_PERMANENT_CODE',
  'FXIAOKE_AES_KEY',
  'FXIAOKE_APL_HMAC_SECRET',
] as const;

const schema = z.object({
  FXIAOKE_BASE_URL: z.url('must be a URL such as https://open.fxiaoke.com'),
  FXIAOKE_AUTH_FLOW: z
    .enum(FXIAOKE_AUTH_FLOWS, `expected one of ${FXIAOKE_AUTH_FLOWS.join('|')}`)
    .default('legacy'),
  FXIAOKE_APP_ID: z.string('is required (自建应用 appId, FSAID_…)'),
  FXIAOKE_APP_SECRET: z.string('is required (appSecret)'),
  FXIAOKE_PERMANENT_CODE: z.string('is required (永久授权码 permanentCode)'),
  FXIAOKE_OPEN_USER_ID: z.string(
    'is required: the CRM administrator whose data permissions the sync uses (legacy: FSUID_…; oauth2: 员工ID such as 1000)',
  ),
  FXIAOKE_AES_KEY: z
    .string('is required (the change-push subscription aesKey, 44 Base64 chars)')
    .refine((value) => Buffer.from(value, 'base64').length === 32, 'must be Base64 of exactly 32 bytes'),
  FXIAOKE_ENTERPRISE_ACCOUNT: z.string('is required (企业账号 ea, as in the push enterpriseAccount)'),
  /** Only needed by tenants that send changes from an APL function instead of the platform push. */
  FXIAOKE_APL_HMAC_SECRET: z.string().min(16, 'must be at least 16 characters').optional(),
  FXIAOKE_RATE_LIMIT_CALLS: z.coerce.number().int().positive().default(FXIAOKE_RATE_LIMIT_CALLS),
  FXIAOKE_RATE_LIMIT_WINDOW_MS: z.coerce.number().int().positive().default(FXIAOKE_RATE_LIMIT_WINDOW_MS),
  FXIAOKE_TIMEOUT_MS: z.coerce.number().int().positive().default(DEFAULT_FXIAOKE_TIMEOUT_MS),
  FXIAOKE_PUSH_MAX_AGE_MS: z.coerce.number().int().positive().default(DEFAULT_PUSH_MAX_AGE_MS),
});

export interface FxiaokeConfig {
  baseUrl: string;
  authFlow: FxiaokeAuthFlow;
  appId: string;
  appSecret: string;
  permanentCode: string;
  openUserId: string;
  aesKey: string;
  enterpriseAccount: string;
  aplHmacSecret: string | undefined;
  rateLimit: { calls: number; windowMs: number };
  timeoutMs: number;
  pushMaxAgeMs: number;
}

/**
 * Read the Fxiaoke settings. With `sandbox: true`, unset variables take the sandbox identity and the
 * emulator URL; set variables still win.
 *
 * @throws {ConfigError} naming every missing or bad variable.
 */
export function readFxiaokeConfig(env: Env, options: { sandbox?: boolean } = {}): FxiaokeConfig {
  const source: Env = options.sandbox
    ? { FXIAOKE_BASE_URL: FXIAOKE_SANDBOX_URL, ...FXIAOKE_SANDBOX_IDENTITY, ...cleanEnv(env) }
    : env;
  const parsed = parseEnv(schema, source, SECRET_KEYS);
  return {
    baseUrl: parsed.FXIAOKE_BASE_URL.replace(/\/+$/, ''),
    authFlow: parsed.FXIAOKE_AUTH_FLOW,
    appId: parsed.FXIAOKE_APP_ID,
    appSecret: parsed.FXIAOKE_APP_SECRET,
    permanentCode: parsed.FXIAOKE_PERMANENT_CODE,
    openUserId: parsed.FXIAOKE_OPEN_USER_ID,
    aesKey: parsed.FXIAOKE_AES_KEY,
    enterpriseAccount: parsed.FXIAOKE_ENTERPRISE_ACCOUNT,
    aplHmacSecret: parsed.FXIAOKE_APL_HMAC_SECRET,
    rateLimit: { calls: parsed.FXIAOKE_RATE_LIMIT_CALLS, windowMs: parsed.FXIAOKE_RATE_LIMIT_WINDOW_MS },
    timeoutMs: parsed.FXIAOKE_TIMEOUT_MS,
    pushMaxAgeMs: parsed.FXIAOKE_PUSH_MAX_AGE_MS,
  };
}
