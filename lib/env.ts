/**
 * Reading configuration from the environment: once, validated with zod, failing fast with one line per
 * problem that names the variable. Secrets are registered with the logger's redactor as they are read.
 */
import type { z } from 'zod';
import { ConfigError } from './errors.ts';
import { registerSecret } from './log.ts';

export type Env = Readonly<Record<string, string | undefined>>;

/** Treat empty strings as unset, so `FOO=` in a .env file means "use the default". */
export function cleanEnv(env: Env): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) {
    if (value !== undefined && value.trim() !== '') out[key] = value.trim();
  }
  return out;
}

/**
 * Parse `env` with `schema` (whose keys are the variable names) and turn every issue into a line such as
 * `K3CLOUD_AUTH_MODE: expected one of signature|login-by-sign|app-secret|password, got "sign"`.
 *
 * @throws {ConfigError} listing every problem at once.
 */
export function parseEnv<S extends z.ZodType>(
  schema: S,
  env: Env,
  secretKeys: readonly string[] = [],
): z.output<S> {
  const cleaned = cleanEnv(env);
  for (const key of secretKeys) registerSecret(cleaned[key]);
  const result = schema.safeParse(cleaned);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const path = issue.path.join('.') || '(environment)';
    const got = issue.path.length === 1 ? cleaned[String(issue.path[0])] : undefined;
    const shown =
      got === undefined
        ? ''
        : secretKeys.includes(String(issue.path[0]))
          ? ' (value hidden)'
          : `, got "${got}"`;
    return `${path}: ${issue.message}${shown}`;
  });
  throw new ConfigError(problems);
}
