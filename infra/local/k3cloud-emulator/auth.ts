/**
 * Authentication as a K3Cloud server performs it (spec §2): the three session logins, per-request signature
 * headers, sessions with an idle timeout, and the LoginResult document.
 *
 * This is the server side of the algorithms, written independently of the client in `lib/k3cloud`, so each
 * checks the other against the spec's worked vectors.
 */
import { createHash, createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { K3EmulatorIdentity } from './api.ts';

export type LoginSignAlgorithm = 'sha256' | 'sha1';

/** `KDHMAC(msg, key) = base64(lowercase_hex(HMAC-SHA256(key, msg)))` — base64 of the hex text (spec §2.6). */
export function kdHmac(message: string, key: string): string {
  const hex = createHmac('sha256', Buffer.from(key, 'utf8')).update(message, 'utf8').digest('hex');
  return Buffer.from(hex, 'utf8').toString('base64');
}

/**
 * LoginBySign's `sign`: hex hash of acctID, username, appId, appSecret and timestamp sorted ordinally and
 * concatenated (spec §2.4). SHA-1 only on servers older than 8.0.0.202205.
 */
export function loginSign(parts: readonly string[], algorithm: LoginSignAlgorithm): string {
  // Ordinal sort by UTF-16 code units = JS default sort (C# StringComparer.Ordinal, Java Arrays.sort).
  const joined = [...parts].sort().join('');
  return createHash(algorithm).update(joined, 'utf8').digest('hex');
}

/** `X-Kd-Signature = KDHMAC(appId + appData, appSecret)` with the raw comma-separated appData (spec §2.6). */
export function appDataSignature(appId: string, appData: string, appSecret: string): string {
  return kdHmac(appId + appData, appSecret);
}

/** XOR key of the gateway client secret (spec §2.6; ROT13 of the Python SDK's constant). */
const GATEWAY_XOR_KEY = '0054f397c6234378b09ca7d3e5debce7';

/**
 * The gateway signing key derived from the AppID: `base64(base64decode(part2) XOR key)` when the part after
 * `_` has 32 characters; otherwise Java uses the part raw and Python an empty key (spec §2.6) — both
 * candidates are returned, so a server can accept either SDK.
 */
export function gatewayClientSecrets(appId: string): string[] {
  const part2 = appId.split('_')[1] ?? '';
  if (part2.length !== 32) return [part2, ''];
  const decoded = Buffer.from(part2, 'base64');
  const key = Buffer.from(GATEWAY_XOR_KEY, 'utf8');
  const xored = Buffer.alloc(decoded.length);
  for (let i = 0; i < decoded.length; i += 1) xored[i] = (decoded[i] ?? 0) ^ (key[i % key.length] ?? 0);
  return [xored.toString('base64')];
}

/**
 * `X-Api-Signature` over `POST\n<%2F-encoded path>\n\nx-api-nonce:<n>\nx-api-timestamp:<t>\n` (spec §2.6).
 */
export function gatewaySignature(
  path: string,
  nonce: string,
  timestamp: string,
  clientSecret: string,
): string {
  const encodedPath = encodeURIComponent(path);
  return kdHmac(`POST\n${encodedPath}\n\nx-api-nonce:${nonce}\nx-api-timestamp:${timestamp}\n`, clientSecret);
}

/** Constant-time string comparison (the emulator is a product; do it right). */
export function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return x.length === y.length && timingSafeEqual(x, y);
}

// ── sessions ────────────────────────────────────────────────────────────────────────────────────────────

export interface Session {
  /** `kdservice-sessionid` / LoginResult.KDSVCSessionId (a GUID). */
  kdsvcId: string;
  /** `ASP.NET_SessionId` / Context.SessionId (24 chars). */
  aspNetId: string;
  kind: 'login' | 'signature';
  username: string;
  lcid: number;
  lastUsedMs: number;
  expired: boolean;
}

/** ASP.NET session ids are 24 characters of `a-z0-5` (base32-like). */
function aspNetSessionId(): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz012345';
  const bytes = randomBytes(24);
  let out = '';
  for (const byte of bytes) out += alphabet[byte % 32];
  return out;
}

/** Sweep dead sessions once this many were created since the last sweep (keeps memory flat under load). */
const SWEEP_EVERY = 1_000;

export class SessionStore {
  readonly #byId = new Map<string, Session>();
  readonly #clock: () => number;
  readonly #idleMs: number;
  #createdSinceSweep = 0;

  constructor(clock: () => number, idleMs: number) {
    this.#clock = clock;
    this.#idleMs = idleMs;
  }

