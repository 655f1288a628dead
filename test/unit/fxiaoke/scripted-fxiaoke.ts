/**
 * Test helper: answers the client's HTTP calls from a script, through undici's own MockAgent (no sockets).
 * It records every request as the wire saw it. It is not an emulator: each test says what Fxiaoke answers.
 */
import { MockAgent } from 'undici';
import { z } from 'zod';
import type { FxiaokeClientSettings } from '../../../lib/fxiaoke/client.ts';
import type { FxiaokeAuthFlow } from '../../../lib/fxiaoke/config.ts';

export const ORIGIN = 'http://fxiaoke.unit.test';

export interface SeenRequest {
  path: string;
  query: URLSearchParams;
  headers: Record<string, string>;
  body: Record<string, unknown>;
}

export interface ScriptedAnswer {
  status?: number;
  json?: unknown;
  text?: string;
}

export type Responder = (request: SeenRequest) => ScriptedAnswer;

const bodySchema = z.record(z.string(), z.unknown());

export const FAKE_SECRET = 'unit-test-app-secret-not-real';
export const FAKE_PERMANENT_CODE = 'UNITTEST00000000PERMANENTCODE000';

export function settingsFor(
  flow: FxiaokeAuthFlow,
  overrides: Partial<FxiaokeClientSettings> = {},
): FxiaokeClientSettings {
  return {
    baseUrl: ORIGIN,
    authFlow: flow,
    appId: 'FSAID_unit',
    appSecret: FAKE_SECRET,
    permanentCode: FAKE_PERMANENT_CODE,
    openUserId: flow === 'legacy' ? 'FSUID_UNITTEST00000000000000000001' : '1000',
    rateLimit: { calls: 100, windowMs: 20_000 },
    timeoutMs: 2_000,
    ...overrides,
  };
}

export const tokenString = (n: number): string => `TOKEN${String(n).padStart(27, '0')}`;

/** A token answer for either flow; `n` makes distinct tokens. */
export function tokenAnswer(flow: FxiaokeAuthFlow, n = 1, expiresIn = 7200): ScriptedAnswer {
  const token = tokenString(n);
  return flow === 'legacy'
    ? {
        json: {
          errorCode: 0,
          errorMessage: 'success',
          corpAccessToken: token,
          corpId: 'FSCID_UNIT',
          expiresIn,
        },
      }
    : {
        json: {
          errorCode: 0,
          errorMessage: 'success',
          accessToken: token,
          ea: 'unit01',
          openUserId: 'FSCID_UNIT',
          expiresIn,
        },
      };
}

export const isTokenPath = (path: string): boolean =>
  path.endsWith('/cgi/corpAccessToken/get/V2') || path.endsWith('/oauth2.0/token');

/**
 * Scripted Fxiaoke: `responder` answers every call (see {@link withToken}); every request is recorded.
 */
export function scriptedFxiaoke(responder: Responder) {
  const agent = new MockAgent();
  agent.disableNetConnect();
  const seen: SeenRequest[] = [];
  agent
    .get(ORIGIN)
    .intercept({ path: () => true, method: 'POST' })
    .reply((options) => {
      const url = new URL(options.path, ORIGIN);
      const headers: Record<string, string> = {};
      const raw = options.headers;
      if (raw && !(raw instanceof Headers)) {
        for (const [key, value] of Object.entries(raw)) headers[key.toLowerCase()] = String(value);
      }
      const body = bodySchema.parse(JSON.parse(typeof options.body === 'string' ? options.body : '{}'));
      const request: SeenRequest = { path: url.pathname, query: url.searchParams, headers, body };
      seen.push(request);
      const answer = responder(request);
      const data = answer.text ?? JSON.stringify(answer.json ?? {});
      return {
        statusCode: answer.status ?? 200,
        data,
        responseOptions: {
          headers: { 'content-type': answer.text === undefined ? 'application/json' : 'text/html' },
        },
      };
    })
    .persist();
  return {
    agent,
    seen,
    /** Requests other than token calls. */
    dataCalls: () => seen.filter((r) => !isTokenPath(r.path)),
    tokenCalls: () => seen.filter((r) => isTokenPath(r.path)),
    close: () => agent.close(),
  };
}

/** A responder that answers token calls with `tokenAnswer(flow)` and everything else with `data`. */
export function withToken(flow: FxiaokeAuthFlow, data: Responder): Responder {
  return (request) => (isTokenPath(request.path) ? tokenAnswer(flow) : data(request));
}

export const ok = (extra: Record<string, unknown> = {}): ScriptedAnswer => ({
  json: { traceId: 'E-O.unit', errorCode: 0, errorMessage: 'OK', errorDescription: 'success', ...extra },
});

export const fail = (errorCode: number, errorMessage = '出错了'): ScriptedAnswer => ({
  json: { traceId: 'E-O.unit-err', errorCode, errorMessage, errorDescription: errorMessage },
});
