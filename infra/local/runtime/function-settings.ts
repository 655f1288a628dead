/**
 * What the functions are configured with locally, and how it reaches them.
 *
 * In AWS the functions read their settings and secrets (K3CLOUD_*, FXIAOKE_*, SYNC_*) from SSM Parameter
 * Store under `SSM_PARAMETER_PREFIX` (lib/sync/settings.ts), merged over their environment. Locally the
 * same code path runs: the values come from the local environment (and `.env`) — or, in sandbox mode, from
 * the emulators' sandbox identity — and are written to the local SSM endpoint under the prefix that
 * serverless.yml gives the function. A function without `SSM_PARAMETER_PREFIX` gets them in its
 * environment instead. Either way the functions' environment holds only what serverless.yml declares plus
 * what the Lambda runtime would set; secrets never appear in it when SSM is used.
 *
 * Mode: K3Cloud runs against its emulator when `K3CLOUD_SERVER_URL` is unset, Fxiaoke when
 * `FXIAOKE_BASE_URL` is unset ("sandbox"); each real system must be configured completely, checked with
 * the same readers the functions use (`readK3CloudConfig`, `readFxiaokeConfig`).
 */
import { existsSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { cleanEnv, type Env } from '../../../lib/env.ts';
import { ConfigError } from '../../../lib/errors.ts';
import { FXIAOKE_SANDBOX_IDENTITY, readFxiaokeConfig } from '../../../lib/fxiaoke/config.ts';
import { K3CLOUD_SANDBOX_IDENTITY, readK3CloudConfig } from '../../../lib/k3cloud/config.ts';
import { registerSecret } from '../../../lib/log.ts';

export interface StackMode {
  k3: 'sandbox' | 'real';
  fx: 'sandbox' | 'real';
}

export function detectMode(env: Env): StackMode {
  const clean = cleanEnv(env);
  return {
    k3: clean.K3CLOUD_SERVER_URL ? 'real' : 'sandbox',
    fx: clean.FXIAOKE_BASE_URL ? 'real' : 'sandbox',
  };
}

/**
 * Check the settings of every real system at once, so start-up stops with one line per problem.
 *
 * @throws {ConfigError} with the problems of both systems.
 */
export function checkRealSettings(env: Env, mode: StackMode): void {
  const problems: string[] = [];
  const collect = (read: () => unknown): void => {
    try {
      read();
    } catch (error) {
      if (error instanceof ConfigError) problems.push(...error.problems);
      else throw error;
    }
  };
  if (mode.k3 === 'real') collect(() => readK3CloudConfig(env));
  if (mode.fx === 'real') collect(() => readFxiaokeConfig(env));
  if (problems.length > 0) throw new ConfigError(problems);
}

/** Settings the functions read themselves; infrastructure wiring (tables, queues, SSM) stays serverless.yml's. */
const SETTING_NAME = /^(K3CLOUD|FXIAOKE|SYNC|STATE)_[A-Z0-9_]+$/;
const NOT_A_SETTING = /(_EMULATOR_|^STATE_TABLE_|^SYNC_QUEUE_URL_|^SSM_)/;
/** The same rule as lib/sync/settings.ts: these are stored as SecureString. */
export const SECRET_SETTING = /(SECRET|PASSWORD|AES_KEY|PERMANENT_CODE|TOKEN)/;

export interface FunctionSettingsInput {
  env: Env;
  mode: StackMode;
  /** Site root of the K3Cloud emulator (sandbox). */
  k3EmulatorUrl?: string | undefined;
  /** Origin of the Fxiaoke emulator (sandbox). */
  fxEmulatorUrl?: string | undefined;
  serviceDir: string;
  /** `SYNC_CONFIG_PATH` as serverless.yml sets it (relative to the service directory). */
  declaredConfigPath: string | undefined;
}

export interface FunctionSettings {
  /** Every setting by variable name. */
  values: Record<string, string>;
  /** Absolute path of the mapping config the functions will read. */
  configPath: string | undefined;
}

/**
 * The settings for the functions.
 *
 * @throws {ConfigError} when no mapping config can be found in real mode.
 */
export function functionSettings(input: FunctionSettingsInput): FunctionSettings {
  const env = cleanEnv(input.env);
  const values: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (SETTING_NAME.test(name) && !NOT_A_SETTING.test(name)) values[name] = value;
  }
  if (input.mode.k3 === 'sandbox') {
    for (const [name, value] of Object.entries(K3CLOUD_SANDBOX_IDENTITY)) values[name] ??= value;
    if (input.k3EmulatorUrl) values.K3CLOUD_SERVER_URL = input.k3EmulatorUrl;
  }
  if (input.mode.fx === 'sandbox') {
    for (const [name, value] of Object.entries(FXIAOKE_SANDBOX_IDENTITY)) values[name] ??= value;
    if (input.fxEmulatorUrl) values.FXIAOKE_BASE_URL = input.fxEmulatorUrl;
  }
  for (const [name, value] of Object.entries(values)) if (SECRET_SETTING.test(name)) registerSecret(value);

  const configPath = resolveConfigPath(input, values);
  if (configPath !== undefined) values.SYNC_CONFIG_PATH = configPath;
  return { values, configPath };
}

function resolveConfigPath(input: FunctionSettingsInput, values: Record<string, string>): string | undefined {
  if (values.SYNC_CONFIG_SSM_PARAMETER) return undefined;
  const wanted = values.SYNC_CONFIG_PATH ?? input.declaredConfigPath;
  const absolute = (path: string) => (isAbsolute(path) ? path : resolve(input.serviceDir, path));
  if (wanted !== undefined && existsSync(absolute(wanted))) return absolute(wanted);
  const sandbox = input.mode.k3 === 'sandbox' || input.mode.fx === 'sandbox';
  const example = absolute('config/sync.example.yaml');
  // The example config is written for the emulators' demo company; it is the sandbox's default.
  if (sandbox && values.SYNC_CONFIG_PATH === undefined && existsSync(example)) return example;
  throw new ConfigError([
    `SYNC_CONFIG_PATH: 找不到映射配置文件 ${wanted === undefined ? '' : absolute(wanted)} / mapping config not found${wanted === undefined ? '' : ` at ${absolute(wanted)}`} — copy config/sync.example.yaml to config/sync.yaml and adapt it (docs/mapping-config.md), or set SYNC_CONFIG_PATH`,
  ]);
}
