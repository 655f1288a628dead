/**
 * Test support for the K3Cloud emulator suites: raw HTTP exactly as the spec shows it (undici `request`,
 * or a bare socket when the header bytes matter), a small logged-in session helper, and the byte-shape
 * comparison used against the captured fixtures. Nothing here goes through `lib/k3cloud`.
 */
import { connect } from 'node:net';
import { request } from 'undici';
import type { K3CloudEmulator, K3CloudEmulatorOptions } from '../../../infra/local/k3cloud-emulator/api.ts';
import { startK3CloudEmulator } from '../../../infra/local/k3cloud-emulator/server.ts';

/** The sandbox identity of `lib/k3cloud/config.ts` (the spec's worked-example identity). */
export const SANDBOX = {
  acctId: '5f1a2b3c4d5e6f',
  username: 'demo',
  appId: '123456_AAECAwQFBgcICQoLDA0ODxAREhMUFRYX',
  appSecret: '0123456789abcdef0123456789abcdef',
  password: 'sandbox-password-not-secret',
} as const;

export function startEmulator(options: K3CloudEmulatorOptions = {}): Promise<K3CloudEmulator> {
  return startK3CloudEmulator({ port: 0, identity: { ...SANDBOX }, ...options });
}

export const service = (name: string) => `Kingdee.BOS.WebApi.ServicesStub.${name}.common.kdsvc`;

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json(): unknown;
}

/** POST `body` (a string is sent as is) to `<emulator url><path>`. */
export async function post(
  baseUrl: string,
  path: string,
  body: string | object,
  headers: Record<string, string> = {},
): Promise<RawResponse> {
  const response = await request(new URL(path, baseUrl), {
    method: 'POST',
    body: typeof body === 'string' ? body : JSON.stringify(body),
    headers: { 'content-type': 'application/json', ...headers },
  });
  const text = await response.body.text();
  return { status: response.statusCode, headers: response.headers, text, json: () => JSON.parse(text) };
}

/** Set-Cookie values of a response as a list. */
export function setCookies(response: RawResponse): string[] {
  const value = response.headers['set-cookie'];
  return value === undefined ? [] : Array.isArray(value) ? value : [value];
}

/** Send raw HTTP/1.1 bytes and return the raw response (head and body) as text. */
export function rawHttp(port: number, raw: string | Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    socket.on('error', reject);
    socket.write(raw);
  });
}

/** A password-login session against the emulator, sending the session as the `kdservice-sessionid` header. */
export class Session {
  readonly baseUrl: string;
  sessionId = '';

  constructor(baseUrl: string) {
    this.baseUrl = baseUrl;
  }

  static async open(baseUrl: string): Promise<Session> {
    const session = new Session(baseUrl);
    const response = await post(baseUrl, service('AuthService.ValidateUser'), {
      acctID: SANDBOX.acctId,
      username: SANDBOX.username,
      password: SANDBOX.password,
      lcid: 2052,
    });
    const result = response.json() as { KDSVCSessionId: string | null };
    if (!result.KDSVCSessionId) throw new Error(`login failed: ${response.text}`);
    session.sessionId = result.KDSVCSessionId;
    return session;
  }

  async call(method: string, body: object | string): Promise<RawResponse> {
    return post(this.baseUrl, service(`DynamicFormService.${method}`), body, {
      'kdservice-sessionid': this.sessionId,
    });
  }

  /** Named-form call `{formid, data}` returning the parsed JSON. */
  async op(method: string, formid: string, data: object): Promise<K3Result> {
    return (await this.call(method, { formid, data })).json() as K3Result;
  }

  save(formid: string, model: object, extra: object = {}): Promise<K3Result> {
    return this.op('Save', formid, { ...extra, Model: model });
  }

  async query(data: object): Promise<unknown[][]> {
    return (await this.call('ExecuteBillQuery', { data })).json() as unknown[][];
  }

  async view(formid: string, data: object): Promise<Record<string, unknown>> {
    const result = (await this.call('View', { formid, data })).json() as {
      Result: { Result: Record<string, unknown> };
    };
    return result.Result.Result;
  }
}

export interface K3Status {
  ErrorCode?: number;
  IsSuccess: boolean;
  Errors: { FieldName: string | null; Message: string; DIndex: number }[];
  SuccessEntitys: { Id: number; Number: string; DIndex: number }[];
  SuccessMessages: { FieldName: string | null; Message: string; DIndex: number }[];
  MsgCode: number;
}

export interface K3Result {
  Result: {
    ResponseStatus: K3Status;
    ConvertResponseStatus?: K3Status;
    Id?: number;
    Number?: string;
    NeedReturnData?: unknown[];
  };
}

/** The first error message of an envelope (or ''). */
export function firstError(result: K3Result): string {
  return result.Result.ResponseStatus.Errors[0]?.Message ?? '';
}

/** A valid sales order Model (the spec §5 minimal example), with overrides. */
export function saleOrderModel(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    FID: 0,
    FBillTypeID: { FNUMBER: 'XSDD01_SYS' },
    FDate: '2024-01-15',
    FSaleOrgId: { FNumber: '100' },
    FCustId: { FNumber: 'CUST0001' },
    FSalerId: { FNumber: 'SALER001' },
    FSaleOrderFinance: { FSettleCurrId: { FNumber: 'PRE001' } },
    FSaleOrderEntry: [
      {
        FMaterialId: { FNumber: 'WL0001' },
        FUnitID: { FNumber: 'Pcs' },
        FPriceUnitId: { FNumber: 'Pcs' },
        FQty: 10,
        FTaxPrice: 113,
        FEntryTaxRate: 13,
        FDeliveryDate: '2024-01-20',
        FSettleOrgIds: { FNumber: '100' },
      },
    ],
    ...overrides,
  };
}

// ── byte-shape comparison ───────────────────────────────────────────────────────────────────────────────

function kind(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

/**
 * Differences between the shape of `actual` and of `expected` (a captured response): same keys in the
 * same order, same JSON value types; values themselves are not compared. Array elements of `actual` are
 * compared with the first element of `expected`; an empty expected array requires an empty actual array
 * and vice versa. Returns an empty list when the shapes agree.
 */
export function shapeDifferences(actual: unknown, expected: unknown, path = '$'): string[] {
  const a = kind(actual);
  const e = kind(expected);
  if (a !== e) return [`${path}: expected ${e}, got ${a}`];
  if (a === 'array') {
    const actualItems = actual as unknown[];
    const expectedItems = expected as unknown[];
    if (expectedItems.length === 0 || actualItems.length === 0) {
      return expectedItems.length === actualItems.length
        ? []
        : [`${path}: expected ${expectedItems.length === 0 ? 'an empty' : 'a non-empty'} array`];
    }
    return actualItems.flatMap((item, index) =>
      shapeDifferences(item, expectedItems[0], `${path}[${index}]`),
    );
  }
  if (a === 'object') {
    const actualObject = actual as Record<string, unknown>;
    const expectedObject = expected as Record<string, unknown>;
    const actualKeys = Object.keys(actualObject);
    const expectedKeys = Object.keys(expectedObject);
    if (actualKeys.join(',') !== expectedKeys.join(',')) {
      return [`${path}: keys [${actualKeys.join(',')}] differ from [${expectedKeys.join(',')}]`];
    }
    return expectedKeys.flatMap((key) =>
      shapeDifferences(actualObject[key], expectedObject[key], `${path}.${key}`),
    );
  }
  return [];
}
