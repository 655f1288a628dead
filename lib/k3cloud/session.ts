/**
 * K3Cloud sessions: what we store, how long we trust it, how a login answer is judged, and the cookie jar
 * of signature mode.
 *
 * Session modes (`login-by-sign`, `app-secret`, `password`) log in once and share the session through a
 * {@link CredentialStore} (single-flight: one login for every concurrent caller, in this process or — with
 * the DynamoDB store — across Lambda copies). Signature mode never logs in: every request is signed, and the
 * cookie the server hands out is kept in this process only (see {@link SignatureCookieJar}).
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { Credential } from '../credentials.ts';
import type { K3AuthMode } from './config.ts';
import { callLabel, K3CloudError } from './errors.ts';
import { parseSetCookies, type SetCookie } from './transport.ts';
import type { K3LoginOperation, K3LoginResult } from './wire.ts';

/** Cookie names of a K3Cloud session (spec §2.2). */
export const KDSERVICE_SESSION_COOKIE = 'kdservice-sessionid';
export const ASPNET_SESSION_COOKIE = 'ASP.NET_SessionId';

/**
 * K3Cloud's session lifetime is undocumented; the community assumes ~20–30 minutes *idle* (spec §2.7), and
 * the idle clock restarts with every call. Our store cannot see idle time (it would cost a write per call),
 * so we bound the session by its age instead:
 * - renew after 15 min: a busy deployment gets a fresh session in the background before the shortest
 *   claimed idle timeout (20 min) could matter, and callers never wait for that login;
 * - expire after 20 min: a session nobody has used since its login is dead on a 20-minute server by then,
 *   so we never knowingly hand out one that is idle-expired.
 * Anything the bounds miss (a shorter server timeout, a restart, an admin kicking sessions) surfaces as
 * MsgCode 1 and costs one re-login and one retry. At most ~2 sessions per identity are alive at any time,
 * which matters because K3Cloud counts sessions against the licence.
 */
export const SESSION_RENEW_AFTER_MS = 15 * 60_000;
export const SESSION_MAX_AGE_MS = 20 * 60_000;

export type K3SessionAuthMode = Exclude<K3AuthMode, 'signature'>;

/**
 * The credential kept in the {@link CredentialStore}: plain JSON (it is stored in DynamoDB as is).
 * Contains the session ids — which are bearer secrets — and nothing else secret (no password, no app secret).
 */
export interface K3SessionCredential extends Credential {
  type: 'k3cloud-session';
  authMode: K3SessionAuthMode;
  /** Every cookie the login answer set (at least `kdservice-sessionid`), replayed on every call. */
  cookies: SetCookie[];
  /** `KDSVCSessionId`, also sent as the `kdservice-sessionid` header. */
  kdsvcSessionId: string;
  issuedAtMs: number;
}

/** Validates what comes back from a store (it may have been written by another version of the code). */
export const k3SessionCredentialSchema = z.object({
  id: z.string().min(1),
  renewAtMs: z.number(),
  expiresAtMs: z.number(),
  type: z.literal('k3cloud-session'),
  authMode: z.enum(['login-by-sign', 'app-secret', 'password']),
  cookies: z.array(z.object({ name: z.string().min(1), value: z.string() })),
  kdsvcSessionId: z.string().min(1),
  issuedAtMs: z.number(),
});

/**
 * Store key of a session: server site root (without user info, query or fragment) + acctID + user name.
 * No secret is part of it — it appears in logs and in DynamoDB keys.
 */
export function k3SessionKey(config: { serverUrl: string; acctId: string; username: string }): string {
  const url = new URL(config.serverUrl);
  const site = `${url.protocol}//${url.host}${url.pathname}`.toLowerCase();
  return `k3cloud:${site}:${config.acctId}:${config.username}`;
}

/** Credential id: a digest of the session id, so comparisons and logs never need the id itself. */
export function sessionCredentialId(kdsvcSessionId: string): string {
  return createHash('sha256').update(kdsvcSessionId, 'utf8').digest('hex').slice(0, 24);
}

