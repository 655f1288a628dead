/**
 * The part of the Serverless Framework's variable syntax that a self-hosted deployment needs, resolved the
 * way osls (Serverless v3) resolves it:
 *
 * - `${self:a.b.c}` — another value of the same file (itself resolved first; cycles are reported);
 * - `${sls:stage}`, `${opt:stage}`, `${opt:region}`, `${sls:instanceId}`;
 * - `${env:NAME}` — the local environment (after `.env` is merged);
 * - `${file(./x.json)}`, `${file(./x.yml):a.b}` — JSON or YAML files relative to the service directory;
 * - `${param:name}` — stage parameters (`params.<stage>.name`, else `params.default.name`);
 * - `${aws:region}`, `${aws:accountId}` — the local stack's fake region and account;
 * - fallbacks after a comma: `${env:PORT, 3000}`, `${opt:stage, 'dev'}`, `${env:A, ${self:custom.a}}`,
 *   evaluated only when the value before them is missing (as in v3).
 *
 * A variable that is the whole string keeps its value's type (`${file(./tables.json)}` is an object); inside
 * a longer string only strings, numbers and booleans can be interpolated. Sources that need AWS (`ssm`, `cf`,
 * `s3`) or code (`.js` files) cannot be resolved offline: they fail with the location of the variable.
 */
import { readFileSync } from 'node:fs';
import { extname, isAbsolute, resolve } from 'node:path';
import { ServerlessConfigError } from '../errors.ts';
import { parseServerlessYaml } from './yaml.ts';

export interface VariableContext {
  /** Directory of serverless.yml; `file(...)` paths are relative to it. */
  serviceDir: string;
  stage: string;
  region: string;
  accountId: string;
  env: Readonly<Record<string, string | undefined>>;
  /** `opt:` values (CLI options of `sls`), e.g. `{ stage }`. */
  options?: Readonly<Record<string, string>>;
  /** Value of `${sls:instanceId}`. */
  instanceId?: string;
}

type Part = { kind: 'text'; text: string } | { kind: 'var'; expression: VariableExpression };

interface VariableExpression {
  /** The text between `${` and `}`, for messages. */
  raw: string;
  primary: Part[];
  fallbacks: Part[][];
}

/**
 * Split a string into literal text and `${…}` variables (nested variables allowed). As in osls
 * (`lib/configuration/variables/parse.js`), only `${<type>:…}` and `${<type>(…)…}` with a lower-case type
 * are variables: `${AWS::Region}` or `${StateLinksTable.Arn}` inside `Fn::Sub` stay literal text for
 * CloudFormation, and `\${` escapes a variable.
 */
export function parseTemplate(text: string): Part[] {
  const parts: Part[] = [];
  let index = 0;
  let literal = '';
  while (index < text.length) {
    if (text.startsWith('\\${', index)) {
      literal += '${';
      index += 3;
      continue;
    }
    if (text.startsWith('${', index) && VARIABLE_START.test(text.slice(index, index + 120))) {
      const end = matchingBrace(text, index + 2);
      if (end === -1) {
        literal += text.slice(index);
        break;
      }
      if (literal) parts.push({ kind: 'text', text: literal });
      literal = '';
      parts.push({ kind: 'var', expression: parseExpression(text.slice(index + 2, end)) });
      index = end + 1;
    } else {
      literal += text[index];
      index++;
    }
  }
  if (literal) parts.push({ kind: 'text', text: literal });
  return parts;
}

