/**
 * The API Gateway HTTP API in front of the `httpApi` functions, with payload format 2.0 (API Gateway
 * Developer Guide, "Create AWS Lambda proxy integrations for HTTP APIs"):
 *
 * - routes from serverless.yml (`POST /webhooks/fxiaoke`, `GET /items/{id}`, `ANY /files/{proxy+}`, `$default`),
 *   most specific first: exact paths, then fewer parameters, then greedy paths, then `$default`; a method
 *   route before `ANY`; no match → 404 `{"message":"Not Found"}`;
 * - the event: `version`, `routeKey`, `rawPath`, `rawQueryString`, `cookies`, lower-cased `headers` (repeats
 *   joined with commas), `queryStringParameters`, `pathParameters`, `requestContext` (accountId, apiId,
 *   domainName, http.method/path/protocol/sourceIp/userAgent, requestId, routeKey, stage `$default`, time,
 *   timeEpoch), `body` and `isBase64Encoded` (text content types as text, anything else Base64);
 * - the reply: a `{statusCode, headers, cookies, body, isBase64Encoded}` result as given; any other result is
 *   200 `application/json` with the value as body (a string as is, anything else as JSON);
 * - a failed invocation (thrown error, timeout, crash) → 500 `{"message":"Internal Server Error"}` as API
 *   Gateway answers — not 200 as serverless-offline does; no answer within 30 s (API Gateway's integration
 *   limit) → 503 `{"message":"Service Unavailable"}`; a body above 10 MB → 413.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { type Logger, silentLogger } from '../../../lib/log.ts';
import { BodyTooLargeError, listen, readBody } from './http-util.ts';
import type { FunctionInvoker } from './lambda/invoker.ts';
import type { HttpRoute } from './serverless/stack-definition.ts';

/** API Gateway HTTP API limits: 10 MB payload, 30 s integration timeout. */
export const MAX_PAYLOAD_BYTES = 10 * 1024 * 1024;
export const INTEGRATION_TIMEOUT_MS = 30_000;

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

export interface GatewayRoute {
  route: HttpRoute;
  invoker: FunctionInvoker;
}

/** A handler for paths outside the API (the local control endpoint); returns true when it answered. */
export type ExtraHandler = (
  request: IncomingMessage,
  response: ServerResponse,
  body: Buffer,
) => Promise<boolean> | boolean;

export interface HttpGatewayOptions {
  routes: readonly GatewayRoute[];
  host?: string;
  /** 0 = any free port. */
  port: number;
  region: string;
  accountId: string;
  logger?: Logger;
  /** Answered before route matching, for `/__local/…`. */
  extra?: ExtraHandler;
  integrationTimeoutMs?: number;
}

export interface HttpGateway {
  readonly url: string;
  readonly port: number;
  /** Requests being answered now. */
  readonly inFlight: number;
  /** Stop accepting requests (new ones get 503 and the connection closes); those in progress continue. */
  stopAccepting(): void;
  /** Wait up to `graceMs` for requests in progress, then close every connection. */
  close(graceMs?: number): Promise<void>;
}

interface CompiledRoute extends GatewayRoute {
  segments: string[];
  isDefault: boolean;
  greedy: boolean;
  params: number;
}

function compile(entry: GatewayRoute): CompiledRoute {
  const isDefault = entry.route.path === '*';
  const segments = isDefault ? [] : entry.route.path.split('/').slice(1);
  const last = segments[segments.length - 1] ?? '';
  return {
    ...entry,
    segments,
    isDefault,
    greedy: /^\{[^}]+\+\}$/.test(last),
    params: segments.filter((s) => s.startsWith('{')).length,
  };
}

/** API Gateway's precedence, as an ordering of the routes. */
function byPrecedence(a: CompiledRoute, b: CompiledRoute): number {
  return (
    Number(a.isDefault) - Number(b.isDefault) ||
    Number(a.greedy) - Number(b.greedy) ||
    a.params - b.params ||
    b.segments.length - a.segments.length ||
    Number(a.route.method === '*') - Number(b.route.method === '*')
  );
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

function match(
  route: CompiledRoute,
  method: string,
  pathSegments: readonly string[],
): Record<string, string> | undefined {
  if (route.route.method !== '*' && route.route.method !== method) return undefined;
  if (route.isDefault) return {};
  const params: Record<string, string> = {};
  for (let i = 0; i < route.segments.length; i++) {
    const pattern = route.segments[i] ?? '';
    const greedy = /^\{([^}]+)\+\}$/.exec(pattern);
    if (greedy?.[1]) {
      const rest = pathSegments.slice(i);
      if (rest.length === 0 || rest.join('/') === '') return undefined;
      params[greedy[1]] = safeDecode(rest.join('/'));
      return params;
    }
    const segment = pathSegments[i];
    if (segment === undefined) return undefined;
    const param = /^\{([^}]+)\}$/.exec(pattern);
    if (param?.[1]) {
      if (segment === '') return undefined;
      params[param[1]] = safeDecode(segment);
    } else if (pattern !== segment) return undefined;
  }
  return pathSegments.length === route.segments.length ? params : undefined;
}

