/**
 * The Fxiaoke Open API emulator: a standalone HTTP server faithful to `shared/docs/fxiaoke-openapi.md`
 * that any client, in any language, can use instead of `https://open.fxiaoke.com`.
 *
 * Request pipeline for an Open API path (every answer is HTTP 200 + Fxiaoke's envelope, spec §1.2):
 *   1. route (unknown path → 10006 with Fxiaoke's text), read the body (size-limited), parse JSON
 *      (empty → 12004, malformed → 32000);
 *   2. token paths: concurrency rule, token limit (10/min) → 14001; then credentials;
 *   3. data paths: "no quota purchased" (30003) → authentication (10013/20016/…) → daily quota (30002) →
 *      per-interface window (100 calls / 20 s → 14001) → injected faults (30004, -1, 50009, 30002);
 *   4. the handler (validate, then one commit to the store), change pushes queued asynchronously;
 *   5. `dropResponseAfterCommit` destroys the socket instead of answering.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { readFxiaokeConfig } from '../../../lib/fxiaoke/config.ts';
import { registerSecret, silentLogger } from '../../../lib/log.ts';
import type {
  FxiaokeEditRequest,
  FxiaokeEmulator,
  FxiaokeEmulatorIdentity,
  FxiaokeEmulatorOptions,
  FxiaokeEmulatorStats,
  FxiaokeFaultSpec,
  FxiaokeImportRequest,
} from './api.ts';
import { buildRoutes, type CallContext, type RouteDeps } from './api-routes.ts';
import { handleControl } from './control.ts';
import { ADMIN_EMPLOYEE_ID, Directory, SALES_REP_EMPLOYEE_ID } from './directory.ts';
import { type ChangeEvent, type ChangeKind, CrmEngine, type WriteOptions } from './engine.ts';
import { FxiaokeApiError } from './errors.ts';
import { newTraceId } from './ids.ts';
import { DailyQuota, FaultState, SlidingWindowCounter } from './limits.ts';
import { BUILTIN_OBJECTS, ObjectRegistry } from './metadata.ts';
import { type PendingPush, PushDispatcher } from './push.ts';
import { PushJournal } from './push-journal.ts';
import { seedDemoData } from './seed.ts';
import { RecordStore } from './store.ts';
import { corpIdFor, TokenService } from './tokens.ts';

export const DEFAULT_FXIAOKE_EMULATOR_PORT = 8091;
export const DEFAULT_TENANT_ID = 590163;
/** ASSUMPTION (spec: UNKNOWN): Fxiaoke's body limit is undocumented; 5 MiB is ample for CRM calls. */
export const DEFAULT_MAX_BODY_BYTES = 5 * 1024 * 1024;
export const DEFAULT_PUSH_RETRY_DELAYS_MS = [2_000, 10_000, 60_000];
/** Token endpoint: "10 calls/minute" (spec §2.1). */
export const DEFAULT_TOKEN_RATE_LIMIT = { calls: 10, windowMs: 60_000 };
const DEFAULT_RATE_LIMIT = { calls: 100, windowMs: 20_000 };
const DEFAULT_EVENT_TYPES: Record<ChangeKind, string | false> = {
  create: 'add',
  update: 'update',
  invalid: 'invalid',
  recover: 'recover',
  delete: 'delete',
};
const TOKENS_FILE = 'tokens.json';
const OBJECTS_DIR = 'objects';
/** Distinct paths tracked in stats.calls; a fuzzer cannot grow the map without bound. */
const MAX_STAT_PATHS = 500;
const MAX_TRACE_IDS_REMEMBERED = 100_000;
const RECENT_REQUESTS_KEPT = 200;
const CLOSE_GRACE_MS = 5_000;

export interface RecentRequest {
  at: number;
  path: string;
  errorCode: number | null;
  ms: number;
}