const VARIABLE_START = /^\$\{\s*[a-z][a-zA-Z0-9]*[:(]/;

/** Index of the `}` closing a `${` whose body starts at `start`, or -1. */
function matchingBrace(text: string, start: number): number {
  let depth = 0;
  let quote: string | undefined;
  for (let i = start; i < text.length; i++) {
    const c = text[i];
    if (quote) {
      if (c === quote) quote = undefined;
      continue;
    }
    if (c === "'" || c === '"') quote = c;
    else if (c === '$' && text[i + 1] === '{') {
      depth++;
      i++;
    } else if (c === '}') {
      if (depth === 0) return i;
      depth--;
    }
  }
  return -1;
}

/** `primary, fallback, fallback` split at top-level commas (not inside nested variables, quotes or parens). */
function parseExpression(body: string): VariableExpression {
  const pieces: string[] = [];
  let depth = 0;
  let parens = 0;
  let quote: string | undefined;
  let current = '';
  for (let i = 0; i < body.length; i++) {
    const c = body[i] ?? '';
    if (quote) {
      if (c === quote) quote = undefined;
      current += c;
      continue;
    }
    if (c === "'" || c === '"') quote = c;
    else if (c === '$' && body[i + 1] === '{') depth++;
    else if (c === '}' && depth > 0) depth--;
    else if (c === '(') parens++;
    else if (c === ')') parens--;
    else if (c === ',' && depth === 0 && parens === 0) {
      pieces.push(current);
      current = '';
      continue;
    }
    current += c;
  }
  pieces.push(current);
  const [primary = '', ...fallbacks] = pieces.map((p) => p.trim());
  return { raw: body, primary: parseTemplate(primary), fallbacks: fallbacks.map(parseTemplate) };
}

export function hasVariables(text: string): boolean {
  return parseTemplate(text).some((part) => part.kind === 'var');
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Walk `a.b.0.c` (or `a.b[0].c`) into a value. */
function valueAtAddress(root: unknown, address: string): unknown {
  if (address === '') return root;
  let node = root;
  for (const segment of address.replace(/\[(\d+)\]/g, '.$1').split('.')) {
    if (segment === '') continue;
    if (Array.isArray(node)) node = node[Number(segment)];
    else if (isPlainObject(node)) node = node[segment];
    else return undefined;
  }
  return node;
}

/**
 * Resolves every variable of a parsed serverless.yml. One instance per file read; `self:` lookups walk
 * the raw document and resolve what they meet on the way.
 */
export class VariableResolver {
  readonly #raw: unknown;
  readonly #context: VariableContext;
  readonly #inProgress: string[] = [];
  readonly #fileCache = new Map<string, unknown>();

  constructor(rawDocument: unknown, context: VariableContext) {
    this.#raw = rawDocument;
    this.#context = context;
  }

  /**
   * The whole document with every variable resolved.
   *
   * @throws {ServerlessConfigError} naming the location of the first variable that cannot be resolved.
   */
  resolveDocument(): unknown {
    return this.#resolveNode(this.#raw, '');
  }

  #resolveNode(node: unknown, location: string): unknown {
    if (typeof node === 'string') {
      const value = this.#resolveString(node, location);
      // A variable may produce a structure that itself holds variables (an included file).
      return typeof value === 'string' || value === node ? value : this.#resolveNode(value, location);
    }
    if (Array.isArray(node)) return node.map((item, i) => this.#resolveNode(item, `${location}[${i}]`));
    if (isPlainObject(node)) {
      const out: Record<string, unknown> = {};
      for (const [key, value] of Object.entries(node)) {
        out[key] = this.#resolveNode(value, location ? `${location}.${key}` : key);
      }
      return out;
    }
    return node;
  }

  #resolveString(text: string, location: string): unknown {
    const parts = parseTemplate(text);
    if (!parts.some((p) => p.kind === 'var')) return text;
    if (parts.length === 1 && parts[0]?.kind === 'var') return this.#evaluate(parts[0].expression, location);
    let out = '';
    for (const part of parts) {
      if (part.kind === 'text') {
        out += part.text;
        continue;
      }
      const value = this.#evaluate(part.expression, location);
      if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
        throw new ServerlessConfigError(
          location,
          `\${${part.expression.raw}} 的值不是文本，不能拼接进字符串 / resolves to a ${value === null ? 'null' : typeof value}, which cannot be part of a longer string`,
          'LOCAL_SERVERLESS_INVALID',
        );
      }
      out += String(value);
    }
    return out;
  }

  #interpolate(parts: Part[], location: string): string {
    let out = '';
    for (const part of parts) {
      if (part.kind === 'text') out += part.text;
      else {
        const value = this.#evaluate(part.expression, location);
        if (value === undefined || value === null || typeof value === 'object') {
          throw new ServerlessConfigError(
            location,
            `变量地址中的 \${${part.expression.raw}} 无法解析为文本 / \${${part.expression.raw}} inside a variable address did not resolve to text`,
            'LOCAL_SERVERLESS_INVALID',
          );
        }
        out += String(value);
      }
    }
    return out;
  }

  #evaluate(expression: VariableExpression, location: string): unknown {
    const value = this.#lookup(this.#interpolate(expression.primary, location), location);
    if (value !== undefined) return value;
    for (const fallback of expression.fallbacks) {
      const literal = fallbackLiteral(fallback);
      if (literal.found) return literal.value;
      if (!fallback.some((part) => part.kind === 'var')) {
        // osls refuses unquoted words as defaults ("Invalid literal source"); so do we, with the fix.
        throw new ServerlessConfigError(
          location,
          `\${${expression.raw}} 的默认值需要加引号 / the default in \${${expression.raw}} must be quoted, e.g. '${fallback
            .map((p) => (p.kind === 'text' ? p.text : ''))
            .join('')
            .trim()}'`,
          'LOCAL_SERVERLESS_INVALID',
        );
      }
      const resolved =
        fallback.length === 1 && fallback[0]?.kind === 'var'
          ? this.#evaluateOptional(fallback[0].expression, location)
          : this.#interpolate(fallback, location);
      if (resolved !== undefined) return resolved;
    }
    throw new ServerlessConfigError(
      location,
      `无法解析变量 \${${expression.raw}}（没有值，也没有默认值）/ cannot resolve \${${expression.raw}}: no value and no fallback`,
      'LOCAL_SERVERLESS_INVALID',
    );
  }

  /** A fallback variable without a value yields undefined (the next fallback is tried). */
  #evaluateOptional(expression: VariableExpression, location: string): unknown {
    try {
      return this.#evaluate(expression, location);
    } catch (error) {
      if (error instanceof ServerlessConfigError && error.code === 'LOCAL_SERVERLESS_INVALID')
        return undefined;
      throw error;
    }
  }

  #lookup(reference: string, location: string): unknown {
    const fileMatch = /^file\((.+?)\)(?::(.*))?$/.exec(reference);
    if (fileMatch)
      return valueAtAddress(this.#file(stripQuotes(fileMatch[1] ?? ''), location), fileMatch[2] ?? '');
    const colon = reference.indexOf(':');
    if (colon === -1) {
      throw new ServerlessConfigError(
        location,
        `不支持的变量 \${${reference}} / unsupported variable \${${reference}} (expected source:address)`,
        'LOCAL_SERVERLESS_UNSUPPORTED',
      );
    }
    const source = reference.slice(0, colon);
    const address = reference.slice(colon + 1);
    const ctx = this.#context;
    switch (source) {
      case 'self':
        return this.#self(address, location);
      case 'sls':
        if (address === 'stage') return ctx.stage;
        if (address === 'instanceId') return ctx.instanceId ?? 'local';
        break;
      case 'opt':
        // Only options actually given (as on the command line); `${opt:region, 'ap-east-1'}` falls back.
        return ctx.options?.[address];
      case 'env':
        return ctx.env[address] === '' ? undefined : ctx.env[address];
      case 'param': {
        // Stage parameters (`params:` in serverless.yml): the stage's own value, else `default`.
        const own = this.#self(`params.${ctx.stage}.${address}`, location);
        return own !== undefined ? own : this.#self(`params.default.${address}`, location);
      }
      case 'aws':
        if (address === 'region') return ctx.region;
        if (address === 'accountId') return ctx.accountId;
        break;
      case 'ssm':
      case 'cf':
      case 's3':
      case 'sts':
        throw new ServerlessConfigError(
          location,
          `\${${reference}} 需要连接 AWS，本地无法解析；请在运行时读取（SSM 参数由函数在运行时读取）/ \${${source}:…} needs AWS at deploy time and cannot be resolved locally; read it at run time instead`,
          'LOCAL_SERVERLESS_UNSUPPORTED',
        );
    }
    throw new ServerlessConfigError(
      location,
      `不支持的变量来源 \${${reference}} / unsupported variable \${${reference}}`,
      'LOCAL_SERVERLESS_UNSUPPORTED',
    );
  }

  #self(address: string, location: string): unknown {
    const key = address;
    if (this.#inProgress.includes(key)) {
      throw new ServerlessConfigError(
        location,
        `变量循环引用 / circular reference: ${[...this.#inProgress, key].map((k) => `self:${k}`).join(' → ')}`,
        'LOCAL_SERVERLESS_INVALID',
      );
    }
    this.#inProgress.push(key);
    try {
      let node: unknown = this.#raw;
      let walked = '';
      for (const segment of address.replace(/\[(\d+)\]/g, '.$1').split('.')) {
        if (segment === '') continue;
        if (typeof node === 'string') node = this.#resolveString(node, walked || '(root)');
        if (Array.isArray(node)) node = node[Number(segment)];
        else if (isPlainObject(node)) node = node[segment];
        else return undefined;
        walked = walked ? `${walked}.${segment}` : segment;
      }
      return node === undefined ? undefined : this.#resolveNode(node, address);
    } finally {
      this.#inProgress.pop();
    }
  }

  #file(path: string, location: string): unknown {
    const full = isAbsolute(path) ? path : resolve(this.#context.serviceDir, path);
    const cached = this.#fileCache.get(full);
    if (cached !== undefined) return cached;
    const extension = extname(full).toLowerCase();
    if (!['.json', '.yml', '.yaml'].includes(extension)) {
      throw new ServerlessConfigError(
        location,
        `\${file(${path})}：本地只支持 JSON/YAML 文件 / only JSON and YAML files can be included locally (not ${extension || 'this file type'})`,
        'LOCAL_SERVERLESS_UNSUPPORTED',
      );
    }
    let text: string;
    try {
      text = readFileSync(full, 'utf8');
    } catch (error) {
      throw new ServerlessConfigError(
        location,
        `无法读取 \${file(${path})} / cannot read ${full}`,
        'LOCAL_SERVERLESS_UNREADABLE',
        error,
      );
    }
    const parsed = extension === '.json' ? parseJson(text, full, location) : parseServerlessYaml(text, full);
    // Variables inside an included file are resolved against the including service, as Serverless does.
    const value = this.#resolveNode(parsed, location);
    this.#fileCache.set(full, value);
    return value;
  }
}
function parseJson(text: string, path: string, location: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new ServerlessConfigError(
      location,
      `${path} 不是有效的 JSON / ${path} is not valid JSON`,
      'LOCAL_SERVERLESS_UNREADABLE',
      error,
    );
  }
}

function stripQuotes(text: string): string {
  const trimmed = text.trim();
  return /^(['"]).*\1$/.test(trimmed) ? trimmed.slice(1, -1) : trimmed;
}

/** A fallback that is a literal: `'dev'`, `"x"`, `3000`, `true`, `null`. */
function fallbackLiteral(parts: Part[]): { found: true; value: unknown } | { found: false } {
  if (parts.length !== 1 || parts[0]?.kind !== 'text') return { found: false };
  const text = parts[0].text.trim();
  if (/^(['"]).*\1$/s.test(text)) return { found: true, value: text.slice(1, -1) };
  if (/^-?\d+(\.\d+)?$/.test(text)) return { found: true, value: Number(text) };
  if (text === 'true' || text === 'false') return { found: true, value: text === 'true' };
  if (text === 'null') return { found: true, value: null };
  return { found: false };
}
