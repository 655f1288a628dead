/**
 * Turning what came back from K3Cloud — or what did not — into data or one {@link K3CloudError}.
 *
 * Pure functions over (operation, HTTP status, body text) and transport failures, so every recorded shape
 * from the spec is a unit-test fixture. The retry loop lives in the client; classification lives here.
 */
import {
  callLabel,
  describeMsgCode,
  formatRows,
  K3CloudError,
  type K3MessageRow,
  type K3SuccessEntity,
} from './errors.ts';
import type { TransportFailure } from './transport.ts';
import {
  findResponseStatus,
  gatewayErrorSchema,
  K3_WRITE_OPERATIONS,
  type K3Operation,
  type K3ResponseStatus,
  kdExceptionSchema,
  wafBlockSchema,
} from './wire.ts';

/** What is being called; used in every message and to tell reads from writes. */
export interface CallContext {
  operation: K3Operation;
  formId?: string | undefined;
}

export function isWrite(ctx: CallContext): boolean {
  return K3_WRITE_OPERATIONS.has(ctx.operation);
}

/** Suggested delays for the throttled class; K3 publishes no numbers, so these are ours. */
export interface RetryAfterPolicy {
  /**
   * Edit lock (MsgCode 13, `…冲突，请稍候再使用`). Default 8 s: lock conflicts observed in the wild cleared
   * on a retry after ~8 s (spec §7.8).
   */
  lockConflictMs: number;
  /** Call limit (MsgCode 14). No limit is documented anywhere (spec §6); 30 s is a cautious guess. */
  callLimitMs: number;
}

export const DEFAULT_RETRY_AFTER: RetryAfterPolicy = { lockConflictMs: 8_000, callLimitMs: 30_000 };

/** The session-loss text (spec §2.7); English-locale servers' wording is unknown, MsgCode 1 covers them. */
const SESSION_LOST_TEXT = '会话信息已丢失';
/** Edit-lock texts such as `"XXX"使用业务单据：…业务操作-"[…-修改]"冲突，请稍候再使用。` (spec §6). */
const LOCK_CONFLICT_PATTERN = /冲突[，,]\s*请稍候再使用/;

export function isSessionLost(status: K3ResponseStatus): boolean {
  return status.msgCode === 1 || status.errors.some((row) => row.message.includes(SESSION_LOST_TEXT));
}

function rowsText(rows: readonly K3MessageRow[]): string {
  const text = formatRows(rows);
  return text.length > 0 ? text : '（无错误详情 / no error details）';
}

/**
 * Classify a `ResponseStatus` with `IsSuccess:false` (or any status the caller deems failed).
 * MsgCode decides first; the edit-lock texts are recognised only when MsgCode says nothing more specific.
 */
export function failureFromStatus(
  ctx: CallContext,
  status: K3ResponseStatus,
  retryAfter: RetryAfterPolicy = DEFAULT_RETRY_AFTER,
  extra: { successEntities?: readonly K3SuccessEntity[]; httpStatus?: number } = {},
): K3CloudError {
  const label = callLabel(ctx.operation, ctx.formId);
  const { msgCode, errors } = status;
  const base = {
    operation: ctx.operation,
    formId: ctx.formId,
    msgCode,
    errors,
    successEntities: extra.successEntities ?? status.successEntities,
    httpStatus: extra.httpStatus,
  };
  const detail = rowsText(errors);
  if (isSessionLost(status)) {
    return new K3CloudError(
      `金蝶会话已失效 / K3Cloud session lost ${label} (${describeMsgCode(msgCode)}): ${detail}`,
      {
        ...base,
        kind: 'session-expired',
        fault: 'theirs',
        code: 'K3_SESSION_LOST',
      },
    );
  }
  if (msgCode === 14) {
    return new K3CloudError(
      `金蝶调用次数受限，请稍后重试 / K3Cloud call limit reached, retry later ${label}: ${detail}`,
      {
        ...base,
        kind: 'throttled',
        fault: 'theirs',
        code: 'K3_MSGCODE_14',
        retryAfterMs: retryAfter.callLimitMs,
      },
    );
  }
  if (
    msgCode === 13 ||
    (errors.length > 0 && errors.every((row) => LOCK_CONFLICT_PATTERN.test(row.message)))
  ) {
    return new K3CloudError(
      `单据正被其他操作锁定（网控冲突），请稍后重试 / the bill is locked by another operation (edit-lock conflict), retry later ${label}: ${detail}`,
      {
        ...base,
        kind: 'throttled',
        fault: 'theirs',
        code: msgCode === 13 ? 'K3_MSGCODE_13' : 'K3_LOCK_CONFLICT',
        retryAfterMs: retryAfter.lockConflictMs,
      },
    );
  }
  const code = msgCode === undefined || msgCode === 0 ? 'K3_BUSINESS' : `K3_MSGCODE_${msgCode}`;
  if (msgCode === 15) {
    return new K3CloudError(
      `金蝶禁止管理员通过接口登录，请使用集成用户 / K3Cloud forbids administrator logins, use an integration user ${label}: ${detail}`,
      { ...base, kind: 'config', fault: 'ours', code },
    );
  }
  if (msgCode === 10) {
    return new K3CloudError(`金蝶未找到对应数据 / K3Cloud found no such data ${label}: ${detail}`, {
      ...base,
      kind: 'not-found',
      fault: 'caller',
      code,
    });
  }
  // 2 no permission / 7 licence: the integration user's set-up; 3/5 empty operation/form id: our request;
  // 4 exception / 6 database: the server; 8, 9, 11, 12 and undocumented codes: the data we sent.
  const fault =
    msgCode === 2 || msgCode === 3 || msgCode === 5 || msgCode === 7
      ? 'ours'
      : msgCode === 4 || msgCode === 6
        ? 'theirs'
        : 'caller';
  return new K3CloudError(
    `金蝶云星空拒绝了请求 / K3Cloud rejected the request ${label} (${describeMsgCode(msgCode)}): ${detail}`,
    { ...base, kind: 'business', fault, code },
  );
}