/** `Cookie` header as the official SDKs send it: `Theme=standard; <each cookie>` (spec §2.2, §10). */
export function cookieHeader(cookies: readonly SetCookie[]): string {
  const parts = ['Theme=standard'];
  for (const cookie of cookies) {
    if (cookie.name.toLowerCase() === 'theme') continue;
    parts.push(`${cookie.name}=${cookie.value}`);
  }
  return parts.join('; ');
}

/** Headers carrying a session: the Cookie header plus `kdservice-sessionid` (Python SDK, spec §2.2). */
export function sessionHeaders(cookies: readonly SetCookie[]): Record<string, string> {
  const headers: Record<string, string> = { Cookie: cookieHeader(cookies) };
  const sid = cookies.find((cookie) => cookie.name.toLowerCase() === KDSERVICE_SESSION_COOKIE)?.value;
  if (sid) headers[KDSERVICE_SESSION_COOKIE] = sid;
  return headers;
}

/** Meaning of `LoginResultType` values (spec §2.1). */
const LOGIN_RESULT_TYPES: Readonly<Record<number, { zh: string; en: string }>> = {
  1: { zh: '登录成功', en: 'success' },
  0: { zh: '用户名或密码错误', en: 'wrong user name or password' },
  [-1]: { zh: '登录失败', en: 'login failed' },
  [-2]: { zh: '密码不符合密码策略（可选）', en: 'password does not meet the (optional) password policy' },
  [-3]: {
    zh: '密码不符合密码策略（强制），请修改密码',
    en: 'password violates the mandatory password policy; change it',
  },
  [-4]: { zh: '登录警告', en: 'login warning' },
  [-5]: { zh: '需要表单处理（DealWithForm）', en: 'an interactive form must be handled (DealWithForm)' },
  [-6]: { zh: '云通行证未绑定 Cloud 账号', en: 'the cloud passport is not bound to a Cloud account' },
  [-7]: { zh: '账号需要激活', en: 'the account needs activation' },
};

/** Which settings to check, per auth mode, when a login is refused. */
const LOGIN_HINTS: Record<K3SessionAuthMode, { zh: string; en: string }> = {
  password: {
    zh: '请检查 K3CLOUD_ACCT_ID、K3CLOUD_USERNAME、K3CLOUD_PASSWORD',
    en: 'check K3CLOUD_ACCT_ID, K3CLOUD_USERNAME, K3CLOUD_PASSWORD',
  },
  'app-secret': {
    zh: '请检查 K3CLOUD_ACCT_ID、K3CLOUD_USERNAME、K3CLOUD_APP_ID、K3CLOUD_APP_SECRET，以及“第三方系统登录授权”记录是否启用',
    en: 'check K3CLOUD_ACCT_ID, K3CLOUD_USERNAME, K3CLOUD_APP_ID, K3CLOUD_APP_SECRET and that the third-party login authorisation (第三方系统登录授权) is enabled',
  },
  'login-by-sign': {
    zh: '请检查 K3CLOUD_ACCT_ID、K3CLOUD_USERNAME、K3CLOUD_APP_ID、K3CLOUD_APP_SECRET、“第三方系统登录授权”记录和本机时间；8.0.0.202205 之前的服务器请设置 K3CLOUD_LOGIN_SIGN_ALGORITHM=sha1',
    en: 'check K3CLOUD_ACCT_ID, K3CLOUD_USERNAME, K3CLOUD_APP_ID, K3CLOUD_APP_SECRET, the third-party login authorisation and this machine’s clock; servers older than 8.0.0.202205 need K3CLOUD_LOGIN_SIGN_ALGORITHM=sha1',
  },
};

export interface LoginJudgement {
  cookies: SetCookie[];
  kdsvcSessionId: string;
  /** The login succeeded with `LoginResultType -5` (accepted, but worth a warning in the log). */
  dealWithForm: boolean;
}

