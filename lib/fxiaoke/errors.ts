/**
 * Fxiaoke errors: every failure of a Fxiaoke call becomes one {@link FxiaokeError} whose `kind` tells the
 * caller what to do next (see `lib/errors.ts`). Classification looks at `errorCode` only — Fxiaoke answers
 * HTTP 200 for most errors and its pages say "不能使用返回值的message字段做逻辑判断" (spec §1.2), so
 * `errorMessage` is kept verbatim for humans and never branched on.
 *
 * Code classes (spec §7, transcribed from developer.fxiaoke.com codes.html):
 * - 20016 / 11014 (corpAccessToken expired / invalid), 20005 (appAccessToken expired) → `session-expired`
 * - 14001 (per-interface limit), 30004 (per-second limit) → `throttled`, retry after the 20 s window
 * - 30002 (daily call quota used up) → `quota-exhausted` until the next 00:00 China time
 * - 30003 (no Open API resource pack bought), 20006, 20010–20029, 15003, 11008, 11013, 11015, 30027
 *   → `config`: an operator must act
 * - -1, -2, 50009 → `transient` (on a write, -2 and 50009 mean "failed while executing" →
 *   `outcome-unknown`, because the write may have been committed)
 * - everything else (parameter errors, object validation errors, duplicates…) → `business`
 * - no answer / timeouts / resets / non-JSON / 5xx → `transient` for reads, `outcome-unknown` for writes
 *   whose request may have reached Fxiaoke
 */
import type { ErrorKind, FaultSide } from '../errors.ts';
import { SyncError } from '../errors.ts';

/** What the failed call was doing: decides whether a lost answer is harmless (read) or not (write). */
export type FxiaokeOperation = 'read' | 'write' | 'token';

export interface FxiaokeErrorOptions {
  kind: ErrorKind;
  fault: FaultSide;
  code: string;
  /** The interface path, e.g. `/cgi/crm/v2/data/get` (never with query string or credentials). */
  path: string;
  errorCode?: number | undefined;
  /** Fxiaoke's `errorMessage`, verbatim. */
  errorMessage?: string | undefined;
  errorDescription?: string | undefined;
  traceId?: string | undefined;
  httpStatus?: number | undefined;
  retryAfterMs?: number | undefined;
  cause?: unknown;
}

/** A failed Fxiaoke call (remote error code, transport failure, or a response we cannot read). */
export class FxiaokeError extends SyncError {
  readonly path: string;
  /** Fxiaoke's `errorCode`; undefined when no envelope was received. */
  readonly errorCode: number | undefined;
  /** Fxiaoke's `errorMessage`, verbatim; undefined when none was received. */
  readonly errorMessage: string | undefined;
  readonly traceId: string | undefined;
  readonly httpStatus: number | undefined;

  constructor(message: string, options: FxiaokeErrorOptions) {
    const remote = [options.errorMessage, options.errorDescription].filter(
      (text, index, all): text is string =>
        typeof text === 'string' && text !== '' && all.indexOf(text) === index,
    );
    super(message, {
      kind: options.kind,
      fault: options.fault,
      code: options.code,
      remoteMessages: remote,
      ...(options.retryAfterMs === undefined ? {} : { retryAfterMs: options.retryAfterMs }),
      cause: options.cause,
    });
    this.path = options.path;
    this.errorCode = options.errorCode;
    this.errorMessage = options.errorMessage;
    this.traceId = options.traceId;
    this.httpStatus = options.httpStatus;
  }

  override toJSON(): Record<string, unknown> {
    return {
      ...super.toJSON(),
      path: this.path,
      ...(this.errorCode === undefined ? {} : { errorCode: this.errorCode }),
      ...(this.traceId === undefined ? {} : { traceId: this.traceId }),
      ...(this.httpStatus === undefined ? {} : { httpStatus: this.httpStatus }),
    };
  }
}

const CHINA_UTC_OFFSET_MS = 8 * 3_600_000;
const DAY_MS = 86_400_000;