const TEXT_TYPES = /^(text\/|application\/(json|xml|javascript|x-www-form-urlencoded|[\w.+-]+\+(json|xml)))/i;

function isText(contentType: string | undefined, body: Buffer): boolean {
  if (contentType) return TEXT_TYPES.test(contentType.trim());
  // No content type: text when the bytes are valid UTF-8 (assumption; API Gateway's rule is undocumented).
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(body);
    return true;
  } catch {
    return false;
  }
}

/** `05/Jan/2026:09:00:00 +0000`, API Gateway's requestContext.time. */
function apiGatewayTime(ms: number): string {
  const d = new Date(ms);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${pad(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} +0000`;
}

/** Headers as API Gateway v2 passes them: lower-case names, repeats joined with commas, no cookie header. */
function eventHeaders(request: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  const raw = request.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = (raw[i] ?? '').toLowerCase();
    const value = raw[i + 1] ?? '';
    if (name === 'cookie') continue;
    headers[name] = headers[name] === undefined ? value : `${headers[name]},${value}`;
  }
  return headers;
}

export interface GatewayRequest {
  request: IncomingMessage;
  body: Buffer;
  route: HttpRoute;
  pathParameters: Record<string, string>;
  requestId: string;
  nowMs: number;
  accountId: string;
}

/** The payload-format-2.0 event for one request. */
export function buildHttpApiEvent(input: GatewayRequest): Record<string, unknown> {
  const { request, body, route, pathParameters, requestId, nowMs, accountId } = input;
  const rawUrl = request.url ?? '/';
  const queryIndex = rawUrl.indexOf('?');
  const rawPath = queryIndex === -1 ? rawUrl : rawUrl.slice(0, queryIndex);
  const rawQueryString = queryIndex === -1 ? '' : rawUrl.slice(queryIndex + 1);
  const query: Record<string, string> = {};
  for (const [key, value] of new URLSearchParams(rawQueryString)) {
    query[key] = query[key] === undefined ? value : `${query[key]},${value}`;
  }
  const cookieHeader = request.headers.cookie;
  const cookies = cookieHeader ? cookieHeader.split(/;\s*/).filter((c) => c !== '') : [];
  const headers = eventHeaders(request);
  const host = headers.host ?? 'localhost';
  const text = body.length > 0 && isText(headers['content-type'], body);
  const sourceIp = (request.socket.remoteAddress ?? '127.0.0.1').replace(/^::ffff:/, '');
  return {
    version: '2.0',
    routeKey: route.routeKey,
    rawPath,
    rawQueryString,
    ...(cookies.length > 0 ? { cookies } : {}),
    headers,
    ...(Object.keys(query).length > 0 ? { queryStringParameters: query } : {}),
    requestContext: {
      accountId,
      apiId: 'local',
      domainName: host,
      domainPrefix: host.split('.')[0] ?? host,
      http: {
        method: request.method ?? 'GET',
        path: rawPath,
        protocol: `HTTP/${request.httpVersion}`,
        sourceIp,
        userAgent: headers['user-agent'] ?? '',
      },
      requestId,
      routeKey: route.routeKey,
      stage: '$default',
      time: apiGatewayTime(nowMs),
      timeEpoch: nowMs,
    },
    ...(Object.keys(pathParameters).length > 0 ? { pathParameters } : {}),
    ...(body.length > 0 ? { body: text ? body.toString('utf8') : body.toString('base64') } : {}),
    isBase64Encoded: body.length > 0 && !text,
  };
}

export interface HttpReply {
  status: number;
  headers: Record<string, string | string[]>;
  body: Buffer;
}

function jsonReply(status: number, message: string): HttpReply {
  return {
    status,
    headers: { 'content-type': 'application/json' },
    body: Buffer.from(JSON.stringify({ message })),
  };
}

/**
 * Turn a handler's result into the HTTP reply, as API Gateway does for payload format 2.0; undefined when
 * the result claims to be a proxy response but is malformed (API Gateway answers 500 then).
 */
export function replyFromResult(value: unknown): HttpReply | undefined {
  if (typeof value === 'object' && value !== null && !Array.isArray(value) && 'statusCode' in value) {
    const status: unknown = Reflect.get(value, 'statusCode');
    const body: unknown = Reflect.get(value, 'body');
    const headers: unknown = Reflect.get(value, 'headers');
    const cookies: unknown = Reflect.get(value, 'cookies');
    const base64: unknown = Reflect.get(value, 'isBase64Encoded');
    if (typeof status !== 'number' || !Number.isInteger(status) || status < 100 || status > 599)
      return undefined;
    if (body !== undefined && body !== null && typeof body !== 'string') return undefined;
    const out: Record<string, string | string[]> = {};
    if (headers !== undefined && headers !== null) {
      if (typeof headers !== 'object') return undefined;
      for (const [name, v] of Object.entries(headers)) {
        if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') return undefined;
        out[name.toLowerCase()] = String(v);
      }
    }
    if (Array.isArray(cookies) && cookies.length > 0) out['set-cookie'] = cookies.map(String);
    const text = typeof body === 'string' ? body : '';
    return {
      status,
      headers: out,
      body: base64 === true ? Buffer.from(text, 'base64') : Buffer.from(text, 'utf8'),
    };
  }
  const text = typeof value === 'string' ? value : (JSON.stringify(value) ?? 'null');
  return { status: 200, headers: { 'content-type': 'application/json' }, body: Buffer.from(text, 'utf8') };
}

/**
 * Start the gateway.
 *
 * @throws Error when the port cannot be bound (the message names host and port).
 */
export async function startHttpGateway(options: HttpGatewayOptions): Promise<HttpGateway> {
  const logger = options.logger ?? silentLogger;
  const routes = options.routes.map(compile).sort(byPrecedence);
  const integrationTimeoutMs = options.integrationTimeoutMs ?? INTEGRATION_TIMEOUT_MS;
  const sockets = new Set<Socket>();
  let accepting = true;
  let inFlight = 0;
  const idleWaiters = new Set<() => void>();

  function send(response: ServerResponse, reply: HttpReply, requestId: string): void {
    if (response.headersSent || response.destroyed) return;
    response.writeHead(reply.status, {
      ...reply.headers,
      'content-length': reply.body.length,
      'apigw-requestid': requestId,
      ...(accepting ? {} : { connection: 'close' }),
    });
    response.end(reply.body);
  }

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const started = performance.now();
    const requestId = randomUUID();
    const method = (request.method ?? 'GET').toUpperCase();
    const path = (request.url ?? '/').split('?')[0] ?? '/';
    if (!accepting) {
      send(response, jsonReply(503, 'Service Unavailable'), requestId);
      return;
    }
    let body: Buffer;
    try {
      body = await readBody(request, MAX_PAYLOAD_BYTES);
    } catch (error) {
      if (error instanceof BodyTooLargeError) {
        send(response, jsonReply(413, 'Request Entity Too Large'), requestId);
        return;
      }
      throw error;
    }
    if (options.extra && (await options.extra(request, response, body))) return;
    const pathSegments = path.split('/').slice(1);
    let matched: { route: CompiledRoute; params: Record<string, string> } | undefined;
    for (const route of routes) {
      const params = match(route, method, pathSegments);
      if (params) {
        matched = { route, params };
        break;
      }
    }
    if (!matched) {
      send(response, jsonReply(404, 'Not Found'), requestId);
      logger.info('local.http.request', { method, path, status: 404, requestId });
      return;
    }
    const { route, params } = matched;
    const event = buildHttpApiEvent({
      request,
      body,
      route: route.route,
      pathParameters: params,
      requestId,
      nowMs: Date.now(),
      accountId: options.accountId,
    });
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), integrationTimeoutMs);
    });
    const result = await Promise.race([route.invoker.invoke(event, { requestId }), timedOut]);
    clearTimeout(timer);
    let reply: HttpReply;
    let problem: Record<string, unknown> | undefined;
    if (result === 'timeout') {
      reply = jsonReply(503, 'Service Unavailable');
      problem = { reason: `no answer within ${integrationTimeoutMs} ms` };
    } else if (!result.ok) {
      reply = jsonReply(500, 'Internal Server Error');
      problem = { kind: result.kind, error: result.error };
    } else {
      const mapped = replyFromResult(result.value);
      reply = mapped ?? jsonReply(500, 'Internal Server Error');
      if (!mapped)
        problem = {
          reason: 'malformed Lambda proxy response (statusCode, headers or body of the wrong type)',
        };
    }
    send(response, reply, requestId);
    const fields = {
      method,
      path,
      route: route.route.routeKey,
      function: route.invoker.functionName,
      status: reply.status,
      ms: Math.round(performance.now() - started),
      requestId,
      ...problem,
    };
    if (reply.status >= 500) logger.error('local.http.request', fields);
    else logger.info('local.http.request', fields);
  }

  const server: Server = createServer((request, response) => {
    inFlight++;
    handle(request, response)
      .catch((error: unknown) => {
        logger.error('local.http.internal_error', { error });
        send(response, jsonReply(500, 'Internal Server Error'), 'local');
      })
      .finally(() => {
        inFlight--;
        if (inFlight === 0) for (const wake of idleWaiters) wake();
      });
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  // Longer than typical client keep-alive, so clients do not reuse a socket the server just closed.
  server.keepAliveTimeout = 65_000;
  const { origin, port } = await listen(server, options.host ?? '127.0.0.1', options.port);
  return {
    url: origin,
    port,
    get inFlight() {
      return inFlight;
    },
    stopAccepting() {
      accepting = false;
      server.close();
      server.closeIdleConnections();
    },
    async close(graceMs = 5_000) {
      accepting = false;
      if (server.listening) server.close();
      server.closeIdleConnections();
      if (inFlight > 0) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(done, graceMs);
          function done(): void {
            clearTimeout(timer);
            idleWaiters.delete(done);
            resolve();
          }
          idleWaiters.add(done);
        });
      }
      for (const socket of sockets) socket.destroy();
    },
  };
}