/** HTTP statuses the server answers with a body we should read (the SDKs accept 200 and 206). */
function isReadableStatus(status: number): boolean {
  return status >= 200 && status < 300;
}

function htmlTitle(body: string): string | undefined {
  const match = /<title[^>]*>([^<]{1,200})<\/title>/i.exec(body);
  return match?.[1]?.trim() || undefined;
}

function snippet(body: string): string {
  const flat = body.replace(/\s+/g, ' ').trim();
  return flat.length > 200 ? `${flat.slice(0, 200)}…` : flat;
}

function tryJson(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false };
  }
}

/** Transport-class failure: transient for reads; for writes only when nothing can have been executed. */
function transportError(
  ctx: CallContext,
  code: string,
  message: string,
  options: { httpStatus?: number; remoteMessages?: string[]; cause?: unknown } = {},
): K3CloudError {
  return new K3CloudError(`${message} ${callLabel(ctx.operation, ctx.formId)}`, {
    kind: 'transient',
    fault: 'theirs',
    code,
    operation: ctx.operation,
    formId: ctx.formId,
    httpStatus: options.httpStatus,
    remoteMessages: options.remoteMessages ?? [],
    cause: options.cause,
  });
}

/** A bilingual fragment: what happened, in Chinese and in English. */
export interface Bilingual {
  zh: string;
  en: string;
}

/** A write that may have been executed while we cannot know: never re-sent by the client. */
export function outcomeUnknownError(
  ctx: CallContext,
  what: Bilingual,
  options: { httpStatus?: number; remoteMessages?: string[]; cause?: unknown } = {},
): K3CloudError {
  return new K3CloudError(
    `写操作结果未知：请求已发出，但${what.zh}，金蝶可能已经执行；重新发送前必须先查询确认（例如按单据编号或外部编码查询）。` +
      ` / Outcome unknown: the request was sent but ${what.en}; K3Cloud may have executed it.` +
      ` Look the record up (e.g. by number or external key) before sending it again. ${callLabel(ctx.operation, ctx.formId)}`,
    {
      kind: 'outcome-unknown',
      fault: 'theirs',
      code: 'K3_OUTCOME_UNKNOWN',
      operation: ctx.operation,
      formId: ctx.formId,
      httpStatus: options.httpStatus,
      remoteMessages: options.remoteMessages ?? [],
      cause: options.cause,
    },
  );
}

/**
 * Read an HTTP answer: return the parsed JSON, or throw the classified error for error pages,
 * `response_error:` bodies, WAF blocks, gateway errors and non-JSON bodies. Business results (HTTP 200 with
 * `IsSuccess:false`) are returned as JSON; the operation's parser classifies them.
 *
 * @throws {K3CloudError} transient / outcome-unknown / config / business, as described in the module table.
 */
