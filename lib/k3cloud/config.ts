/**
 * K3Cloud connection settings, read from the same variables by the client and by the K3Cloud emulator, so
 * one `.env` configures both sides.
 *
 * Sandbox defaults are the identity of the worked examples in `shared/docs/k3cloud-webapi.md` §2.4/§2.6
 * (acctID `5f1a2b3c4d5e6f`, user `demo`, …). They are public test values, obviously not real secrets, and
 * are applied only when the caller asks for sandbox mode (no `K3CLOUD_SERVER_URL` given).
 */
import { z } from 'zod';
import { cleanEnv, type Env, parseEnv } from '../env.ts';

export const K3CLOUD_AUTH_MODES = ['signature', 'login-by-sign', 'app-secret', 'password'] as const;
export type K3AuthMode = (typeof K3CLOUD_AUTH_MODES)[number];

/** Where the emulator listens by default (`npm run emulator:k3cloud`). */
export const K3CLOUD_SANDBOX_URL = 'http://127.0.0.1:8090/k3cloud/';

export const K3CLOUD_SANDBOX_IDENTITY = {
  K3CLOUD_ACCT_ID: '5f1a2b3c4d5e6f',
  K3CLOUD_USERNAME: 'demo',
  K3CLOUD_APP_ID: '123456_AAECAwQFBgcICQoLDA0ODxAREhMUFRYX',
  K3CLOUD_APP_SECRET: '0123456789abcdef0123456789abcdef',
  K3CLOUD_PASSWORD: 'sandbox-password-not-secret',
} as const;

/** The official SDKs wait 120 s; a Lambda has less patience. Override with `K3CLOUD_TIMEOUT_MS`. */
export const DEFAULT_K3CLOUD_TIMEOUT_MS = 30_000;

const SECRET_KEYS = ['K3CLOUD_APP_SECRET', 'K3CLOUD_PASSWORD'] as const;

const schema = z
  .object({
    K3CLOUD_SERVER_URL: z.url('must be a URL such as https://erp.example.com/k3cloud/'),
    K3CLOUD_ACCT_ID: z.string('is required (the data-center id, 数据中心ID)'),
    K3CLOUD_USERNAME: z.string('is required (the integration user, 集成用户)'),
    K3CLOUD_AUTH_MODE: z
      .enum(K3CLOUD_AUTH_MODES, `expected one of ${K3CLOUD_AUTH_MODES.join('|')}`)
      .default('signature'),
    K3CLOUD_APP_ID: z.string().optional(),
    K3CLOUD_APP_SECRET: z.string().optional(),
    K3CLOUD_PASSWORD: z.string().optional(),
    K3CLOUD_LCID: z.coerce.number().int().positive().default(2052),
    /** Organisation number sent in X-Kd-Appdata (SDK default `0` = the user's default organisation). */
    K3CLOUD_ORG_NUMBER: z.string().default('0'),
    /** `sha1` only for servers older than 8.0.0.202205 (PT-146911), see spec §2.4. */
    K3CLOUD_LOGIN_SIGN_ALGORITHM: z.enum(['sha256', 'sha1']).default('sha256'),
    K3CLOUD_TIMEOUT_MS: z.coerce.number().int().positive().default(DEFAULT_K3CLOUD_TIMEOUT_MS),
  })
  .superRefine((value, ctx) => {
    const need = (key: 'K3CLOUD_APP_ID' | 'K3CLOUD_APP_SECRET' | 'K3CLOUD_PASSWORD') => {
      if (!value[key]) {
        ctx.addIssue({
          code: 'custom',
          path: [key],
          message: `is required when K3CLOUD_AUTH_MODE=${value.K3CLOUD_AUTH_MODE}`,
        });
      }
    };
    if (value.K3CLOUD_AUTH_MODE === 'password') need('K3CLOUD_PASSWORD');
    else {
      need('K3CLOUD_APP_ID');
      need('K3CLOUD_APP_SECRET');
    }
  });

export interface K3CloudConfig {
  /** Site root ending in `/`, e.g. `https://erp.example.com/k3cloud/`. */
  serverUrl: string;
  acctId: string;
  username: string;
  authMode: K3AuthMode;
  appId: string | undefined;
  appSecret: string | undefined;
  password: string | undefined;
  lcid: number;
  orgNumber: string;
  loginSignAlgorithm: 'sha256' | 'sha1';
  timeoutMs: number;
}

/**
 * Read the K3Cloud settings. With `sandbox: true`, unset variables take the sandbox identity and the
 * emulator URL; set variables still win, so a `.env` can change the sandbox identity for both sides.
 *
 * @throws {ConfigError} naming every missing or bad variable.
 */
export function readK3CloudConfig(env: Env, options: { sandbox?: boolean } = {}): K3CloudConfig {
  const source: Env = options.sandbox
    ? { K3CLOUD_SERVER_URL: K3CLOUD_SANDBOX_URL, ...K3CLOUD_SANDBOX_IDENTITY, ...cleanEnv(env) }
    : env;
  const parsed = parseEnv(schema, source, SECRET_KEYS);
  return {
    serverUrl: parsed.K3CLOUD_SERVER_URL.endsWith('/')
      ? parsed.K3CLOUD_SERVER_URL
      : `${parsed.K3CLOUD_SERVER_URL}/`,
    acctId: parsed.K3CLOUD_ACCT_ID,
    username: parsed.K3CLOUD_USERNAME,
    authMode: parsed.K3CLOUD_AUTH_MODE,
    appId: parsed.K3CLOUD_APP_ID,
    appSecret: parsed.K3CLOUD_APP_SECRET,
    password: parsed.K3CLOUD_PASSWORD,
    lcid: parsed.K3CLOUD_LCID,
    orgNumber: parsed.K3CLOUD_ORG_NUMBER,
    loginSignAlgorithm: parsed.K3CLOUD_LOGIN_SIGN_ALGORITHM,
    timeoutMs: parsed.K3CLOUD_TIMEOUT_MS,
  };
}