/**
 * Decide whether a login answer gives us a usable session.
 *
 * Success means `LoginResultType` 1 **and** a non-empty `KDSVCSessionId`: licence-expiry logins answer 1
 * with no session (spec §2.1, §7.6). `-5` (DealWithForm) is accepted too when a session id is present and
 * `acceptDealWithForm` is true (our default): administrators get it when the web UI would show a form
 * (e.g. a reminder); the session works and other clients accept it (spec §7.10). An API client cannot
 * handle the form, so refusing would only break a working set-up; the client logs a warning instead.
 *
 * @throws {K3CloudError} kind `config`, naming the reason in Chinese and English with the server's Message.
 */
export function judgeLoginResult(
  operation: K3LoginOperation,
  authMode: K3SessionAuthMode,
  result: K3LoginResult,
  setCookieValues: readonly string[],
  options: { acceptDealWithForm: boolean },
): LoginJudgement {
  const type = result.LoginResultType;
  const serverMessage = result.Message?.trim() ?? '';
  const remoteMessages = serverMessage ? [serverMessage] : [];
  const serverNote = serverMessage
    ? `服务器消息 / server message: “${serverMessage}”`
    : '服务器未给出消息 / no server message';
  const hint = LOGIN_HINTS[authMode];
  const accepted = type === 1 || (type === -5 && options.acceptDealWithForm);
  if (!accepted) {
    const meaning = (type === undefined ? undefined : LOGIN_RESULT_TYPES[type]) ?? {
      zh: '未知结果',
      en: 'unknown result',
    };
    throw new K3CloudError(
      `金蝶登录失败：${meaning.zh}（LoginResultType ${type ?? '缺失'}）。${serverNote}。${hint.zh}。` +
        ` / K3Cloud login failed: ${meaning.en} (LoginResultType ${type ?? 'missing'}); ${hint.en}. ${callLabel(operation, undefined)}`,
      {
        kind: 'config',
        fault: 'ours',
        code: `K3_LOGIN_REJECTED`,
        operation,
        remoteMessages,
      },
    );
  }

  const fromHeaders = parseSetCookies(setCookieValues).filter((cookie) => cookie.value.length > 0);
  const sid =
    result.KDSVCSessionId?.trim() || fromHeaders.find((c) => c.name === KDSERVICE_SESSION_COOKIE)?.value;
  if (!sid) {
    const formNote = result.FormId ? `（FormId=${result.FormId}）` : '';
    throw new K3CloudError(
      `金蝶登录未返回会话（KDSVCSessionId 为空）${formNote}：通常是许可证到期或未授权、或服务器要求先处理云巡检等界面表单。${serverNote}。` +
        ` / K3Cloud login returned no session (KDSVCSessionId is null)${result.FormId ? ` (FormId=${result.FormId})` : ''}: usually an expired or missing licence, or the server demands an interactive form first. ${callLabel(operation, undefined)}`,
      { kind: 'config', fault: 'theirs', code: 'K3_LOGIN_NO_SESSION', operation, remoteMessages },
    );
  }

  // Replay exactly what the server set; if it set no cookies (or not both), rebuild them from the body,
  // where the same ids travel as KDSVCSessionId and Context.SessionId (spec §2.1).
  const cookies = [...fromHeaders];
  if (!cookies.some((c) => c.name === KDSERVICE_SESSION_COOKIE)) {
    cookies.push({ name: KDSERVICE_SESSION_COOKIE, value: sid });
  }
  const aspNet = result.Context?.SessionId?.trim();
  if (aspNet && !cookies.some((c) => c.name === ASPNET_SESSION_COOKIE)) {
    cookies.unshift({ name: ASPNET_SESSION_COOKIE, value: aspNet });
  }
  return { cookies, kdsvcSessionId: sid, dealWithForm: type === -5 };
}

/** Build the stored credential for a fresh session. */
export function newSessionCredential(
  authMode: K3SessionAuthMode,
  judgement: LoginJudgement,
  nowMs: number,
  lifetime: { renewAfterMs: number; maxAgeMs: number },
): K3SessionCredential {
  return {
    id: sessionCredentialId(judgement.kdsvcSessionId),
    renewAtMs: nowMs + lifetime.renewAfterMs,
    expiresAtMs: nowMs + lifetime.maxAgeMs,
    type: 'k3cloud-session',
    authMode,
    cookies: judgement.cookies,
    kdsvcSessionId: judgement.kdsvcSessionId,
    issuedAtMs: nowMs,
  };
}

