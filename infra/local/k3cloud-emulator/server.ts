/**
 * The K3Cloud (金蝶云星空) emulator: a standalone HTTP server speaking the Web API wire protocol of
 * `shared/docs/k3cloud-webapi.md`, usable by any client in any language — including Kingdee's official
 * Java and Python SDKs, unchanged (spec §10).
 *
 * Request path: route → read body (bounded) → latency → decode/bind → faults → authenticate → operation →
 * response. Business outcomes are always HTTP 200 with K3's envelope; the emulator never crashes on input.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { readK3CloudConfig } from '../../../lib/k3cloud/config.ts';
import { type Logger, silentLogger } from '../../../lib/log.ts';
import type {
  K3CloudEmulator,
  K3CloudEmulatorOptions,
  K3EmulatorIdentity,
  K3EmulatorStats,
  K3FaultSpec,
} from './api.ts';
import { identityOf } from './api.ts';
import {
  appDataSignature,
  DATA_CENTER_NAME,
  DATA_CENTER_NUMBER,
  EMULATED_DISPLAY_VERSION,
  gatewayClientSecrets,
  gatewaySignature,
  LOGIN_TEXT,
  type LoginSignAlgorithm,
  loginFailure,
  loginSign,
  loginSuccess,
  type Session,
  SessionStore,
  safeEqual,
} from './auth.ts';
import { Engine, failureFrom, type OperationContext, requireObject } from './engine.ts';
import { failureEnvelope, K3Failure, MSG, sessionLostEnvelope, wrapQueryError } from './envelope.ts';
import { FaultState, faultSpecSchema } from './faults.ts';
import { FORMS } from './forms.ts';
import { CALL_LIMIT, networkLock, OURS } from './messages.ts';
import { FormRegistry } from './metadata.ts';
import { allocate, cancelAllocate, executeOperation, push, statusOperation } from './operations.ts';
import { DEFAULT_MAX_QUERY_LIMIT, runQuery } from './query.ts';
import { seedDemoCompany } from './seed.ts';
import { RecordStore } from './store.ts';
import { DEFAULT_UTC_OFFSET_MINUTES, getCI, isPlainObject } from './values.ts';
import { renderRecord as renderRecordFn, viewOperation as viewOperationFn } from './view.ts';
import { BodyError, bindArguments, decodeBody, parseCookies, parseRoute } from './wire.ts';

export const DEFAULT_K3CLOUD_EMULATOR_PORT = 8090;
export const DEFAULT_SESSION_IDLE_TIMEOUT_MS = 20 * 60_000;
export const DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024;
/** How long close() lets in-flight requests finish before cutting connections. */
const CLOSE_GRACE_MS = 2_000;
const REQUEST_LOG_SIZE = 200;

type OperationName =
  | 'ValidateUser'
  | 'LoginByAppSecret'
  | 'LoginBySign'
  | 'LoginByAppSecret2'
  | 'LoginBySign2'
  | 'GetDataCenterList'
  | 'Save'
  | 'BatchSave'
  | 'Draft'
  | 'View'
  | 'Submit'
  | 'Audit'
  | 'UnAudit'
  | 'Delete'
  | 'ExecuteBillQuery'
  | 'BillQuery'
  | 'Push'
  | 'ExcuteOperation'
  | 'ExecuteOperation'
  | 'Allocate'
  | 'CancelAllocate';

interface OperationSpec {
  name: OperationName;
  params: readonly string[];
  auth: 'none' | 'login' | 'session';
  /** ExecuteBillQuery-style: errors wrapped as `[[…]]` */
  query?: boolean;
}

const FORM_DATA = ['formid', 'data'] as const;