/** Identity from the FXIAOKE_* variables with sandbox defaults (same source as the client and webhook). */
export function identityFromEnv(env: NodeJS.ProcessEnv = process.env): FxiaokeEmulatorIdentity {
  const config = readFxiaokeConfig(env, { sandbox: true });
  return {
    appId: config.appId,
    appSecret: config.appSecret,
    permanentCode: config.permanentCode,
    openUserId: config.openUserId,
    aesKey: config.aesKey,
    enterpriseAccount: config.enterpriseAccount,
  };
}

function loadObjectFiles(dataDir: string | undefined): unknown[] {
  if (!dataDir) return [];
  const dir = join(dataDir, OBJECTS_DIR);
  let names: string[];
  try {
    names = readdirSync(dir).filter((name) => name.endsWith('.json'));
  } catch {
    return [];
  }
  return names.sort().flatMap((name) => {
    const json: unknown = JSON.parse(readFileSync(join(dir, name), 'utf8'));
    return Array.isArray(json) ? json : [json];
  });
}

type BodyResult = { ok: true; text: string } | { ok: false; reason: 'too-large' | 'aborted' };

/** Read a request body up to `maxBytes`; beyond that keep draining (bounded) so the client gets an answer. */
function readBody(req: IncomingMessage, maxBytes: number): Promise<BodyResult> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        tooLarge = true;
        chunks.length = 0;
        // A client streaming far beyond the limit is cut off rather than drained forever.
        if (size > maxBytes * 4) {
          req.destroy();
          resolve({ ok: false, reason: 'aborted' });
        }
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () =>
      resolve(
        tooLarge
          ? { ok: false, reason: 'too-large' }
          : { ok: true, text: Buffer.concat(chunks).toString('utf8') },
      ),
    );
    req.on('error', () => resolve({ ok: false, reason: 'aborted' }));
  });
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json;charset=UTF-8',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

/**
 * Start the emulator and resolve once it listens.
 *
 * @throws {ConfigError} when no identity is given and the FXIAOKE_* variables are invalid.
 * @throws {StoreCorruptError} when `dataDir` holds an unreadable store.
 * @throws {ObjectSpecError} when declared objects (options or `<dataDir>/objects/*.json`) are inconsistent.
 */
