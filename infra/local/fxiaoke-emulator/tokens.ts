/**
 * Both Fxiaoke token flows with the real reuse rules (spec §2.1, §2.2):
 * - a token lives 7200 s;
 * - asking again before it is 6600 s old returns the same token (with the remaining `expiresIn`);
 * - asking from 6600 s on issues a new token, while the old one stays valid until its own 7200 s;
 * - an expired, revoked or unknown token is answered with 20016.
 * Ages come from the injected clock so tests cross the boundaries without waiting.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { safeEqual } from '../../../lib/fxiaoke/push-crypto.ts';
import { FxiaokeApiError } from './errors.ts';
import { newToken } from './ids.ts';

export type TokenFlow = 'legacy' | 'oauth2';

/** `expiresIn` upper bound (spec §2.1: "expiresIn: seconds, 0–7200"). */
export const TOKEN_LIFETIME_MS = 7_200_000;
/** Age below which the same token is returned again (spec §2.1). */
export const TOKEN_REUSE_MS = 6_600_000;

export interface IssuedToken {
  token: string;
  flow: TokenFlow;
  appId: string;
  issuedAtMs: number;
  expiresAtMs: number;
}

const savedTokensSchema = z.array(
  z.object({
    token: z.string().min(1),
    flow: z.enum(['legacy', 'oauth2']),
    appId: z.string(),
    issuedAtMs: z.number(),
    expiresAtMs: z.number(),
  }),
);

export interface TokenCredentials {
  appId?: unknown;
  appSecret?: unknown;
  permanentCode?: unknown;
}

export interface TokenIdentity {
  appId: string;
  appSecret: string;
  permanentCode: string;
}

/** `FSCID_` + 32 upper-hex, stable per enterprise account (spec §1.3 shape). */
export function corpIdFor(enterpriseAccount: string): string {
  return `FSCID_${createHash('sha256').update(`corp:${enterpriseAccount}`).digest('hex').slice(0, 32).toUpperCase()}`;
}

function presentString(value: unknown): string | undefined {
  return typeof value === 'string' && value.trim() !== '' ? value : undefined;
}

export class TokenService {
  readonly #identity: TokenIdentity;
  readonly #clock: () => number;
  /** The newest token per flow (the one a repeated request gets back). */
  readonly #current = new Map<TokenFlow, IssuedToken>();
  readonly #byToken = new Map<string, IssuedToken>();
  #issuedCount = 0;

  constructor(identity: TokenIdentity, clock: () => number) {
    this.#identity = identity;
    this.#clock = clock;
  }

  /** New tokens issued since start (reused answers do not count). */
  get issuedCount(): number {
    return this.#issuedCount;
  }

  resetCount(): void {
    this.#issuedCount = 0;
  }

  /**
   * Answer a token request.
   * @throws {FxiaokeApiError} 10001/10002/10012 for a missing credential, 20006 for a wrong appId or
   *   appSecret, 20015 for a wrong permanentCode.
   */
  issue(flow: TokenFlow, credentials: TokenCredentials): { token: IssuedToken; expiresInSeconds: number } {
    const appId = presentString(credentials.appId);
    const appSecret = presentString(credentials.appSecret);
    const permanentCode = presentString(credentials.permanentCode);
    if (!appId) throw new FxiaokeApiError(10001, '缺少参数 appId / Missing appId');
    if (!appSecret) throw new FxiaokeApiError(10002, '缺少参数 appSecret / Missing appSecret');
    if (!permanentCode) throw new FxiaokeApiError(10012, '缺少参数 permanentCode / Missing permanentCode');
    if (!safeEqual(appId, this.#identity.appId) || !safeEqual(appSecret, this.#identity.appSecret)) {
      throw new FxiaokeApiError(20006, 'appId 或 appSecret 错误 / appId or appSecret is wrong');
    }
    if (!safeEqual(permanentCode, this.#identity.permanentCode)) {
      throw new FxiaokeApiError(20015, '永久授权码错误 / permanentCode is wrong');
    }
    const now = this.#clock();
    this.#purge(now);
    const current = this.#current.get(flow);
    if (current && this.#byToken.has(current.token) && now - current.issuedAtMs < TOKEN_REUSE_MS) {
      return { token: current, expiresInSeconds: Math.floor((current.expiresAtMs - now) / 1000) };
    }
    const token: IssuedToken = {
      token: newToken(),
      flow,
      appId,
      issuedAtMs: now,
      expiresAtMs: now + TOKEN_LIFETIME_MS,
    };
    this.#current.set(flow, token);
    this.#byToken.set(token.token, token);
    this.#issuedCount += 1;
    return { token, expiresInSeconds: TOKEN_LIFETIME_MS / 1000 };
  }

  /**
   * The issued token for `value` if it is still valid.
   * ASSUMPTION (spec: UNKNOWN): a token of either flow is accepted in either request style; the spec only
   * says the conventions differ in where the credentials go.
   */
  validate(value: string): IssuedToken | undefined {
    const token = this.#byToken.get(value);
    if (!token) return undefined;
    if (this.#clock() >= token.expiresAtMs) {
      this.#byToken.delete(value);
      return undefined;
    }
    return token;
  }

  /** Invalidate every issued token (fault `expireTokens`); the next token request issues a new one. */
  revokeAll(): number {
    const count = this.#byToken.size;
    this.#byToken.clear();
    this.#current.clear();
    return count;
  }

  #purge(now: number): void {
    for (const [value, token] of this.#byToken) if (now >= token.expiresAtMs) this.#byToken.delete(value);
  }

  /** Valid tokens, for persistence across a restart. */
  export(): IssuedToken[] {
    this.#purge(this.#clock());
    return [...this.#byToken.values()];
  }

  /** Reload tokens saved by {@link export}; malformed, foreign or expired entries are skipped. */
  import(saved: unknown): void {
    const parsed = savedTokensSchema.safeParse(saved);
    if (!parsed.success) return;
    const now = this.#clock();
    for (const restored of parsed.data) {
      if (restored.expiresAtMs <= now || restored.appId !== this.#identity.appId) continue;
      this.#byToken.set(restored.token, restored);
      const current = this.#current.get(restored.flow);
      if (!current || current.issuedAtMs < restored.issuedAtMs) this.#current.set(restored.flow, restored);
    }
  }
}
