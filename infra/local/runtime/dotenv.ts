/**
 * `.env` files for the local stack, parsed here rather than with a dependency. The format is the common one:
 * `KEY=value` per line, optional `export `, `#` comments (whole lines, or after whitespace in an unquoted
 * value), single quotes (literal) and double quotes (with `\n`, `\r`, `\t`, `\"`, `\\` escapes), both
 * allowed to span lines. Values already set in the process environment win over the file, as with dotenv.
 */
import { readFileSync } from 'node:fs';
import { LocalRuntimeError } from './errors.ts';

const KEY = /^[A-Za-z_][A-Za-z0-9_.]*$/;

/**
 * Parse the text of a `.env` file.
 *
 * @throws {LocalRuntimeError} `LOCAL_SETTINGS_INVALID` listing every malformed line by number (values are
 *   never shown: they may be secrets).
 */
export function parseDotEnv(text: string, source = '.env'): Record<string, string> {
  const out: Record<string, string> = {};
  const problems: string[] = [];
  const lines = text.replace(/\r\n?/g, '\n').split('\n');
  for (let i = 0; i < lines.length; i++) {
    const lineNumber = i + 1;
    const line = (lines[i] ?? '').trim();
    if (line === '' || line.startsWith('#')) continue;
    const body = line.startsWith('export ') ? line.slice(7).trimStart() : line;
    const eq = body.indexOf('=');
    if (eq <= 0) {
      problems.push(`${source}:${lineNumber}: 需要 KEY=value / expected KEY=value`);
      continue;
    }
    const key = body.slice(0, eq).trim();
    if (!KEY.test(key)) {
      problems.push(`${source}:${lineNumber}: 变量名无效 / invalid variable name "${key}"`);
      continue;
    }
    let rest = body.slice(eq + 1).trimStart();
    const quote = rest[0];
    if (quote === '"' || quote === "'") {
      let value = '';
      let closed = false;
      let j = 1;
      for (;;) {
        for (; j < rest.length; j++) {
          const c = rest[j] ?? '';
          if (quote === '"' && c === '\\' && j + 1 < rest.length) {
            const next = rest[j + 1] ?? '';
            value += next === 'n' ? '\n' : next === 'r' ? '\r' : next === 't' ? '\t' : next;
            j++;
          } else if (c === quote) {
            closed = true;
            break;
          } else value += c;
        }
        if (closed || i + 1 >= lines.length) break;
        // The quoted value continues on the next line.
        i++;
        value += '\n';
        rest = `${quote}${lines[i] ?? ''}`;
        j = 1;
      }
      if (!closed) {
        problems.push(
          `${source}:${lineNumber}: 引号未闭合 / unterminated ${quote === '"' ? 'double' : 'single'} quote`,
        );
        continue;
      }
      const after = rest.slice(j + 1).trim();
      if (after !== '' && !after.startsWith('#')) {
        problems.push(`${source}:${lineNumber}: 引号后有多余内容 / unexpected text after the closing quote`);
        continue;
      }
      out[key] = value;
    } else {
      const comment = rest.search(/\s#/);
      out[key] = (comment === -1 ? rest : rest.slice(0, comment)).trim();
    }
  }
  if (problems.length > 0) {
    throw new LocalRuntimeError(
      `.env 文件格式错误 / The .env file has errors:\n${problems.map((p) => `- ${p}`).join('\n')}`,
      'LOCAL_SETTINGS_INVALID',
    );
  }
  return out;
}

/**
 * The process environment with a `.env` file merged under it (a missing file is fine).
 *
 * @throws {LocalRuntimeError} when the file exists but cannot be read or parsed.
 */
export function environmentWithDotEnv(
  processEnv: Readonly<Record<string, string | undefined>>,
  path: string,
): { env: Record<string, string | undefined>; loadedFrom: string | undefined } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if (error instanceof Error && 'code' in error && error.code === 'ENOENT')
      return { env: { ...processEnv }, loadedFrom: undefined };
    throw new LocalRuntimeError(`无法读取 ${path} / cannot read ${path}`, 'LOCAL_SETTINGS_INVALID', {
      cause: error,
    });
  }
  const fromFile = parseDotEnv(text, path);
  const env: Record<string, string | undefined> = { ...fromFile };
  for (const [key, value] of Object.entries(processEnv)) if (value !== undefined) env[key] = value;
  return { env, loadedFrom: path };
}