export function readHttpResponse(
  ctx: CallContext,
  response: { status: number; body: string },
  retryAfter: RetryAfterPolicy = DEFAULT_RETRY_AFTER,
): unknown {
  const { status } = response;
  const body = response.body.replace(/^\uFEFF/, '').trim();
  const write = isWrite(ctx);

  if (body.startsWith('response_error:')) {
    // An unhandled server exception; the SDKs throw `Message-->InnerExWrapper.Message` (spec §3.2).
    const parsed = tryJson(body.slice('response_error:'.length));
    const exception = parsed.ok ? kdExceptionSchema.safeParse(parsed.value) : undefined;
    const texts = exception?.success
      ? [
          exception.data.Message,
          exception.data.InnerExWrapper?.Message,
          exception.data.InnerException?.Message,
        ]
          .filter((text): text is string => typeof text === 'string' && text.length > 0)
          .filter((text, index, all) => all.indexOf(text) === index)
      : [snippet(body.slice('response_error:'.length))];
    throw transportError(
      ctx,
      'K3_RESPONSE_ERROR',
      `金蝶服务端异常（response_error）/ K3Cloud server exception (response_error): ${texts.join('-->')}`,
      {
        httpStatus: status,
        remoteMessages: texts,
      },
    );
  }

  const json = body.length > 0 ? tryJson(body) : ({ ok: false } as const);

  if (status >= 300 && status < 400) {
    throw new K3CloudError(
      `金蝶地址返回重定向（HTTP ${status}），请检查 K3CLOUD_SERVER_URL（http/https 与 /k3cloud/ 路径）/ K3Cloud answered a redirect (HTTP ${status}); check K3CLOUD_SERVER_URL (scheme and the /k3cloud/ path) ${callLabel(ctx.operation, ctx.formId)}`,
      {
        kind: 'config',
        fault: 'ours',
        code: `K3_HTTP_${status}`,
        operation: ctx.operation,
        formId: ctx.formId,
        httpStatus: status,
      },
    );
  }

  if (!isReadableStatus(status)) {
    if (json.ok) {
      const gateway = gatewayErrorSchema.safeParse(json.value);
      if (gateway.success) {
        // Kingdee's API gateway (HTTP 519): 4xxx = authentication/timestamp, 5001 = unknown API (spec §1.1).
        const texts = [gateway.data.description_cn, gateway.data.description].filter(
          (text): text is string => typeof text === 'string' && text.length > 0,
        );
        throw new K3CloudError(
          `金蝶 API 网关拒绝了请求（errcode ${gateway.data.errcode}）/ Kingdee API gateway refused the request (errcode ${gateway.data.errcode}, HTTP ${status}): ${texts.join(' / ')} ${callLabel(ctx.operation, ctx.formId)}`,
          {
            kind: 'config',
            fault: 'ours',
            code: `K3_GATEWAY_${gateway.data.errcode}`,
            operation: ctx.operation,
            formId: ctx.formId,
            httpStatus: status,
            remoteMessages: texts,
          },
        );
      }
      const k3Status = findResponseStatus(json.value);
      if (k3Status && !k3Status.isSuccess)
        throw failureFromStatus(ctx, k3Status, retryAfter, { httpStatus: status });
    }
    const title = htmlTitle(body);
    const remote = title ? [title] : body.length > 0 ? [snippet(body)] : [];
    if (status === 404) {
      throw new K3CloudError(
        `金蝶接口地址不存在（HTTP 404），请检查 K3CLOUD_SERVER_URL / K3Cloud endpoint not found (HTTP 404); check K3CLOUD_SERVER_URL ${callLabel(ctx.operation, ctx.formId)}`,
        {
          kind: 'config',
          fault: 'ours',
          code: 'K3_HTTP_404',
          operation: ctx.operation,
          formId: ctx.formId,
          httpStatus: status,
          remoteMessages: remote,
        },
      );
    }
    if (write && (status === 502 || status === 504)) {
      // A proxy gave up waiting for K3Cloud, which may still have executed the write.
      throw outcomeUnknownError(
        ctx,
        { zh: `代理返回 HTTP ${status}`, en: `a proxy answered HTTP ${status}` },
        { httpStatus: status, remoteMessages: remote },
      );
    }
    throw transportError(
      ctx,
      `K3_HTTP_${status}`,
      `金蝶返回 HTTP ${status} / K3Cloud answered HTTP ${status}${remote.length > 0 ? `: ${remote.join('; ')}` : ''}`,
      {
        httpStatus: status,
        remoteMessages: remote,
      },
    );
  }

  if (body.startsWith('<')) {
    const title = htmlTitle(body);
    throw transportError(
      ctx,
      'K3_HTML_BODY',
      `金蝶返回了 HTML 页面而不是 JSON / K3Cloud answered an HTML page instead of JSON${title ? `: ${title}` : ''}`,
      {
        httpStatus: status,
        remoteMessages: title ? [title] : [],
      },
    );
  }
  if (!json.ok) {
    throw transportError(
      ctx,
      'K3_NON_JSON_BODY',
      `金蝶返回的内容不是 JSON / K3Cloud answered a body that is not JSON: ${body.length > 0 ? snippet(body) : '(empty)'}`,
      {
        httpStatus: status,
        remoteMessages: body.length > 0 ? [snippet(body)] : [],
      },
    );
  }
  const waf = wafBlockSchema.safeParse(json.value);
  if (waf.success) {
    const texts = waf.data.flatMap((item) =>
      (item.params ?? []).flatMap((param) => (param.msg ? [param.msg] : [])),
    );
    throw transportError(
      ctx,
      'K3_WAF_BLOCKED',
      `请求被金蝶前面的防火墙/代理拦截 / A firewall or proxy in front of K3Cloud blocked the request: ${texts.join('; ') || waf.data[0]?.actionname}`,
      { httpStatus: status, remoteMessages: texts },
    );
  }
  return json.value;
}