/**
 * Milliseconds from `nowMs` to the next 00:00 in China Standard Time (GMT+8, no DST), when Fxiaoke's
 * daily call counter restarts ("0点重新统计", spec §7 code 30002).
 */
export function msUntilNextChinaMidnight(nowMs: number): number {
  const local = nowMs + CHINA_UTC_OFFSET_MS;
  const nextMidnightLocal = (Math.floor(local / DAY_MS) + 1) * DAY_MS;
  return nextMidnightLocal - local;
}

interface CodeInfo {
  kind: ErrorKind;
  fault: FaultSide;
  zh: string;
  en: string;
  /** What the operator should do, for `config` errors. */
  action?: string;
}

const CHECK_APP = '请核对 FXIAOKE_APP_ID / FXIAOKE_APP_SECRET / check FXIAOKE_APP_ID and FXIAOKE_APP_SECRET';
const CHECK_CODE = '请核对 FXIAOKE_PERMANENT_CODE（永久授权码）/ check FXIAOKE_PERMANENT_CODE';
const CHECK_USER =
  '请核对 FXIAOKE_OPEN_USER_ID（legacy 为 FSUID_…，oauth2 为员工ID）/ check FXIAOKE_OPEN_USER_ID (legacy: FSUID_…, oauth2: employee id)';
const GRANT =
  '请在纷享销客管理后台为自建应用开通数据权限并授权给本企业 / grant the self-built app data access for this enterprise in the Fxiaoke admin console';