/** Service methods the emulator serves (spec §1.3), keyed by lower-case `service.method`. */
const OPERATIONS: ReadonlyMap<string, OperationSpec> = new Map(
  (
    [
      ['AuthService.ValidateUser', { params: ['acctID', 'username', 'password', 'lcid'], auth: 'login' }],
      [
        'AuthService.LoginByAppSecret',
        { params: ['acctID', 'username', 'appId', 'appSecret', 'lcid'], auth: 'login' },
      ],
      [
        'AuthService.LoginBySign',
        { params: ['acctID', 'username', 'appId', 'timestamp', 'sign', 'lcid'], auth: 'login' },
      ],
      [
        'AuthService.LoginByAppSecret2',
        { params: ['acctID', 'username', 'appId', 'appSecret', 'isKickOff', 'lcid'], auth: 'login' },
      ],
      [
        'AuthService.LoginBySign2',
        { params: ['acctID', 'username', 'appId', 'timestamp', 'sign', 'isKickOff', 'lcid'], auth: 'login' },
      ],
      ['AccountService.GetDataCenterList', { params: [], auth: 'none' }],
      ['DynamicFormService.Save', { params: FORM_DATA, auth: 'session' }],
      ['DynamicFormService.BatchSave', { params: FORM_DATA, auth: 'session' }],
      ['DynamicFormService.Draft', { params: FORM_DATA, auth: 'session' }],
      ['DynamicFormService.View', { params: FORM_DATA, auth: 'session' }],
      ['DynamicFormService.Submit', { params: FORM_DATA, auth: 'session' }],
      ['DynamicFormService.Audit', { params: FORM_DATA, auth: 'session' }],
      ['DynamicFormService.UnAudit', { params: FORM_DATA, auth: 'session' }],
      ['DynamicFormService.Delete', { params: FORM_DATA, auth: 'session' }],
      ['DynamicFormService.ExecuteBillQuery', { params: ['data'], auth: 'session', query: true }],
      ['DynamicFormService.BillQuery', { params: ['data'], auth: 'session', query: true }],
      ['DynamicFormService.Push', { params: FORM_DATA, auth: 'session' }],
      ['DynamicFormService.ExcuteOperation', { params: ['formid', 'opNumber', 'data'], auth: 'session' }],
      // A Go client lists the correctly spelled name (spec §1.2); served as an alias.
      ['DynamicFormService.ExecuteOperation', { params: ['formid', 'opNumber', 'data'], auth: 'session' }],
      ['DynamicFormService.Allocate', { params: FORM_DATA, auth: 'session' }],
      ['DynamicFormService.CancelAllocate', { params: FORM_DATA, auth: 'session' }],
    ] as const
  ).map(([path, spec]) => {
    const name = path.split('.')[1] as OperationName;
    return [path.toLowerCase(), { name, ...spec }];
  }),
);

interface RequestLogEntry {
  at: number;
  operation: string;
  formId: string | null;
  httpStatus: number;
  outcome: string;
}

/** The identity the emulator accepts when none is given: the K3CLOUD_* variables with sandbox defaults. */
export function identityFromEnv(env: NodeJS.ProcessEnv): K3EmulatorIdentity {
  return identityOf(readK3CloudConfig(env, { sandbox: true }));
}

/**
 * Start the emulator.
 *
 * @throws {ConfigError} when no identity is given and the K3CLOUD_* variables are invalid.
 * @throws {Error} when the port cannot be bound or the data directory cannot be read.
 */
