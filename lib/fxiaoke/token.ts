/**
 * Fxiaoke access tokens for both conventions, and how a token is attached to a request.
 *
 * - `legacy`: `POST /cgi/corpAccessToken/get/V2 {appId, appSecret, permanentCode}` →
 *   `{corpAccessToken, corpId, expiresIn}`; every later body carries `corpAccessToken`, `corpId` and
 *   `currentOpenUserId` (spec §2.1, §2.3).
 * - `oauth2`: `POST /oauth2.0/token {appId, appSecret, permanentCode, grantType: "app_secret"}` →
 *   `{accessToken, expiresIn, ea}`; every later call carries `authorization: Bearer <token>`, `x-fs-ea`,
 *   `x-fs-userid` headers (spec §2.2, §2.3).
 *
 * Reuse rules (spec §2.1, "FACT"): within 0–6600 s Fxiaoke returns the same token; between 6600 and 7200 s
 * it issues a new one, and that is when renewal should happen; the old token stays valid until its own
 * 7200 s. The oauth2 page asks for "caching for at least 6600 seconds" and refreshing "between 6650–7200
 * seconds". So a credential is renewed once it enters the last 600 s (legacy) / 550 s (oauth2) of the
 * lifetime Fxiaoke announced, and is never used past that lifetime.
 *
 * The credential is plain JSON (it is stored as-is by the DynamoDB credential store).
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { Credential } from '../credentials.ts';
import type { FxiaokeAuthFlow } from './config.ts';

export const LEGACY_TOKEN_PATH = '/cgi/corpAccessToken/get/V2';
export const OAUTH2_TOKEN_PATH = '/oauth2.0/token';

/** Fxiaoke's stated maximum token lifetime (expiresIn ≤ 7200 s). */
export const TOKEN_MAX_LIFETIME_MS = 7_200_000;
/** Legacy: a new token is issued from 6600 s on, i.e. in the last 600 s of 7200 s. */
export const LEGACY_RENEW_BEFORE_EXPIRY_MS = 600_000;
/** oauth2: "refresh between 6650–7200 seconds", i.e. in the last 550 s. */
export const OAUTH2_RENEW_BEFORE_EXPIRY_MS = 550_000;
/** Fxiaoke's token endpoint allows ~10 calls per minute and no concurrency (spec §2.1 via [S6]). */
export const TOKEN_ENDPOINT_LIMIT = { calls: 10, windowMs: 60_000 } as const;

/** The stored Fxiaoke credential (plain JSON). */
export interface FxiaokeCredential extends Credential {
  flow: FxiaokeAuthFlow;
  /** corpAccessToken (legacy) or accessToken (oauth2). */
  token: string;
  /** legacy: the corpId returned with the token (`FSCID_…`). */
  corpId?: string;
  /** oauth2: the enterprise account (`ea`) returned with the token, sent as `x-fs-ea`. */
  ea?: string;
  issuedAtMs: number;
}

/** Zod schema of a stored credential, for stores that read it back from JSON. */
export const fxiaokeCredentialSchema = z.object({
  id: z.string().min(1),
  renewAtMs: z.number(),
  expiresAtMs: z.number(),
  flow: z.enum(['legacy', 'oauth2']),
  token: z.string().min(1),
  corpId: z.string().optional(),
  ea: z.string().optional(),
  issuedAtMs: z.number(),
});

const seconds = z.union([
  z.number(),
  z
    .string()
    .regex(/^\d+(\.\d+)?$/)
    .transform(Number),
]);

const legacyTokenSchema = z.looseObject({
  corpAccessToken: z.string().min(1),
  corpId: z.string().min(1),
  expiresIn: seconds.optional(),
});

const oauth2TokenSchema = z.looseObject({
  accessToken: z.string().min(1),
  ea: z.string().min(1),
  expiresIn: seconds.optional(),
});

/** What goes into the token request body. */
export interface TokenRequestIdentity {
  appId: string;
  appSecret: string;
  permanentCode: string;
}

/** Path and body of the token request for `flow`. */
export function tokenRequest(
  flow: FxiaokeAuthFlow,
  identity: TokenRequestIdentity,
): { path: string; body: Record<string, string> } {
  const base = {
    appId: identity.appId,
    appSecret: identity.appSecret,
    permanentCode: identity.permanentCode,
  };
  return flow === 'legacy'
    ? { path: LEGACY_TOKEN_PATH, body: base }
    : { path: OAUTH2_TOKEN_PATH, body: { ...base, grantType: 'app_secret' } };
}