export async function startFxiaokeEmulator(options: FxiaokeEmulatorOptions = {}): Promise<FxiaokeEmulator> {
  const identity = options.identity ?? identityFromEnv();
  for (const secret of [identity.appSecret, identity.permanentCode, identity.aesKey]) registerSecret(secret);
  const logger = options.logger ?? silentLogger;
  const clock = options.clock ?? Date.now;
  const tenantId = options.tenantId ?? DEFAULT_TENANT_ID;
  const corpId = corpIdFor(identity.enterpriseAccount);
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const eventTypes = { ...DEFAULT_EVENT_TYPES, ...options.pushEventTypes };

  const registry = new ObjectRegistry([
    ...BUILTIN_OBJECTS,
    ...(options.objects ?? []),
    ...loadObjectFiles(options.dataDir),
  ]);
  const store = new RecordStore({
    dataDir: options.dataDir,
    masterFieldOf: (apiName) => registry.get(apiName)?.masterField?.apiName,
    logger,
  });
  const directory = new Directory(identity.openUserId, identity.enterpriseAccount);
  const engine = new CrmEngine({
    registry,
    store,
    directory,
    clock,
    tenantId,
    detailUpdateMode: options.detailUpdateMode ?? 'replace',
  });
  const tokens = new TokenService(identity, clock);
  tokens.import(store.readAux(TOKENS_FILE));
  const faults = new FaultState();
  const rateLimit = options.rateLimit === undefined ? DEFAULT_RATE_LIMIT : options.rateLimit;
  const apiWindow = rateLimit === false ? undefined : new SlidingWindowCounter(rateLimit, clock);
  const tokenLimit = options.tokenRateLimit === undefined ? DEFAULT_TOKEN_RATE_LIMIT : options.tokenRateLimit;
  const tokenWindow = tokenLimit === false ? undefined : new SlidingWindowCounter(tokenLimit, clock);
  const dailyQuota = options.dailyQuota === undefined ? undefined : new DailyQuota(options.dailyQuota, clock);
  let callbackUrls = [...(options.callbackUrls ?? [])];
  // Read (and compact) the pushes the previous run left undelivered before anything can queue new ones.
  const pushJournal = store.dataDir === undefined ? undefined : new PushJournal(store.dataDir, logger);
  const restoredPushes = pushJournal?.load() ?? [];
  const pushes = new PushDispatcher({
    aesKey: identity.aesKey,
    enterpriseAccount: identity.enterpriseAccount,
    clock,
    retryDelaysMs: options.pushRetryDelaysMs ?? DEFAULT_PUSH_RETRY_DELAYS_MS,
    concurrency: options.pushConcurrency ?? 8,
    timeoutMs: options.pushTimeoutMs ?? 3_000,
    logger,
    journal: pushJournal,
  });
  // Pushes still pending (restored from the previous run, or waiting for a retry) follow the new callback.
  const setCallbackUrls = (urls: string[]): void => {
    callbackUrls = [...urls];
    pushes.readdress(callbackUrls);
  };

  if (store.isEmpty && options.seed !== false) seedDemoData(engine);

  let calls: Record<string, number> = {};
  let rateLimited = 0;
  let tokenCallsRefused = 0;
  const recent: RecentRequest[] = [];
  const traceIds = new Set<string>();
  let tokenCallsInFlight = 0;
  /** API requests being handled; close() lets them finish before the store closes. */
  let requestsInFlight = 0;
  let onIdle: (() => void) | undefined;

  const emit = (events: readonly ChangeEvent[]): void => {
    if (callbackUrls.length === 0) return;
    for (const event of events) {
      const eventType = eventTypes[event.kind];
      if (eventType === false) continue;
      pushes.enqueue(callbackUrls, {
        tenantId,
        eventType,
        apiName: event.apiName,
        dataId: event.dataId,
        changedAtMs: event.changedAtMs,
      });
    }
  };

  const deps: RouteDeps = {
    engine,
    registry,
    tokens,
    directory,
    enterpriseAccount: identity.enterpriseAccount,
    corpId,
    thirdTraceIdPolicy: options.thirdTraceId ?? 'require',
    approvalFlowObjects: new Set(options.approvalFlowObjects ?? []),
    rememberTraceId(id) {
      if (traceIds.has(id)) return false;
      if (traceIds.size >= MAX_TRACE_IDS_REMEMBERED) {
        const oldest = traceIds.values().next().value;
        if (oldest !== undefined) traceIds.delete(oldest);
      }
      traceIds.add(id);
      return true;
    },
    emit,
  };
  const routes = buildRoutes();

  const countCall = (path: string): void => {
    const key = Object.hasOwn(calls, path) || Object.keys(calls).length < MAX_STAT_PATHS ? path : '(other)';
    calls[key] = (calls[key] ?? 0) + 1;
  };

  const envelope = (errorCode: number, errorMessage: string, errorDescription: string, payload = {}) => ({
    traceId: newTraceId(identity.enterpriseAccount),
    errorCode,
    errorMessage,
    errorDescription,
    ...payload,
  });

  const answer = (
    res: ServerResponse,
    path: string,
    started: number,
    body: ReturnType<typeof envelope>,
  ): void => {
    recent.push({ at: clock(), path, errorCode: body.errorCode, ms: Date.now() - started });
    if (recent.length > RECENT_REQUESTS_KEPT) recent.shift();
    sendJson(res, 200, body);
  };

  const fail = (res: ServerResponse, path: string, started: number, error: FxiaokeApiError): void => {
    answer(res, path, started, envelope(error.errorCode, error.errorMessage, error.errorDescription));
  };

  async function handleApi(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const started = Date.now();
    const path = url.pathname;
    countCall(path);
    const route = routes.get(path);
    if (!route) {
      // Fxiaoke's gateway answers unknown paths with 10006 and this text (spec §7).
      answer(
        res,
        path,
        started,
        envelope(
          10006,
          `the request uri=[${path}], apiName=[null] is not exists`,
          `接口 ${path} 不存在 / no such Open API path`,
        ),
      );
      req.resume();
      return;
    }
    const isToken = route.kind === 'token';
    let concurrent = false;
    if (isToken) {
      concurrent = tokenCallsInFlight > 0;
      tokenCallsInFlight += 1;
      res.on('close', () => {
        tokenCallsInFlight -= 1;
      });
    }
    const body = await readBody(req, maxBodyBytes);
    if (!body.ok) {
      if (body.reason === 'too-large') {
        fail(
          res,
          path,
          started,
          new FxiaokeApiError(
            32000,
            `请求体超过 ${maxBodyBytes} 字节 / request body exceeds ${maxBodyBytes} bytes`,
          ),
        );
      }
      return;
    }
    const latency = (options.latencyMs ?? 0) + faults.latencyMs;
    if (latency > 0) await sleep(latency);
    try {
      if (req.method !== 'POST') {
        throw new FxiaokeApiError(32000, `仅支持 POST，收到 ${req.method ?? ''} / only POST is supported`);
      }
      if (isToken) {
        if (concurrent && options.concurrentTokenCalls !== 'allow') {
          tokenCallsRefused += 1;
          throw new FxiaokeApiError(
            14001,
            '获取 token 的接口不允许并发调用 / token endpoint must not be called concurrently (spec §2.1)',
          );
        }
        if (tokenWindow && !tokenWindow.tryAcquire(path)) {
          tokenCallsRefused += 1;
          throw new FxiaokeApiError(
            14001,
            'token 接口调用超过每分钟限制 / token endpoint limit per minute exceeded',
          );
        }
      }
      const json = parseJsonBody(body.text);
      const call: CallContext = { path, body: json, headers: req.headers, searchParams: url.searchParams };
      if (!isToken) {
        if (faults.noQuotaPurchased) {
          faults.countFired('noQuotaPurchased');
          throw new FxiaokeApiError(
            30003,
            '租户没有购买 Open API 资源包 / the tenant has bought no Open API quota',
          );
        }
        preflight(route.kind, call, path);
      }
      const payload = route.handle(call, deps);
      if (!isToken && faults.fires('dropResponseAfterCommit', path)) {
        // The write is committed (and its push queued); the caller never learns the outcome.
        recent.push({ at: clock(), path, errorCode: null, ms: Date.now() - started });
        res.socket?.destroy();
        return;
      }
      answer(res, path, started, envelope(0, isToken ? 'success' : 'OK', 'success', payload));
    } catch (error) {
      if (error instanceof FxiaokeApiError) {
        fail(res, path, started, error);
        return;
      }
      logger.error('fxiaoke_emulator.internal_error', { path, error });
      fail(
        res,
        path,
        started,
        new FxiaokeApiError(-2, `模拟器内部错误 / emulator internal error: ${String(error)}`),
      );
    }
  }

  /** Authentication is checked by the handler; quotas, windows and faults before it runs. */
  function preflight(kind: string, call: CallContext, path: string): void {
    // Authenticate first so that a bad token is reported as such, not as a quota problem.
    if (kind === 'crm' || kind === 'user') {
      // Handlers authenticate again (cheap Map lookups); doing it here keeps the order of checks faithful.
      probeAuth(call);
    }
    if (dailyQuota && !dailyQuota.tryAcquire()) {
      throw new FxiaokeApiError(
        30002,
        '当天 Open API 调用次数已用完 / daily Open API quota used up (resets 00:00 GMT+8)',
      );
    }
    if (apiWindow && !apiWindow.tryAcquire(path)) {
      rateLimited += 1;
      throw new FxiaokeApiError(
        14001,
        `接口 ${path} 调用超过限制（${rateLimit === false ? '' : `${rateLimit.calls} 次 / ${rateLimit.windowMs / 1000} 秒`}）/ per-interface limit exceeded`,
      );
    }
    if (faults.fires('dailyQuotaExceeded', path)) {
      throw new FxiaokeApiError(
        30002,
        '当天访问频次超限（注入的故障）/ daily quota exceeded (injected fault)',
      );
    }
    if (faults.fires('perSecondThrottle', path)) {
      throw new FxiaokeApiError(30004, '秒频次超限（注入的故障）/ per-second throttle (injected fault)');
    }
    if (faults.fires('systemBusy', path)) {
      throw new FxiaokeApiError(-1, '系统繁忙（注入的故障）/ system busy (injected fault)');
    }
    if (faults.fires('serviceError', path)) {
      throw new FxiaokeApiError(50009, '服务异常（注入的故障）/ service error (injected fault)');
    }
  }

  function probeAuth(call: CallContext): void {
    const authorization = call.headers.authorization;
    const token =
      typeof authorization === 'string'
        ? /^Bearer\s+(\S+)$/i.exec(authorization.trim())?.[1]
        : typeof call.body.corpAccessToken === 'string'
          ? call.body.corpAccessToken
          : undefined;
    if (token === undefined) return; // the handler reports the missing parameter precisely
    if (!tokens.validate(token)) {
      throw new FxiaokeApiError(20016, 'corpAccessToken 不存在或已过期 / token is unknown or expired');
    }
  }

  const stats = (): FxiaokeEmulatorStats => ({
    calls: { ...calls },
    tokensIssued: tokens.issuedCount,
    tokenCalls: (calls['/cgi/corpAccessToken/get/V2'] ?? 0) + (calls['/oauth2.0/token'] ?? 0),
    pushes: pushes.counters(),
    rateLimited,
    records: store.counts(),
    tokenCallsRefused,
    faultsFired: faults.fired(),
  });

  const setFaults = (spec: FxiaokeFaultSpec): void => {
    faults.set(spec);
    if (spec.expireTokens) {
      tokens.revokeAll();
      faults.countFired('expireTokens');
    }
  };

  const edit = async (request: FxiaokeEditRequest): Promise<{ dataId: string }> => {
    const writeOptions: WriteOptions = {
      actor: { employeeId: request.editor ?? SALES_REP_EMPLOYEE_ID, bypassPermissions: true },
      skipDataStatusValidate: true,
      detailUpdateMode: 'replace',
    };
    const result = request.id
      ? engine.update(request.apiName, { ...request.fields, _id: request.id }, request.details, writeOptions)
      : engine.create(request.apiName, request.fields, request.details, writeOptions);
    // A salesperson's edit always runs the CRM's workflows, so it always pushes.
    emit(result.events);
    return { dataId: result.dataId };
  };

  const importRecords = async (request: FxiaokeImportRequest): Promise<{ ids: string[] }> => {
    const writeOptions: WriteOptions = {
      actor: { employeeId: request.editor ?? ADMIN_EMPLOYEE_ID, bypassPermissions: true },
      skipDataStatusValidate: true,
    };
    const ids: string[] = [];
    for (const row of request.records) {
      const result = engine.create(request.apiName, row.fields, row.details, writeOptions);
      // An import runs the object's workflows like any UI create, so every record pushes.
      emit(result.events);
      ids.push(result.dataId);
    }
    return { ids };
  };

  const withDetails = (apiName: string, id: string): Record<string, unknown> | undefined => {
    const record = store.get(apiName, id);
    if (!record) return undefined;
    const details = engine.detailsOf(apiName, id);
    return Object.keys(details).length > 0 ? { ...record, details } : { ...record };
  };

  const reset = (): void => {
    store.clear();
    if (options.seed !== false) seedDemoData(engine);
  };

  const openSockets = new Set<Socket>();
  let closing: Promise<void> | undefined;

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://emulator.invalid');
    const isControl = url.pathname === '/' || url.pathname.startsWith('/__emulator');
    if (isControl && options.controlEnabled) {
      void handleControl(req, res, url, {
        stats,
        resetStats: emulator.resetStats,
        setFaults,
        faults: () => faults.spec,
        setCallbackUrls,
        callbackUrls: () => callbackUrls,
        edit,
        importRecords,
        pushTraces: () => pushes.traces(),
        finishApproval: (apiName, id, approved) => {
          emit(engine.finishApproval(apiName, id, approved, { employeeId: '1000', bypassPermissions: true }));
        },
        engine,
        registry,
        store,
        recent: () => [...recent],
        reset,
        insertRecords: (apiName, rows) =>
          engine.bulkInsert(apiName, rows, { employeeId: '1000', bypassPermissions: true }),
        maxBodyBytes,
        logger,
      }).catch((error: unknown) => {
        logger.error('fxiaoke_emulator.control_error', { error });
        if (!res.headersSent) sendJson(res, 500, { error: String(error) });
      });
      return;
    }
    requestsInFlight += 1;
    handleApi(req, res, url)
      .catch((error: unknown) => {
        logger.error('fxiaoke_emulator.request_failed', { error });
        if (!res.headersSent) sendJson(res, 200, envelope(-2, '系统错误', String(error)));
      })
      .finally(() => {
        requestsInFlight -= 1;
        if (requestsInFlight === 0) onIdle?.();
      });
  });
  server.on('connection', (socket) => {
    openSockets.add(socket);
    socket.on('close', () => openSockets.delete(socket));
  });
  server.on('clientError', (_error, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? DEFAULT_FXIAOKE_EMULATOR_PORT, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  const host = options.host ?? '127.0.0.1';
  const urlHost = host.includes(':') ? `[${host}]` : host;
  if (restoredPushes.length > 0) {
    logger.info('fxiaoke_emulator.pushes_restored', { count: restoredPushes.length });
    pushes.restore(restoredPushes);
  }

  const emulator: FxiaokeEmulator = {
    url: `http://${urlHost}:${port}`,
    port,
    corpId,
    stats,
    resetStats() {
      calls = {};
      rateLimited = 0;
      tokenCallsRefused = 0;
      tokens.resetCount();
      pushes.resetCounters();
      faults.resetCounts();
    },
    setFaults,
    setCallbackUrls,
    edit,
    importRecords,
    pushTraces: () => pushes.traces(),
    async getRecord(apiName, id) {
      return withDetails(apiName, id);
    },
    async listRecords(apiName) {
      return engine.list(apiName).map((record) => ({ ...record }));
    },
    async insertRecords(apiName, rows) {
      return engine.bulkInsert(apiName, rows, { employeeId: '1000', bypassPermissions: true });
    },
    pushesSettled: () => pushes.settled(),
    close() {
      closing ??= (async () => {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        // Requests already being handled finish (and commit) before the store closes; bounded, so a
        // client that never sends the rest of its body cannot hold the shutdown.
        if (requestsInFlight > 0) {
          await Promise.race([
            new Promise<void>((resolve) => {
              onIdle = resolve;
            }),
            sleep(CLOSE_GRACE_MS),
          ]);
        }
        const pending: PendingPush[] = await pushes.close();
        pushJournal?.rewrite(pending);
        pushJournal?.close();
        if (store.persistent) store.writeAux(TOKENS_FILE, tokens.export());
        if (pending.length > 0) {
          logger.warn(
            store.persistent ? 'fxiaoke_emulator.pushes_persisted' : 'fxiaoke_emulator.pushes_dropped',
            { count: pending.length },
          );
        }
        store.close();
        for (const socket of openSockets) socket.destroy();
        await closed;
      })();
      return closing;
    },
  };
  return emulator;
}

/**
 * Parse a request body as Fxiaoke would: empty → 12004 (POST的数据包为空), not a JSON object → 32000.
 * @throws {FxiaokeApiError}
 */
function parseJsonBody(text: string): Record<string, unknown> {
  if (text.trim() === '') throw new FxiaokeApiError(12004, '请求体为空 / request body is empty');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new FxiaokeApiError(
      32000,
      `请求体不是合法的 JSON / request body is not valid JSON: ${String(error)}`,
    );
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new FxiaokeApiError(32000, '请求体必须是 JSON 对象 / request body must be a JSON object');
  }
  return Object.fromEntries(Object.entries(json));
}