/** Known codes with an explanation; unknown codes fall back to the class rules in {@link classify}. */
const KNOWN_CODES: ReadonlyMap<number, CodeInfo> = new Map<number, CodeInfo>([
  [-1, { kind: 'transient', fault: 'theirs', zh: '纷享销客系统繁忙', en: 'Fxiaoke is busy' }],
  [-2, { kind: 'transient', fault: 'theirs', zh: '纷享销客系统错误', en: 'Fxiaoke system error' }],
  [
    50009,
    {
      kind: 'transient',
      fault: 'theirs',
      zh: '纷享销客服务异常（如超时）',
      en: 'Fxiaoke service error (e.g. timeout)',
    },
  ],
  [
    20016,
    {
      kind: 'session-expired',
      fault: 'theirs',
      zh: 'corpAccessToken 不存在或已过期',
      en: 'corpAccessToken unknown or expired',
    },
  ],
  [
    11014,
    {
      kind: 'session-expired',
      fault: 'theirs',
      zh: 'corpAccessToken 不合法',
      en: 'corpAccessToken is invalid',
    },
  ],
  [
    20005,
    {
      kind: 'session-expired',
      fault: 'theirs',
      zh: 'appAccessToken 不存在或已过期',
      en: 'appAccessToken unknown or expired',
    },
  ],
  [
    14001,
    {
      kind: 'throttled',
      fault: 'theirs',
      zh: '接口调用超过限制（每个接口每 20 秒 100 次）',
      en: 'per-interface rate limit exceeded (100 calls per 20 s)',
    },
  ],
  [30004, { kind: 'throttled', fault: 'theirs', zh: '秒频次超限', en: 'per-second call frequency exceeded' }],
  [
    30002,
    {
      kind: 'quota-exhausted',
      fault: 'theirs',
      zh: '当天 Open API 调用次数已用完（0 点重新统计）',
      en: "today's Open API call quota is used up (the counter restarts at 00:00 China time)",
    },
  ],
  [
    30003,
    {
      kind: 'config',
      fault: 'theirs',
      zh: '企业没有购买 Open API 配额',
      en: 'the enterprise has no Open API quota',
      action:
        '请联系纷享销客购买「Open API 资源包」（每包 10 万次，可叠加）后再重试 / buy an "Open API 资源包" (Open API resource pack, 100,000 calls each, stackable) from Fxiaoke, then retry',
    },
  ],
  [
    20006,
    {
      kind: 'config',
      fault: 'ours',
      zh: 'appId 或 appSecret 错误',
      en: 'wrong appId or appSecret',
      action: CHECK_APP,
    },
  ],
  [
    20015,
    { kind: 'config', fault: 'ours', zh: '永久授权码错误', en: 'wrong permanentCode', action: CHECK_CODE },
  ],
  [
    11013,
    {
      kind: 'config',
      fault: 'ours',
      zh: '永久授权码不合法',
      en: 'invalid permanentCode',
      action: CHECK_CODE,
    },
  ],
  [
    20012,
    {
      kind: 'config',
      fault: 'ours',
      zh: 'openUserId 未找到',
      en: 'openUserId not found',
      action: CHECK_USER,
    },
  ],
  [
    11008,
    { kind: 'config', fault: 'ours', zh: 'openUserId 不合法', en: 'invalid openUserId', action: CHECK_USER },
  ],
  [
    30027,
    { kind: 'config', fault: 'ours', zh: '员工不存在', en: 'employee does not exist', action: CHECK_USER },
  ],
  [
    20014,
    {
      kind: 'config',
      fault: 'ours',
      zh: '应用没有获取该员工数据的权限',
      en: "the app may not read this employee's data",
      action: GRANT,
    },
  ],
  [
    20017,
    {
      kind: 'config',
      fault: 'ours',
      zh: 'corpId 未找到',
      en: 'corpId not found',
      action: CHECK_CODE,
    },
  ],
  [11015, { kind: 'config', fault: 'ours', zh: 'corpId 不合法', en: 'invalid corpId', action: CHECK_CODE }],
  [
    20020,
    {
      kind: 'config',
      fault: 'ours',
      zh: '应用没有获取该企业数据的权限',
      en: "the app may not read this enterprise's data",
      action: GRANT,
    },
  ],
  [
    20021,
    {
      kind: 'config',
      fault: 'ours',
      zh: '该应用在当前企业下已停用',
      en: 'the app is disabled in this enterprise',
      action: '请在纷享销客管理后台启用该应用 / enable the app in the Fxiaoke admin console',
    },
  ],
  [
    20022,
    {
      kind: 'config',
      fault: 'ours',
      zh: '企业没有对该应用授权',
      en: 'the enterprise has not authorised the app',
      action: GRANT,
    },
  ],
  [
    20023,
    {
      kind: 'config',
      fault: 'ours',
      zh: '应用没有访问部门的权限',
      en: 'the app may not access departments',
      action: GRANT,
    },
  ],
  [
    15003,
    {
      kind: 'config',
      fault: 'ours',
      zh: '应用没有访问权限',
      en: 'the app has no access permission',
      action: GRANT,
    },
  ],
  [
    10013,
    {
      kind: 'business',
      fault: 'ours',
      zh: '参数不合法（例如 offset 超过 10000）',
      en: 'invalid parameter (e.g. offset beyond 10000)',
    },
  ],
  [
    10006,
    {
      kind: 'business',
      fault: 'ours',
      zh: '缺少参数或接口路径不存在',
      en: 'missing parameter or unknown interface path',
    },
  ],
  [15002, { kind: 'business', fault: 'ours', zh: '参数不合法', en: 'invalid parameter' }],
  [32000, { kind: 'business', fault: 'ours', zh: '参数错误', en: 'parameter error' }],
]);

/**
 * The class of an `errorCode`, following the module doc's rules.
 * `operation` matters only for codes that mean "failed while executing".
 */