export async function startK3CloudEmulator(options: K3CloudEmulatorOptions = {}): Promise<K3CloudEmulator> {
  const identity = options.identity ?? identityFromEnv(process.env);
  const logger: Logger = options.logger ?? silentLogger;
  const clock = options.clock ?? Date.now;
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const controlEnabled = options.controlEnabled ?? false;
  const algorithms: readonly LoginSignAlgorithm[] = options.loginSignAlgorithms ?? ['sha256'];
  const maxQueryLimit = options.maxQueryLimit ?? DEFAULT_MAX_QUERY_LIMIT;
  const viewWithoutSession = options.viewWithoutSession ?? 'empty';
  const staleWithSignature = options.staleSessionWithSignature ?? 'new-session';

  const registry = new FormRegistry(FORMS);
  const store = new RecordStore({
    ...(options.dataDir === undefined ? {} : { dataDir: options.dataDir }),
    numberKeyOf: (formId) => registry.require(formId).meta.numberKey,
    logger,
    clock,
  });
  store.load();
  const engine = new Engine({
    registry,
    store,
    utcOffsetMinutes: options.utcOffsetMinutes ?? DEFAULT_UTC_OFFSET_MINUTES,
  });
  const seed = () => {
    if (options.seed !== false && store.isEmpty()) {
      seedDemoCompany(engine, clock());
      store.compact();
    }
  };
  seed();

  const sessions = new SessionStore(clock, options.sessionIdleTimeoutMs ?? DEFAULT_SESSION_IDLE_TIMEOUT_MS);
  const faults = new FaultState();
  let calls: Record<string, number> = {};
  let logins = 0;
  let signatureSessions = 0;
  const requestLog: RequestLogEntry[] = [];
  let inFlight = 0;
  const headOffice = () => {
    const org = engine.findByNumber(registry.require('ORG_Organizations'), '100');
    return { id: org?.id ?? 1, name: String(org?.values.FName ?? '总部') };
  };

  const logRequest = (entry: RequestLogEntry) => {
    requestLog.push(entry);
    if (requestLog.length > REQUEST_LOG_SIZE) requestLog.shift();
  };

  // ── responses ──

  const sendJson = (res: ServerResponse, body: unknown, cookies: readonly string[] = [], status = 200) => {
    const text = JSON.stringify(body);
    // A flat header list keeps the exact name case: the Java SDK looks for `Set-Cookie` case-sensitively.
    const headers: string[] = [
      'Content-Type',
      'application/json; charset=utf-8',
      'Content-Length',
      String(Buffer.byteLength(text)),
      'Cache-Control',
      'private',
    ];
    for (const cookie of cookies) headers.push('Set-Cookie', cookie);
    res.writeHead(status, headers);
    res.end(text);
  };

  const sessionCookies = (session: Session) => [
    // No `expires`: the Python SDK splits the joined Set-Cookie value on commas (spec §10).
    `ASP.NET_SessionId=${session.aspNetId}; path=/; HttpOnly`,
    `kdservice-sessionid=${session.kdsvcId}; path=/`,
  ];

  const sendHtml = (res: ServerResponse, status: number, title: string, detail: string) => {
    const text =
      '<!DOCTYPE html>\r\n<html>\r\n<head>\r\n<meta http-equiv="Content-Type" content="text/html; charset=utf-8"/>\r\n' +
      `<title>${title}</title>\r\n</head>\r\n<body>\r\n<div id="header"><h1>${title}</h1></div>\r\n` +
      `<div id="content"><fieldset><h2>${detail}</h2></fieldset></div>\r\n</body>\r\n</html>\r\n`;
    res.writeHead(status, [
      'Content-Type',
      'text/html; charset=utf-8',
      'Content-Length',
      String(Buffer.byteLength(text)),
    ]);
    res.end(text);
  };

  // ── authentication ──

  /** The session a DynamicFormService call runs in, or why there is none. */
  const authenticate = (
    req: IncomingMessage,
    pathname: string,
  ): { session: Session; cookies: string[] } | { session: undefined } => {
    const header = (name: string) => {
      const value = req.headers[name];
      return Array.isArray(value) ? value[0] : value;
    };
    const cookies = parseCookies(header('cookie'));
    const candidates = [
      cookies.get('kdservice-sessionid'),
      header('kdservice-sessionid'),
      header('sid'),
      cookies.get('ASP.NET_SessionId'),
    ].filter((v): v is string => typeof v === 'string' && v !== '');
    const appKey = header('x-kd-appkey');
    if (appKey !== undefined) {
      const username = verifySignatureHeaders(appKey, header('x-kd-appdata'), header('x-kd-signature'));
      if (username === undefined) return { session: undefined };
      if (options.verifyGatewaySignature && !verifyGateway(appKey, pathname, header))
        return { session: undefined };
      const found = sessions.find(candidates);
      if (found.session) return { session: found.session, cookies: [] };
      if (found.stale && staleWithSignature === 'session-lost') return { session: undefined };
      const session = sessions.create('signature', username.name, username.lcid);
      signatureSessions += 1;
      return { session, cookies: sessionCookies(session) };
    }
    const found = sessions.find(candidates);
    return found.session ? { session: found.session, cookies: [] } : { session: undefined };
  };

  /** X-Kd-Appkey / X-Kd-Appdata / X-Kd-Signature (spec §2.6); returns the user when all three verify. */
  const verifySignatureHeaders = (
    appKey: string,
    appDataB64: string | undefined,
    signature: string | undefined,
  ): { name: string; lcid: number } | undefined => {
    if (!appDataB64 || !signature || !safeEqual(appKey, identity.appId)) return undefined;
    const appData = Buffer.from(appDataB64, 'base64').toString('utf8');
    const [acctId, username, lcid] = appData.split(',');
    if (acctId !== identity.acctId || (username ?? '').toLowerCase() !== identity.username.toLowerCase()) {
      return undefined;
    }
    if (!safeEqual(signature, appDataSignature(appKey, appData, identity.appSecret))) return undefined;
    return { name: username ?? identity.username, lcid: Number(lcid) || 2052 };
  };

  const verifyGateway = (appKey: string, pathname: string, header: (name: string) => string | undefined) => {
    const signature = header('x-api-signature') ?? '';
    const nonce = header('x-api-nonce') ?? '';
    const timestamp = header('x-api-timestamp') ?? '';
    return gatewayClientSecrets(appKey).some((secret) =>
      safeEqual(signature, gatewaySignature(pathname, nonce, timestamp, secret)),
    );
  };

  // ── logins ──

  const login = (op: OperationName, args: Record<string, unknown>): { body: unknown; cookies: string[] } => {
    const text = (name: string) => {
      const value = args[name];
      return typeof value === 'string' || typeof value === 'number' ? String(value) : '';
    };
    const acctId = text('acctID');
    const username = text('username');
    const fail = (type: 0 | -1, message: string) => ({ body: loginFailure(type, message), cookies: [] });
    if (acctId === '') return fail(-1, LOGIN_TEXT.missing('acctID'));
    if (username === '') return fail(-1, LOGIN_TEXT.missing('username'));
    if (acctId !== identity.acctId) return fail(-1, LOGIN_TEXT.unknownDataCenter(acctId));
    const userOk = username.toLowerCase() === identity.username.toLowerCase();
    if (op === 'ValidateUser') {
      if (!userOk || !safeEqual(text('password'), identity.password)) return fail(0, LOGIN_TEXT.badPassword);
    } else if (op === 'LoginByAppSecret' || op === 'LoginByAppSecret2') {
      if (
        !userOk ||
        !safeEqual(text('appId'), identity.appId) ||
        !safeEqual(text('appSecret'), identity.appSecret)
      ) {
        return fail(-1, LOGIN_TEXT.badAppSecret);
      }
    } else {
      const sign = text('sign').toLowerCase();
      const parts = [acctId, username, text('appId'), identity.appSecret, text('timestamp')];
      const signOk = algorithms.some((algorithm) => safeEqual(sign, loginSign(parts, algorithm)));
      if (!userOk || !safeEqual(text('appId'), identity.appId) || !signOk)
        return fail(-1, LOGIN_TEXT.badSign);
    }
    const lcid = Number(text('lcid')) || 2052;
    const session = sessions.create('login', identity.username, lcid);
    logins += 1;
    return { body: loginSuccess(identity, session, headOffice()), cookies: sessionCookies(session) };
  };

  // ── operations ──

  const execute = (spec: OperationSpec, args: Record<string, unknown>, ctx: OperationContext): unknown => {
    const data = args.data;
    switch (spec.name) {
      case 'Save':
        return engine.save(args.formid, data, ctx);
      case 'Draft':
        return engine.save(args.formid, data, ctx, 'draft');
      case 'BatchSave':
        return engine.batchSave(args.formid, data, ctx);
      case 'View':
        return viewOperationFn(engine, args.formid, requireObject(data, 'data'));
      case 'Submit':
      case 'Audit':
      case 'UnAudit':
      case 'Delete':
        return statusOperation(engine, spec.name, args.formid, data, ctx);
      case 'ExcuteOperation':
      case 'ExecuteOperation':
        return executeOperation(engine, args.formid, args.opNumber, data, ctx);
      case 'Allocate':
        return allocate(engine, args.formid, data, ctx);
      case 'CancelAllocate':
        return cancelAllocate(engine, args.formid, data);
      case 'Push':
        return push(engine, args.formid, data, ctx);
      case 'ExecuteBillQuery':
      case 'BillQuery': {
        const result = runQuery(engine, requireObject(data, 'data'), args.formid, {
          maxLimit: maxQueryLimit,
        });
        if (spec.name === 'ExecuteBillQuery') return result.rows;
        return result.rows.map((row) =>
          Object.fromEntries(result.keys.map((key, i) => [key, row[i] ?? null])),
        );
      }
      case 'GetDataCenterList':
        return [
          {
            Id: identity.acctId,
            Number: DATA_CENTER_NUMBER,
            Name: DATA_CENTER_NAME,
            Version: EMULATED_DISPLAY_VERSION,
            GDCID: '',
            AuthenticationMethods: [
              { AuthenticationMethodType: 1, Name: '密码认证' },
              { AuthenticationMethodType: 0, Name: '域认证' },
            ],
          },
        ];
      default:
        throw new Error(`operation ${spec.name} has no executor`);
    }
  };

  /** The FormId a request is about (for faults and the request log). */
  const formIdOf = (spec: OperationSpec | undefined, args: Record<string, unknown>): string | undefined => {
    if (typeof args.formid === 'string') return args.formid;
    if (spec?.query) {
      let data = args.data;
      if (typeof data === 'string') {
        try {
          data = JSON.parse(data);
        } catch {
          return undefined;
        }
      }
      if (isPlainObject(data)) {
        const formId = getCI(data, 'FormId');
        return typeof formId === 'string' ? formId : undefined;
      }
    }
    return undefined;
  };

  // ── the request handler ──

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://emulator');
    if (controlEnabled && url.pathname.startsWith('/__emulator/')) {
      await control(req, res, url);
      return;
    }
    const route = parseRoute(url.pathname);
    if (!route) {
      sendHtml(
        res,
        404,
        '404 - 找不到文件或目录。',
        '您要查找的资源可能已被删除、已更改名称或者暂时不可用。',
      );
      return;
    }
    const spec = OPERATIONS.get(route.key);
    // Client-chosen text ends up in stats and the request log: keep it short.
    const operation = spec?.name ?? route.method.slice(0, 64);
    calls[operation] = (calls[operation] ?? 0) + 1;
    const wrap = (body: unknown) => (spec?.query ? wrapQueryError(body) : body);
    const started = clock();

    if (req.method !== 'POST') {
      sendHtml(res, 405, '405 - 不允许用于访问此页的 HTTP 谓词。', 'The Web API accepts POST only.');
      return;
    }
    const body = await readBody(req, maxBodyBytes);
    if (body === 'aborted') return;

    const latency = (options.latencyMs ?? 0) + faults.extraLatencyMs;
    if (faults.extraLatencyMs > 0) faults.countLatency();
    if (latency > 0) await new Promise((resolve) => setTimeout(resolve, latency));

    const log = (httpStatus: number, outcome: string, formId?: string) =>
      logRequest({ at: started, operation, formId: formId?.slice(0, 64) ?? null, httpStatus, outcome });

    if (body === 'too-large') {
      // The rest of an oversized body is not read: close the connection after answering.
      res.shouldKeepAlive = false;
      sendJson(res, wrap(failureEnvelope(OURS.bodyTooLarge(maxBodyBytes), MSG.badParameter)));
      log(200, 'MsgCode 8 (body too large)');
      return;
    }
    let args: Record<string, unknown>;
    try {
      args = bindArguments(decodeBody(body, req.headers['content-type']), spec?.params ?? []);
    } catch (error) {
      if (!(error instanceof BodyError)) throw error;
      sendJson(res, wrap(failureEnvelope(OURS.unparsableBody(error.message), MSG.badParameter)));
      log(200, 'MsgCode 8 (unparsable body)');
      return;
    }
    if (!spec) {
      // ASSUMPTION: an unknown service method is answered in K3's envelope, MsgCode 4 (异常).
      sendJson(res, failureEnvelope(OURS.unknownService(route.method), MSG.exception));
      log(200, 'MsgCode 4 (unknown service)');
      return;
    }
    const formId = formIdOf(spec, args);

    // Faults that replace the answer (nothing is executed).
    if (faults.fires('connectionReset', operation, formId)) {
      log(0, 'fault connectionReset', formId);
      req.socket.resetAndDestroy();
      return;
    }
    if (faults.fires('http500', operation, formId)) {
      log(500, 'fault http500', formId);
      sendHtml(res, 500, "Server Error in '/k3cloud' Application.", '运行时错误 / Runtime Error (emulated)');
      return;
    }
    if (faults.fires('responseError', operation, formId)) {
      log(200, 'fault responseError', formId);
      const exception = {
        Message: '服务端执行出现异常（模拟故障） / server-side exception (emulated fault)',
        InnerExWrapper: { Message: 'System.NullReferenceException: 未将对象引用设置到对象的实例。' },
        InnerException: null,
      };
      const text = `response_error:${JSON.stringify(exception)}`;
      res.writeHead(200, [
        'Content-Type',
        'application/json; charset=utf-8',
        'Content-Length',
        String(Buffer.byteLength(text)),
      ]);
      res.end(text);
      return;
    }
    if (faults.fires('msgCode14', operation, formId)) {
      log(200, 'fault msgCode14', formId);
      sendJson(res, wrap(failureEnvelope(CALL_LIMIT, MSG.callLimit)));
      return;
    }
    if (faults.fires('msgCode13', operation, formId)) {
      log(200, 'fault msgCode13', formId);
      const formName = (formId && registry.get(formId)?.meta.name) || formId || '业务对象';
      sendJson(res, wrap(failureEnvelope(networkLock(identity.username, formName, '修改'), MSG.networkLock)));
      return;
    }

    let result: unknown;
    let cookies: string[] = [];
    if (spec.auth === 'login') {
      const outcome = login(spec.name, args);
      result = outcome.body;
      cookies = outcome.cookies;
    } else if (spec.auth === 'session') {
      const auth = authenticate(req, url.pathname);
      if (!auth.session) {
        log(200, 'MsgCode 1 (session lost)', formId);
        const lost =
          spec.name === 'View' && viewWithoutSession === 'empty' ? {} : wrap(sessionLostEnvelope());
        sendJson(res, lost);
        return;
      }
      cookies = auth.cookies;
      const ctx: OperationContext = { now: clock(), username: auth.session.username };
      try {
        result = execute(spec, args, ctx);
      } catch (error) {
        if (error instanceof K3Failure) {
          result = wrap(failureFrom(error));
        } else {
          logger.error('k3cloud_emulator.internal_error', { operation, error });
          const message = error instanceof Error ? error.message : String(error);
          result = wrap(
            failureEnvelope(`模拟器内部错误 / emulator internal error: ${message}`, MSG.exception),
          );
        }
      }
    } else {
      result = execute(spec, args, { now: clock(), username: identity.username });
    }

    if (faults.fires('dropResponseAfterCommit', operation, formId)) {
      log(0, 'fault dropResponseAfterCommit', formId);
      req.socket.resetAndDestroy();
      return;
    }
    sendJson(res, result, cookies);
    log(200, outcomeOf(result), formId);
  };

  const savedTimes = (formId: string, keyField: string): Record<string, number> => {
    const form = registry.get(formId);
    if (!form) throw new Error(`K3Cloud emulator: unknown form ${formId}`);
    const out: Record<string, number> = {};
    for (const [id, at] of store.firstCommitTimes(form.meta.formId)) {
      const value = store.get(form.meta.formId, id)?.values[keyField];
      if (typeof value !== 'string' && typeof value !== 'number') continue;
      const key = String(value);
      if (key === '') continue;
      const earlier = out[key];
      if (earlier === undefined || at < earlier) out[key] = at;
    }
    return out;
  };

  // ── control endpoint ──

  const control = async (req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> => {
    const path = url.pathname.slice('/__emulator/'.length);
    const method = req.method ?? 'GET';
    const reply = (status: number, body: unknown) => sendJson(res, body, [], status);
    if (method === 'GET' && path === 'stats') return reply(200, stats());
    if (method === 'GET' && path === 'requests') return reply(200, requestLog);
    if (method === 'GET' && path.startsWith('records/')) {
      const form = registry.get(decodeURIComponent(path.slice('records/'.length)));
      if (!form) return reply(404, { error: `unknown form ${path.slice('records/'.length)}` });
      return reply(200, [...store.all(form.meta.formId)]);
    }
    if (method === 'GET' && path.startsWith('saved/')) {
      const form = registry.get(decodeURIComponent(path.slice('saved/'.length)));
      if (!form) return reply(404, { error: `unknown form ${path.slice('saved/'.length)}` });
      const key = url.searchParams.get('key');
      if (!key) return reply(400, { error: 'key=<header field> is required, e.g. key=F_FXK_CrmId' });
      return reply(200, savedTimes(form.meta.formId, key));
    }
    if (method !== 'POST') return reply(404, { error: `no control endpoint ${method} /__emulator/${path}` });
    const body = await readBody(req, 1024 * 1024);
    if (body === 'aborted') return;
    if (path === 'expire-sessions') return reply(200, { expired: sessions.expireAll() });
    if (path === 'reset') {
      store.clear();
      seed();
      return reply(200, { ok: true, records: store.counts() });
    }
    if (path === 'faults') {
      if (body === 'too-large') return reply(413, { error: 'fault spec too large' });
      let parsed: unknown;
      try {
        parsed = body.length === 0 ? {} : JSON.parse(body.toString('utf8'));
      } catch {
        return reply(400, { error: 'fault spec is not JSON' });
      }
      const result = faultSpecSchema.safeParse(parsed);
      if (!result.success) {
        return reply(400, {
          error: 'invalid fault spec',
          issues: result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`),
        });
      }
      faults.set(result.data);
      return reply(200, { ok: true, faults: faults.spec });
    }
    return reply(404, { error: `no control endpoint POST /__emulator/${path}` });
  };

  const stats = (): K3EmulatorStats => ({
    calls: { ...calls },
    logins,
    signatureSessions,
    records: store.counts(),
    faultsFired: faults.fired(),
  });

  // ── server ──

  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    inFlight += 1;
    res.on('close', () => {
      inFlight -= 1;
    });
    handle(req, res).catch((error: unknown) => {
      // Last line of defence: never let one request take the server down.
      logger.error('k3cloud_emulator.request_failed', { error });
      if (!res.headersSent) {
        sendJson(res, failureEnvelope(`模拟器内部错误 / emulator internal error`, MSG.exception));
      } else {
        res.destroy();
      }
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.on('clientError', (_error, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    else socket.destroy();
  });

  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? DEFAULT_K3CLOUD_EMULATOR_PORT, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const urlHost = host.includes(':') ? `[${host}]` : host;
  const url = `http://${urlHost}:${port}/k3cloud/`;
  logger.info('k3cloud_emulator.started', { url, acctId: identity.acctId, username: identity.username });

  let closing: Promise<void> | undefined;
  return {
    url,
    port,
    stats,
    resetStats() {
      calls = {};
      logins = 0;
      signatureSessions = 0;
      faults.resetCounts();
    },
    setFaults(spec: K3FaultSpec) {
      faults.set(faultSpecSchema.parse(spec));
    },
    expireAllSessions: () => sessions.expireAll(),
    savedTimes,
    async listRecords(formId: string) {
      const form = registry.get(formId);
      if (!form) throw new Error(`K3Cloud emulator: unknown form ${formId}`);
      return [...store.all(form.meta.formId)].map((record) => renderRecordFn(engine, form, record));
    },
    close() {
      closing ??= (async () => {
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        const deadline = Date.now() + CLOSE_GRACE_MS;
        while (inFlight > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
        for (const socket of sockets) socket.destroy();
        await stopped;
        store.compact();
        logger.info('k3cloud_emulator.stopped', { url });
      })();
      return closing;
    },
  };
}

/** A short description of an answer for the request log. */
function outcomeOf(result: unknown): string {
  const status =
    isPlainObject(result) && isPlainObject(result.Result) ? result.Result.ResponseStatus : undefined;
  if (isPlainObject(status)) return status.IsSuccess === true ? 'ok' : `MsgCode ${String(status.MsgCode)}`;
  if (isPlainObject(result) && 'LoginResultType' in result)
    return `LoginResultType ${String(result.LoginResultType)}`;
  if (Array.isArray(result)) {
    const first = result[0];
    if (Array.isArray(first) && isPlainObject(first[0])) return 'query error';
    return `${result.length} rows`;
  }
  return 'ok';
}

/**
 * Read a request body up to `limit` bytes. Past the limit the rest is discarded (not buffered) and
 * `'too-large'` is returned once the client finished sending; a client that keeps sending far beyond the
 * limit is cut off.
 */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer | 'too-large' | 'aborted'> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const settle = (value: Buffer | 'too-large' | 'aborted') => {
      if (!settled) {
        settled = true;
        resolve(value);
      }
    };
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) chunks.push(chunk);
      else {
        chunks.length = 0;
        if (size > limit * 8 + 1024 * 1024) {
          settle('too-large');
          req.pause();
        }
      }
    });
    req.on('end', () => settle(size > limit ? 'too-large' : Buffer.concat(chunks)));
    req.on('error', () => settle('aborted'));
    req.on('close', () => settle(size > limit ? 'too-large' : 'aborted'));
  });
}