  create(kind: Session['kind'], username: string, lcid: number): Session {
    if (++this.#createdSinceSweep >= SWEEP_EVERY) this.#sweep();
    const session: Session = {
      kdsvcId: randomUUID(),
      aspNetId: aspNetSessionId(),
      kind,
      username,
      lcid,
      lastUsedMs: this.#clock(),
      expired: false,
    };
    this.#byId.set(session.kdsvcId, session);
    this.#byId.set(session.aspNetId, session);
    return session;
  }

  /**
   * The live session among the candidate ids (any of the two ids works), touched; `stale` tells whether
   * a known but expired session was presented.
   */
  find(candidates: readonly string[]): { session: Session | undefined; stale: boolean } {
    let stale = false;
    const now = this.#clock();
    for (const id of candidates) {
      const session = this.#byId.get(id);
      if (!session) continue;
      if (session.expired || now - session.lastUsedMs > this.#idleMs) {
        session.expired = true;
        stale = true;
        continue;
      }
      session.lastUsedMs = now;
      return { session, stale: false };
    }
    return { session: undefined, stale };
  }

  /** Expire every session; returns how many were alive. */
  expireAll(): number {
    const now = this.#clock();
    let count = 0;
    for (const session of new Set(this.#byId.values())) {
      if (!session.expired && now - session.lastUsedMs <= this.#idleMs) count += 1;
      session.expired = true;
    }
    return count;
  }

  #sweep(): void {
    this.#createdSinceSweep = 0;
    const now = this.#clock();
    for (const [id, session] of this.#byId) {
      // Keep expired sessions a while so a late request still gets "session lost", not a fresh session.
      if (now - session.lastUsedMs > this.#idleMs * 2) this.#byId.delete(id);
    }
  }
}

// ── LoginResult ─────────────────────────────────────────────────────────────────────────────────────────

/** Organisation the LoginResult's context names (the demo company's head office). */
export interface LoginOrganization {
  id: number;
  name: string;
}

const TIME_ZONE = {
  OffsetTicks: 288_000_000_000,
  StandardName: '(UTC+08:00)北京，重庆，香港特别行政区，乌鲁木齐',
  Id: 230,
  Number: '1078_SYS',
  CanBeUsed: true,
};

/** Product version the emulator reports (the real capture's, spec §2.1). */
export const EMULATED_DISPLAY_VERSION = '9.0.553.10';
export const DATA_CENTER_NAME = '演示数据中心（模拟器）';
export const DATA_CENTER_NUMBER = 'DEMO';

/** A successful LoginResult, keys in the order of the real capture (spec §2.1). */
export function loginSuccess(
  identity: K3EmulatorIdentity,
  session: Session,
  org: LoginOrganization,
): Record<string, unknown> {
  return {
    Message: null,
    MessageCode: 'CheckPasswordPolicy',
    LoginResultType: 1,
    Context: {
      UserLocale: 'zh-CN',
      LogLocale: 'zh-CN',
      DBid: identity.acctId,
      DatabaseType: 3,
      SessionId: session.aspNetId,
      UseLanguages: [{ LocaleId: 2052, LocaleName: '中文(简体)', Alias: 'CN', LicenseType: 0 }],
      UserId: 100_008,
      UserName: identity.username,
      CustomName: '演示公司',
      DisplayVersion: EMULATED_DISPLAY_VERSION,
      DataCenterName: DATA_CENTER_NAME,
      UserToken: randomUUID(),
      CurrentOrganizationInfo: {
        ID: org.id,
        AcctOrgType: '1',
        Name: org.name,
        FunctionIds: [101, 102, 103, 104, 108, 106, 107, 109, 110, 111, 112, 113, 114],
      },
      IsCH_ZH_AutoTrans: false,
      ClientType: 32,
      WeiboAuthInfo: {
        WeiboUrl: null,
        NetWorkID: null,
        CompanyNetworkID: null,
        Account: null,
        TokenKey: null,
        TokenSecret: null,
        Verify: null,
        CallbackUrl: null,
        UserId: null,
      },
      UTimeZone: TIME_ZONE,
      STimeZone: TIME_ZONE,
      GDCID: '',
      Gsid: randomBytes(10).toString('hex').slice(0, 19),
      TRLevel: 1,
      ProductEdition: 0,
      DataCenterNumber: DATA_CENTER_NUMBER,
      ContextResultType: 0,
      TenantId: '',
      IsDeployAsPublicCloud: false,
    },
    KDSVCSessionId: session.kdsvcId,
    FormId: null,
    RedirectFormParam: null,
    FormInputObject: null,
    ErrorStackTrace: null,
    Lcid: 0,
    AccessToken: null,
    CustomParam: { FChkGUIOldMainConsle: false },
    KdAccessResult: null,
    IsSuccessByAPI: true,
  };
}

/**
 * A failed LoginResult: `LoginResultType` 0 (PWError) or -1 (Failure), a message, `Context` and
 * `KDSVCSessionId` null (spec §2.1; the official failure template has `Context:null`).
 */
export function loginFailure(type: 0 | -1, message: string): Record<string, unknown> {
  return {
    Message: message,
    MessageCode: '',
    LoginResultType: type,
    Context: null,
    KDSVCSessionId: null,
    FormId: null,
    RedirectFormParam: null,
    FormInputObject: null,
    ErrorStackTrace: null,
    Lcid: 0,
    AccessToken: null,
    CustomParam: null,
    KdAccessResult: null,
    IsSuccessByAPI: false,
  };
}

/** Login failure texts. ASSUMPTION: real wording unverified (mocks use `用户名或密码错误`, spec §2.1). */
export const LOGIN_TEXT = {
  badPassword: '用户名或密码错误！',
  unknownDataCenter: (acctId: string) => `数据中心[${acctId}]不存在，请检查数据中心ID（acctID）。`,
  badAppSecret: '第三方系统登录授权验证失败：应用ID或应用密钥不正确！',
  badSign: '第三方系统登录授权验证失败：签名验证不通过！',
  staleTimestamp: '第三方系统登录授权验证失败：时间戳已过期！',
  missing: (name: string) => `参数${name}不能为空！`,
} as const;