/** A short, non-reversible id of a token (the credential id; safe to log and to compare). */
export function tokenId(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex').slice(0, 16);
}

/**
 * Turn a successful token response into a credential, or explain what is missing.
 * `expiresIn` missing or out of range is read as the documented maximum of 7200 s (assumption: a real
 * response always carries it; if Fxiaoke ever announced more, we would still stop at 7200 s).
 */
export function credentialFromTokenResponse(
  flow: FxiaokeAuthFlow,
  response: unknown,
  nowMs: number,
): { ok: true; credential: FxiaokeCredential } | { ok: false; problem: string } {
  const lifetime = (expiresIn: number | undefined): number => {
    const ms = expiresIn === undefined ? TOKEN_MAX_LIFETIME_MS : Math.round(expiresIn * 1000);
    return ms > 0 && ms <= TOKEN_MAX_LIFETIME_MS ? ms : TOKEN_MAX_LIFETIME_MS;
  };
  const window = flow === 'legacy' ? LEGACY_RENEW_BEFORE_EXPIRY_MS : OAUTH2_RENEW_BEFORE_EXPIRY_MS;
  const timing = (expiresIn: number | undefined) => {
    const expiresAtMs = nowMs + lifetime(expiresIn);
    // A token handed out late in its life (expiresIn < window) is renewed at once but still used meanwhile.
    return { expiresAtMs, renewAtMs: Math.max(nowMs, expiresAtMs - window) };
  };
  if (flow === 'legacy') {
    const parsed = legacyTokenSchema.safeParse(response);
    if (!parsed.success) return { ok: false, problem: 'corpAccessToken / corpId missing' };
    const { corpAccessToken, corpId, expiresIn } = parsed.data;
    return {
      ok: true,
      credential: {
        id: tokenId(corpAccessToken),
        ...timing(expiresIn),
        flow,
        token: corpAccessToken,
        corpId,
        issuedAtMs: nowMs,
      },
    };
  }
  const parsed = oauth2TokenSchema.safeParse(response);
  if (!parsed.success) return { ok: false, problem: 'accessToken / ea missing' };
  const { accessToken, ea, expiresIn } = parsed.data;
  return {
    ok: true,
    credential: {
      id: tokenId(accessToken),
      ...timing(expiresIn),
      flow,
      token: accessToken,
      ea,
      issuedAtMs: nowMs,
    },
  };
}

/**
 * The credential-store key: one shared token per (flow, host, appId, permanentCode), as Fxiaoke keeps one
 * token per app and permanent code. The permanent code is hashed: keys end up in tables and logs.
 */
export function fxiaokeCredentialKey(settings: {
  authFlow: FxiaokeAuthFlow;
  baseUrl: string;
  appId: string;
  permanentCode: string;
}): string {
  const digest = createHash('sha256')
    .update(`${settings.baseUrl}\n${settings.permanentCode}`, 'utf8')
    .digest('hex')
    .slice(0, 16);
  return `fxiaoke:${settings.authFlow}:${settings.appId}:${digest}`;
}

/** Headers and body of an authenticated call. */
export interface AuthenticatedRequest {
  headers: Record<string, string>;
  body: Record<string, unknown>;
}

/**
 * Attach the credential the way the convention wants it: legacy puts `corpAccessToken`, `corpId` and
 * `currentOpenUserId` at the top of the body; oauth2 sends `authorization: Bearer`, `x-fs-ea` and
 * `x-fs-userid` headers and leaves the body alone.
 */
export function authenticate(
  credential: FxiaokeCredential,
  openUserId: string,
  payload: Record<string, unknown>,
): AuthenticatedRequest {
  if (credential.flow === 'legacy') {
    return {
      headers: {},
      body: {
        corpAccessToken: credential.token,
        corpId: credential.corpId ?? '',
        currentOpenUserId: openUserId,
        ...payload,
      },
    };
  }
  return {
    headers: {
      authorization: `Bearer ${credential.token}`,
      'x-fs-ea': credential.ea ?? '',
      'x-fs-userid': openUserId,
    },
    body: payload,
  };
}
