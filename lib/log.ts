/**
 * Structured JSON logging, one line per event, with secrets redacted by key name *and* by value.
 *
 * Key-based redaction catches fields such as `appSecret` or `Cookie`; value-based redaction catches a secret
 * that ended up inside a free-text message (an URL, an error text) because every secret the process loads is
 * registered with {@link registerSecret} when the configuration is read.
 */

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

const LEVEL_ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** Keys whose values are never written, whatever their nesting depth. */
const SECRET_KEY_PATTERN =
  /(secret|password|passwd|pwd|token|session|cookie|signature|appdata|aeskey|authorization|permanentcode|x-kd-|x-api-signature|sid$)/i;

const REDACTED = '[REDACTED]';
const MAX_DEPTH = 6;
const MAX_STRING_CHARS = 2_000;

const registeredSecrets = new Set<string>();

/**
 * Remember a secret value so that it is masked wherever it appears in a log line.
 * Values shorter than 6 characters are ignored (masking them would mangle ordinary words).
 */
export function registerSecret(value: string | undefined): void {
  if (value && value.length >= 6) registeredSecrets.add(value);
}

/**
 * Forget a secret registered earlier, for values that rotate (e.g. a K3Cloud session id replaced by a newer
 * one), so that a long-running process does not accumulate dead secrets. Unknown values are ignored.
 */
export function unregisterSecret(value: string | undefined): void {
  if (value) registeredSecrets.delete(value);
}

/** Mask every registered secret inside a string. */
export function redactString(text: string): string {
  let out = text;
  for (const secret of registeredSecrets) {
    if (out.includes(secret)) out = out.split(secret).join(REDACTED);
  }
  return out.length > MAX_STRING_CHARS ? `${out.slice(0, MAX_STRING_CHARS)}…(${out.length} chars)` : out;
}

/** Deep-copy a value for logging, dropping secret-named keys and masking registered secret values. */
export function redact(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return redactString(value);
  if (value === null || typeof value !== 'object') return value;
  if (depth >= MAX_DEPTH) return '[…]';
  if (value instanceof Error) {
    const plain =
      'toJSON' in value && typeof value.toJSON === 'function'
        ? (value.toJSON() as Record<string, unknown>)
        : { name: value.name, message: value.message };
    return redact(plain, depth + 1);
  }
  if (Array.isArray(value)) return value.slice(0, 50).map((item) => redact(item, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    out[key] = SECRET_KEY_PATTERN.test(key) ? REDACTED : redact(item, depth + 1);
  }
  return out;
}

export interface Logger {
  debug(event: string, fields?: Record<string, unknown>): void;
  info(event: string, fields?: Record<string, unknown>): void;
  warn(event: string, fields?: Record<string, unknown>): void;
  error(event: string, fields?: Record<string, unknown>): void;
  /** A logger that adds `fields` (e.g. a correlation id) to every line. */
  child(fields: Record<string, unknown>): Logger;
}

export interface LoggerOptions {
  level?: LogLevel;
  /** Where lines go; defaults to stdout. Tests pass an array sink. */
  write?: (line: string) => void;
  base?: Record<string, unknown>;
}

function parseLevel(raw: string | undefined): LogLevel {
  const value = (raw ?? '').toLowerCase();
  return value === 'debug' || value === 'warn' || value === 'error' ? value : 'info';
}

/** Create a JSON-lines logger. The level defaults to `LOG_LEVEL` from the environment, else `info`. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? parseLevel(process.env.LOG_LEVEL);
  const write = options.write ?? ((line: string) => process.stdout.write(`${line}\n`));
  const base = options.base ?? {};
  const emit = (lineLevel: LogLevel, event: string, fields?: Record<string, unknown>): void => {
    if (LEVEL_ORDER[lineLevel] < LEVEL_ORDER[level]) return;
    const record = { time: new Date().toISOString(), level: lineLevel, event, ...base, ...fields };
    write(JSON.stringify(redact(record)));
  };
  return {
    debug: (event, fields) => emit('debug', event, fields),
    info: (event, fields) => emit('info', event, fields),
    warn: (event, fields) => emit('warn', event, fields),
    error: (event, fields) => emit('error', event, fields),
    child: (fields) => createLogger({ level, write, base: { ...base, ...fields } }),
  };
}

/** A logger that writes nothing (library default when the caller passes none). */
export const silentLogger: Logger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
  child: () => silentLogger,
};