/** What one signed request carries from the jar, and how it reports back. */
export interface JarTicket {
  /** Jar version the request was sent with (for compare-and-clear on MsgCode 1). */
  readonly generation: number;
  readonly cookies: readonly SetCookie[];
  /** Report the Set-Cookie headers of the response (`undefined`: no response at all). Call exactly once. */
  settle(setCookieValues: readonly string[] | undefined): void;
}

/**
 * Signature mode's session cookies, kept in this process only.
 *
 * Nothing is put in the {@link CredentialStore} in signature mode: the signature authenticates every
 * request, and the cookie the server hands back only saves it from building a new server session per call.
 * We replay it like the official SDKs. After MsgCode 1 the cookie is dropped (compare-and-clear, so a
 * late report cannot drop a newer cookie) and the next signed call gets a fresh one — a stale cookie can
 * keep failing even with valid signature headers (spec §2.7).
 *
 * While the jar is empty, requests go one at a time until one brings a cookie back: a burst of calls after
 * a cold start or a session loss then creates one server session, not one per call. If a server answers
 * without any session cookie, the gate opens for good (that server does not issue them).
 */
export class SignatureCookieJar {
  #cookies: SetCookie[] = [];
  #generation = 0;
  #establishing: Promise<void> | undefined;
  #serverIssuesCookies = true;

  get generation(): number {
    return this.#generation;
  }

  get hasSession(): boolean {
    return this.#cookies.some((c) => c.name === KDSERVICE_SESSION_COOKIE || c.name === ASPNET_SESSION_COOKIE);
  }

  /** Values of the cookies held now (to register them with the log redactor). */
  cookieValues(): string[] {
    return this.#cookies.map((cookie) => cookie.value);
  }

  async ticket(): Promise<JarTicket> {
    for (;;) {
      if (this.hasSession || !this.#serverIssuesCookies) return this.#ticket(undefined);
      if (!this.#establishing) break;
      await this.#establishing;
    }
    let release: () => void = () => {};
    this.#establishing = new Promise<void>((resolve) => {
      release = resolve;
    });
    return this.#ticket(() => {
      this.#establishing = undefined;
      release();
    });
  }

  /** Drop the cookies if they are still those of `generation`. Returns whether anything was dropped. */
  invalidate(generation: number): boolean {
    if (generation !== this.#generation || this.#cookies.length === 0) return false;
    this.#cookies = [];
    this.#generation++;
    return true;
  }

  #ticket(onSettled: (() => void) | undefined): JarTicket {
    let settled = false;
    return {
      generation: this.#generation,
      cookies: this.#cookies,
      settle: (setCookieValues) => {
        if (settled) return;
        settled = true;
        if (setCookieValues !== undefined) this.#absorb(setCookieValues, onSettled !== undefined);
        onSettled?.();
      },
    };
  }

  #absorb(setCookieValues: readonly string[], establishing: boolean): void {
    const incoming = parseSetCookies(setCookieValues);
    if (incoming.length > 0) {
      const merged = new Map(this.#cookies.map((c) => [c.name, c.value]));
      for (const cookie of incoming) {
        if (cookie.value.length === 0) merged.delete(cookie.name);
        else merged.set(cookie.name, cookie.value);
      }
      const next = [...merged].map(([name, value]) => ({ name, value }));
      const changed =
        next.length !== this.#cookies.length ||
        next.some((c, i) => c.name !== this.#cookies[i]?.name || c.value !== this.#cookies[i]?.value);
      if (changed) {
        this.#cookies = next;
        this.#generation++;
      }
    }
    if (this.hasSession) this.#serverIssuesCookies = true;
    else if (establishing) this.#serverIssuesCookies = false;
  }
}
