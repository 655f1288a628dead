/**
 * Raw-HTTP helpers for the Fxiaoke emulator tests: requests exactly as spec `fxiaoke-openapi.md` shows them,
 * sent with `fetch` (never through our client), and a controllable clock.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type {
  FxiaokeEmulator,
  FxiaokeEmulatorIdentity,
  FxiaokeEmulatorOptions,
} from '../../../infra/local/fxiaoke-emulator/api.ts';
import { startFxiaokeEmulator } from '../../../infra/local/fxiaoke-emulator/server.ts';

/** Obviously fake credentials (also the sandbox defaults' shape). */
export const IDENTITY: FxiaokeEmulatorIdentity = {
  appId: 'FSAID_test0001',
  appSecret: 'test-app-secret-not-real',
  permanentCode: 'TESTPERMANENTCODE000000000000000',
  openUserId: 'FSUID_00000000000000000000000000001000',
  aesKey: 'O0YjM0EDOygzNykzMzUjLwUTN3MjL5ADN1QjM5gTM0A=',
  enterpriseAccount: 'testea01',
};

export const ADMIN_OPEN_USER_ID = IDENTITY.openUserId;

/** 2026-11-23 10:00 GMT+8. */
export const START_MS = Date.UTC(2026, 10, 23, 2, 0, 0);

export interface TestClock {
  now: () => number;
  advance: (ms: number) => void;
  set: (ms: number) => void;
}

export function testClock(start = START_MS): TestClock {
  let current = start;
  return {
    now: () => current,
    advance: (ms) => {
      current += ms;
    },
    set: (ms) => {
      current = ms;
    },
  };
}

export interface Envelope extends Record<string, unknown> {
  traceId?: string;
  errorCode: number;
  errorMessage: string;
  errorDescription?: string;
}

function isEnvelope(value: unknown): value is Envelope {
  return (
    typeof value === 'object' && value !== null && 'errorCode' in value && typeof value.errorCode === 'number'
  );
}

/** POST raw text; asserts HTTP 200 and a Fxiaoke envelope. */
export async function postRaw(
  base: string,
  path: string,
  body: string,
  headers: Record<string, string> = {},
): Promise<Envelope> {
  const response = await fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body,
  });
  assert.equal(response.status, 200, `HTTP status of ${path}`);
  const json: unknown = await response.json();
  assert.ok(isEnvelope(json), `envelope expected from ${path}, got ${JSON.stringify(json)}`);
  return json;
}

export function post(
  base: string,
  path: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<Envelope> {
  return postRaw(base, path, JSON.stringify(body), headers);
}

/** Legacy-convention session: corpAccessToken/corpId/currentOpenUserId in every body. */
export interface LegacySession {
  token: string;
  corpId: string;
  call: (path: string, body: Record<string, unknown>, openUserId?: string) => Promise<Envelope>;
}

export async function legacySession(emulator: FxiaokeEmulator): Promise<LegacySession> {
  const answer = await post(emulator.url, '/cgi/corpAccessToken/get/V2', {
    appId: IDENTITY.appId,
    appSecret: IDENTITY.appSecret,
    permanentCode: IDENTITY.permanentCode,
  });
  assert.equal(answer.errorCode, 0, JSON.stringify(answer));
  const token = String(answer.corpAccessToken);
  const corpId = String(answer.corpId);
  return {
    token,
    corpId,
    call: (path, body, openUserId = ADMIN_OPEN_USER_ID) =>
      post(emulator.url, path, { corpAccessToken: token, corpId, currentOpenUserId: openUserId, ...body }),
  };
}

/** Current-convention session: Bearer token + x-fs-ea + x-fs-userid, fresh thirdTraceId per call. */
export interface CurrentSession {
  token: string;
  call: (path: string, body: Record<string, unknown>, userId?: string) => Promise<Envelope>;
}

export async function currentSession(emulator: FxiaokeEmulator): Promise<CurrentSession> {
  const answer = await post(emulator.url, `/oauth2.0/token?thirdTraceId=${randomUUID()}`, {
    appId: IDENTITY.appId,
    appSecret: IDENTITY.appSecret,
    permanentCode: IDENTITY.permanentCode,
    grantType: 'app_secret',
  });
  assert.equal(answer.errorCode, 0, JSON.stringify(answer));
  const token = String(answer.accessToken);
  const ea = String(answer.ea);
  return {
    token,
    call: (path, body, userId = '1000') =>
      post(emulator.url, `${path}?thirdTraceId=${randomUUID()}`, body, {
        authorization: `Bearer ${token}`,
        'x-fs-ea': ea,
        'x-fs-userid': userId,
      }),
  };
}

export function startTestEmulator(
  clock: TestClock,
  options: Partial<FxiaokeEmulatorOptions> = {},
): Promise<FxiaokeEmulator> {
  return startFxiaokeEmulator({
    port: 0,
    identity: IDENTITY,
    clock: clock.now,
    rateLimit: false,
    tokenRateLimit: false,
    ...options,
  });
}

/** `data` of a successful answer, as an object. */
export function dataOf(answer: Envelope): Record<string, unknown> {
  assert.equal(answer.errorCode, 0, `expected success, got ${JSON.stringify(answer)}`);
  const data = answer.data;
  assert.ok(typeof data === 'object' && data !== null && !Array.isArray(data), 'data object expected');
  return Object.fromEntries(Object.entries(data));
}

/** `data.dataList` of a successful query answer. */
export function rowsOf(answer: Envelope): Record<string, unknown>[] {
  const list = dataOf(answer).dataList;
  assert.ok(Array.isArray(list), 'dataList expected');
  return list.map((row: unknown) => {
    assert.ok(typeof row === 'object' && row !== null);
    return Object.fromEntries(Object.entries(row));
  });
}

export function query(
  apiName: string,
  info: Record<string, unknown>,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    data: { dataObjectApiName: apiName, search_query_info: { limit: 100, offset: 0, ...info }, ...extra },
  };
}

/** Detail rows of a record returned by `emulator.getRecord` (its `details` map). */
export function detailRows(
  record: Record<string, unknown> | undefined,
  apiName: string,
): Record<string, unknown>[] {
  assert.ok(record, 'record expected');
  const details = record.details;
  assert.ok(typeof details === 'object' && details !== null, 'details expected');
  const rows: unknown = Reflect.get(details, apiName);
  assert.ok(Array.isArray(rows), `${apiName} rows expected`);
  return rows.map((row: unknown) => {
    assert.ok(typeof row === 'object' && row !== null);
    return Object.fromEntries(Object.entries(row));
  });
}

/** Ids of one detail object from a create answer with `includeDetailIds`. */
export function detailIdsOf(answer: Envelope, apiName: string): string[] {
  const ids: unknown =
    typeof answer.detailIds === 'object' && answer.detailIds !== null
      ? Reflect.get(answer.detailIds, apiName)
      : undefined;
  assert.ok(Array.isArray(ids), `detailIds.${apiName} expected in ${JSON.stringify(answer)}`);
  return ids.map(String);
}
