/**
 * The request side of the K3Cloud wire (spec §1, §3.1): which service method a path names, how the body is
 * encoded (positional `{"parameters":[…]}`, named JSON with any key case, form-urlencoded with named fields
 * or the legacy `parameters=` field), and binding arguments to a method's parameter names.
 */
import { getCI, isPlainObject } from './values.ts';

export interface Route {
  /** lower-case `service.method`, e.g. `dynamicformservice.save` */
  key: string;
  /** the method as written in the URL, e.g. `Save` */
  method: string;
}

const SUFFIX = '.common.kdsvc';

/**
 * Parse `/k3cloud/Kingdee.BOS.WebApi.ServicesStub.<Service>.<Method>.common.kdsvc` (any case, spec §1.2).
 * Returns undefined for any other path.
 */
export function parseRoute(pathname: string): Route | undefined {
  let path: string;
  try {
    path = decodeURIComponent(pathname);
  } catch {
    return undefined;
  }
  const lower = path.toLowerCase();
  if (!lower.startsWith('/k3cloud/') || !lower.endsWith(SUFFIX)) return undefined;
  const serviceName = path.slice('/k3cloud/'.length, path.length - SUFFIX.length);
  const parts = serviceName.split('.');
  const method = parts[parts.length - 1] ?? '';
  const service = parts[parts.length - 2] ?? '';
  if (method === '' || service === '') return undefined;
  return { key: `${service}.${method}`.toLowerCase(), method };
}

/** A decoded request body: positional arguments or named fields. */
export type RequestBody =
  | { kind: 'positional'; args: unknown[] }
  | { kind: 'named'; fields: Record<string, unknown> };

export class BodyError extends Error {}

/**
 * Decode a request body. JSON is recognised by content (the Java SDK sends `Content-type: applicatin/json`,
 * spec §2.6, so the header is not trusted); form-urlencoded by header or by shape.
 * @throws {BodyError} describing why the body cannot be read.
 */
export function decodeBody(raw: Buffer, contentType: string | undefined): RequestBody {
  const text = raw.toString('utf8').replace(/^\uFEFF/, '');
  const trimmed = text.trim();
  if (trimmed === '') return { kind: 'named', fields: {} };
  const looksJson = trimmed.startsWith('{') || trimmed.startsWith('[');
  if (
    (contentType ?? '').toLowerCase().includes('x-www-form-urlencoded') ||
    (!looksJson && trimmed.includes('='))
  ) {
    return decodeForm(trimmed);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(trimmed);
  } catch (error) {
    throw new BodyError(error instanceof Error ? error.message : 'invalid JSON');
  }
  if (Array.isArray(parsed)) return { kind: 'positional', args: parsed };
  if (!isPlainObject(parsed)) throw new BodyError('JSON 顶层必须是对象 / the top level must be an object');
  const parameters = getCI(parsed, 'parameters');
  if (Array.isArray(parameters)) return { kind: 'positional', args: parameters };
  if (typeof parameters === 'string' && parameters.trim().startsWith('[')) {
    return { kind: 'positional', args: parseParametersString(parameters) };
  }
  return { kind: 'named', fields: parsed };
}

function parseParametersString(value: string): unknown[] {
  try {
    const parsed: unknown = JSON.parse(value);
    if (Array.isArray(parsed)) return parsed;
  } catch {
    // fall through
  }
  throw new BodyError('parameters 不是有效的JSON数组 / parameters is not a JSON array');
}

/** Form-urlencoded: named fields, or the legacy ApiClient's `parameters=<JSON array>` (spec §3.1). */
function decodeForm(text: string): RequestBody {
  const params = new URLSearchParams(text);
  const fields: Record<string, unknown> = {};
  for (const [key, value] of params) fields[key] = value;
  const parameters = getCI(fields, 'parameters');
  if (typeof parameters === 'string' && parameters.trim() !== '') {
    return { kind: 'positional', args: parseParametersString(parameters) };
  }
  return { kind: 'named', fields };
}

/** Bind a body to a method's parameters: by position, or by name case-insensitively (spec §3.1). */
export function bindArguments(body: RequestBody, names: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  names.forEach((name, index) => {
    out[name] = body.kind === 'positional' ? body.args[index] : getCI(body.fields, name);
  });
  return out;
}

/** Cookie header → map (first occurrence wins); tolerant of `;` without a space and attribute junk. */
export function parseCookies(header: string | undefined): Map<string, string> {
  const cookies = new Map<string, string>();
  for (const part of (header ?? '').split(/[;,]/)) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    const name = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (!cookies.has(name)) cookies.set(name, value);
  }
  return cookies;
}