function classify(errorCode: number, operation: FxiaokeOperation): CodeInfo {
  const known = KNOWN_CODES.get(errorCode);
  // -2 系统错误 and 50009 服务异常（如超时） can be raised after a write was applied; only -1 (busy) is
  // clearly a refusal at the door. A write whose fate is unknown must be looked up, not blindly re-sent.
  if (operation === 'write' && (errorCode === -2 || errorCode === 50009)) {
    return {
      kind: 'outcome-unknown',
      fault: 'theirs',
      zh: `${known?.zh ?? '纷享销客执行失败'}，写入可能已生效`,
      en: `${known?.en ?? 'Fxiaoke failed while executing'}; the write may have been applied`,
      action: OUTCOME_UNKNOWN_ACTION,
    };
  }
  if (known) return known;
  if (errorCode >= 20010 && errorCode <= 20029) {
    return {
      kind: 'config',
      fault: 'ours',
      zh: '应用、企业或用户的授权配置有误',
      en: 'app / enterprise / user authorisation problem',
      action: GRANT,
    };
  }
  return {
    kind: 'business',
    fault: 'theirs',
    zh: '纷享销客拒绝了该请求',
    en: 'Fxiaoke refused the request',
  };
}

const OUTCOME_UNKNOWN_ACTION =
  '不要直接重发：纷享销客的新建没有幂等性，请先按业务编号查询该记录，确认不存在后再新建 / do not re-send blindly: Fxiaoke creates are not idempotent — look the record up (by its external key) before sending again';

export interface EnvelopeErrorContext {
  path: string;
  operation: FxiaokeOperation;
  nowMs: number;
  /** The per-interface window (default 20 s) — how long to wait after a throttle answer. */
  throttleRetryAfterMs: number;
}

export interface RemoteErrorFields {
  errorCode: number;
  errorMessage?: string | null | undefined;
  errorDescription?: string | null | undefined;
  traceId?: string | null | undefined;
  httpStatus?: number | undefined;
}

/** Build the error for a response envelope whose `errorCode` is not 0. */
export function fxiaokeErrorFromEnvelope(
  fields: RemoteErrorFields,
  context: EnvelopeErrorContext,
): FxiaokeError {
  const info = classify(fields.errorCode, context.operation);
  const retryAfterMs =
    info.kind === 'throttled'
      ? context.throttleRetryAfterMs
      : info.kind === 'quota-exhausted'
        ? msUntilNextChinaMidnight(context.nowMs)
        : undefined;
  const said = fields.errorMessage ? `；纷享销客原文 / Fxiaoke said: "${fields.errorMessage}"` : '';
  const trace = fields.traceId ? ` [traceId ${fields.traceId}]` : '';
  const action = info.action ? `。${info.action}` : '';
  const message = `纷享销客 ${context.path} 返回 errorCode ${fields.errorCode}：${info.zh} / Fxiaoke ${context.path} returned errorCode ${fields.errorCode}: ${info.en}${said}${trace}${action}`;
  return new FxiaokeError(message, {
    kind: info.kind,
    fault: info.fault,
    code: `FXIAOKE_${fields.errorCode}`,
    path: context.path,
    errorCode: fields.errorCode,
    errorMessage: fields.errorMessage ?? undefined,
    errorDescription: fields.errorDescription ?? undefined,
    traceId: fields.traceId ?? undefined,
    httpStatus: fields.httpStatus,
    retryAfterMs,
  });
}

/** Whether the request may have reached Fxiaoke before the failure (decides read-retry vs outcome-unknown). */
export type DeliveryState = 'not-sent' | 'maybe-sent';

function noAnswerError(args: {
  path: string;
  operation: FxiaokeOperation;
  delivery: DeliveryState;
  code: string;
  zh: string;
  en: string;
  /** Kind when the outcome is not in doubt; default `transient`. */
  kind?: ErrorKind;
  httpStatus?: number | undefined;
  cause?: unknown;
}): FxiaokeError {
  const unknownOutcome = args.operation === 'write' && args.delivery === 'maybe-sent';
  const kind: ErrorKind = unknownOutcome ? 'outcome-unknown' : (args.kind ?? 'transient');
  const tail = unknownOutcome ? `。${OUTCOME_UNKNOWN_ACTION}` : '';
  return new FxiaokeError(`纷享销客 ${args.path}：${args.zh} / Fxiaoke ${args.path}: ${args.en}${tail}`, {
    kind,
    fault: 'theirs',
    code: unknownOutcome ? 'FXIAOKE_OUTCOME_UNKNOWN' : args.code,
    path: args.path,
    httpStatus: args.httpStatus,
    cause: args.cause,
  });
}