const TRANSPORT_REASONS: Record<TransportFailure['reason'], Bilingual> = {
  timeout: { zh: '等待响应超时', en: 'the response timed out' },
  aborted: { zh: '调用被取消', en: 'the call was aborted' },
  reset: { zh: '连接被重置', en: 'the connection was reset' },
  connect: { zh: '无法建立连接', en: 'no connection could be made' },
  tls: { zh: 'TLS 握手失败', en: 'the TLS handshake failed' },
  'too-large': { zh: '响应超过大小上限', en: 'the response exceeded the size limit' },
  other: { zh: '传输错误', en: 'a transport error occurred' },
};

/** Classify a transport failure for this call. */
export function failureFromTransport(ctx: CallContext, failure: TransportFailure): K3CloudError {
  const label = callLabel(ctx.operation, ctx.formId);
  const what = TRANSPORT_REASONS[failure.reason];
  if (failure.sent && isWrite(ctx)) {
    return outcomeUnknownError(
      ctx,
      { zh: `${what.zh}（${failure.detail}）`, en: `${what.en} (${failure.detail})` },
      { cause: failure.cause },
    );
  }
  if (failure.reason === 'tls') {
    return new K3CloudError(
      `无法验证金蝶服务器证书；自签名证书请用 NODE_EXTRA_CA_CERTS 指定 CA / Could not verify the K3Cloud server certificate; for a self-signed certificate add its CA with NODE_EXTRA_CA_CERTS ${label}: ${failure.detail}`,
      {
        kind: 'config',
        fault: 'ours',
        code: 'K3_TLS',
        operation: ctx.operation,
        formId: ctx.formId,
        cause: failure.cause,
      },
    );
  }
  const code = {
    timeout: 'K3_TIMEOUT',
    aborted: 'K3_ABORTED',
    reset: 'K3_CONNECTION_RESET',
    connect: 'K3_CONNECTION_FAILED',
    'too-large': 'K3_RESPONSE_TOO_LARGE',
    other: 'K3_TRANSPORT',
  }[failure.reason];
  const sentNote = failure.sent ? '' : '（请求未发出 / request not sent）';
  return transportError(ctx, code, `${what.zh} / ${what.en}${sentNote}: ${failure.detail}`, {
    cause: failure.cause,
  });
}

/** A JSON answer whose shape we do not recognise. For a write it may have been a success: outcome unknown. */
export function unexpectedResponseError(ctx: CallContext, json: unknown, cause?: unknown): K3CloudError {
  const text = snippet(JSON.stringify(json) ?? String(json));
  if (isWrite(ctx)) {
    return outcomeUnknownError(
      ctx,
      { zh: '响应格式无法识别', en: 'the response had an unrecognised shape' },
      {
        remoteMessages: [text],
        cause,
      },
    );
  }
  return new K3CloudError(
    `金蝶返回了无法识别的响应 / K3Cloud answered with an unrecognised response ${callLabel(ctx.operation, ctx.formId)}: ${text}`,
    {
      kind: 'internal',
      fault: 'theirs',
      code: 'K3_UNEXPECTED_RESPONSE',
      operation: ctx.operation,
      formId: ctx.formId,
      remoteMessages: [text],
      cause,
    },
  );
}