/** Connection-level failures that happen before any byte of the request left (safe to re-send anything). */
const NOT_SENT_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
]);
const TIMEOUT_CODES: ReadonlySet<string> = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

/** The `code` of a Node/undici error, looking through a few `cause` links. */
function systemCodeOf(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 4 && typeof current === 'object' && current !== null; depth++) {
    if ('code' in current && typeof current.code === 'string') return current.code;
    current = 'cause' in current ? current.cause : undefined;
  }
  return undefined;
}

/**
 * The error for a call that got no answer at all: connection refused (not sent → `transient` even for a
 * write), timeout or reset (maybe executed → `outcome-unknown` for a write, `transient` otherwise).
 */
export function fxiaokeErrorFromTransport(
  path: string,
  operation: FxiaokeOperation,
  error: unknown,
  timeoutMs: number,
): FxiaokeError {
  const code = systemCodeOf(error);
  if (code !== undefined && NOT_SENT_CODES.has(code)) {
    return noAnswerError({
      path,
      operation,
      delivery: 'not-sent',
      code: 'FXIAOKE_UNREACHABLE',
      zh: `无法连接纷享销客（${code}），请求未发出`,
      en: `cannot connect (${code}); the request was not sent`,
      cause: error,
    });
  }
  if (code !== undefined && TIMEOUT_CODES.has(code)) {
    return noAnswerError({
      path,
      operation,
      delivery: 'maybe-sent',
      code: 'FXIAOKE_TIMEOUT',
      zh: `${timeoutMs} ms 内没有响应（FXIAOKE_TIMEOUT_MS）`,
      en: `no answer within ${timeoutMs} ms (FXIAOKE_TIMEOUT_MS)`,
      cause: error,
    });
  }
  return noAnswerError({
    path,
    operation,
    delivery: 'maybe-sent',
    code: 'FXIAOKE_CONNECTION_LOST',
    zh: `连接中断（${code ?? 'unknown'}）`,
    en: `connection lost (${code ?? (error instanceof Error ? error.message : 'unknown')})`,
    cause: error,
  });
}

/**
 * The error for an answer that is not a Fxiaoke envelope (an HTML error page, a proxy's JSON, a cut body).
 * 404/405 mean a gateway refused the path (nothing ran; usually a wrong FXIAOKE_BASE_URL) → `config`;
 * 429 → `throttled`; anything else may come after execution → `transient` / `outcome-unknown` for writes.
 */
export function fxiaokeErrorFromHttp(
  path: string,
  operation: FxiaokeOperation,
  status: number,
  isJson: boolean,
): FxiaokeError {
  const what = isJson ? '不是纷享销客响应格式的 JSON' : '不是 JSON';
  const whatEn = isJson ? 'JSON without an errorCode' : 'not JSON';
  if (status === 404 || status === 405) {
    return noAnswerError({
      path,
      operation,
      delivery: 'not-sent',
      kind: 'config',
      code: `FXIAOKE_HTTP_${status}`,
      zh: `HTTP ${status}，响应${what}——请检查 FXIAOKE_BASE_URL`,
      en: `HTTP ${status} with a body that is ${whatEn} — check FXIAOKE_BASE_URL`,
      httpStatus: status,
    });
  }
  if (status === 429) {
    return noAnswerError({
      path,
      operation,
      delivery: 'not-sent',
      kind: 'throttled',
      code: 'FXIAOKE_HTTP_429',
      zh: 'HTTP 429 请求过多',
      en: 'HTTP 429 too many requests',
      httpStatus: status,
    });
  }
  return noAnswerError({
    path,
    operation,
    delivery: 'maybe-sent',
    code: status >= 500 ? `FXIAOKE_HTTP_${status}` : 'FXIAOKE_BAD_RESPONSE',
    zh: `HTTP ${status}，响应${what}`,
    en: `HTTP ${status} with a body that is ${whatEn}`,
    httpStatus: status,
  });
}
