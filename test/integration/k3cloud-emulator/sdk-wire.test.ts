/**
 * The official SDKs' exact wire shapes (spec §10), rebuilt byte for byte: the emulator must serve both
 * unchanged. Signatures are computed here independently of the emulator's code.
 */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { K3CloudEmulator } from '../../../infra/local/k3cloud-emulator/api.ts';
import {
  type K3Result,
  post,
  type RawResponse,
  SANDBOX,
  service,
  setCookies,
  startEmulator,
} from './support.ts';

const kdHmac = (message: string, key: string) =>
  Buffer.from(createHmac('sha256', key).update(message).digest('hex')).toString('base64');

const APP_DATA = `${SANDBOX.acctId},${SANDBOX.username},2052,0`;

/** X-Api-* as both SDKs compute them (the client secret is the spec §2.6 decoded value). */
function gatewayHeaders(path: string, timestamp: string, java: boolean): Record<string, string> {
  const clientSecret = 'MDE3N2I2PzBrPzg4OD45N3IhK3B1InIk';
  const signed = `POST\n${encodeURIComponent(path)}\n\nx-api-nonce:${timestamp}\nx-api-timestamp:${timestamp}\n`;
  return {
    'X-Api-ClientID': '123456',
    'X-Api-Auth-Version': '2.0',
    'x-api-timestamp': timestamp,
    'x-api-nonce': timestamp,
    'x-api-signheaders': java ? 'X-Api-TimeStamp,X-Api-Nonce' : 'x-api-timestamp,x-api-nonce',
    'X-Api-Signature': kdHmac(signed, clientSecret),
    'X-Kd-Appkey': SANDBOX.appId,
    'X-Kd-Appdata': Buffer.from(APP_DATA).toString('base64'),
    'X-Kd-Signature': kdHmac(SANDBOX.appId + APP_DATA, SANDBOX.appSecret),
  };
}

/** Gson's default HTML escaping of the outer JSON (`=` → `\u003d`, `'` → `\u0027`, `<`, `>`, `&`). */
function gson(value: unknown): string {
  return JSON.stringify(value).replace(
    /[=<>&']/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** Python's `json.dumps` defaults: `", "` / `": "` separators and `\uXXXX` for every non-ASCII character. */
function pythonDumps(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'string') {
    return JSON.stringify(value).replace(
      /[\u0080-\uffff]/g,
      (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
    );
  }
  if (typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(pythonDumps).join(', ')}]`;
  return `{${Object.entries(value)
    .map(([k, v]) => `${pythonDumps(k)}: ${pythonDumps(v)}`)
    .join(', ')}}`;
}

class JavaSdk {
  cookies: string[] = [];
  sid = '';
  constructor(readonly base: string) {}

  async call(method: string, parameters: unknown[]): Promise<RawResponse> {
    const name = service(`DynamicFormService.${method}`);
    const headers: Record<string, string> = {
      ...gatewayHeaders(`/k3cloud/${name}`, String(1_795_434_297_944), true),
      'Content-type': 'applicatin/json',
      'User-Agent': 'Kingdee/Java WebApi SDK (compatible; MSIE 6.0; Windows NT 5.1;SV1)',
    };
    if (this.sid) {
      headers.Cookie = `Theme=standard; ${this.cookies.join('; ')}`;
      headers.SID = this.sid;
    }
    const response = await post(this.base, name, gson({ parameters }), headers);
    const set = setCookies(response);
    if (set.length > 0) {
      this.cookies = set.map((c) => c.split(';')[0] ?? '');
      this.sid = this.cookies.find((c) => c.startsWith('kdservice-sessionid='))?.split('=')[1] ?? '';
    }
    return response;
  }
}

class PythonSdk {
  cookieHeader = '';
  sid = '';
  constructor(readonly base: string) {}

  async call(method: string, body: Record<string, unknown>): Promise<RawResponse> {
    const name = service(`DynamicFormService.${method}`);
    const headers: Record<string, string> = {
      'User-Agent': 'Kingdee/Python WebApi SDK 7.3 (compatible; MSIE 6.0; Windows NT 5.1;SV1)',
      ...gatewayHeaders(`/k3cloud/${name}`, '1795434298', false),
      'Accept-Charset': 'utf-8',
      'Content-Type': 'application/json',
    };
    if (this.sid) {
      headers['kdservice-sessionid'] = this.sid;
      headers.Cookie = `Theme=standard;${this.cookieHeader}`;
    }
    const response = await post(this.base, name, pythonDumps(body), headers);
    const set = setCookies(response);
    if (set.length > 0) {
      // requests joins Set-Cookie values with ", " and the SDK splits on "," (why `expires` must not appear).
      const parts = set
        .join(', ')
        .split(',')
        .map((p) => p.trim().split(';')[0] ?? '');
      this.cookieHeader = parts.join('; ');
      this.sid = parts.find((p) => p.startsWith('kdservice-sessionid='))?.split('=')[1] ?? '';
    }
    return response;
  }
}

describe('k3cloud emulator: official SDK wire shapes (spec §10)', () => {
  let emulator: K3CloudEmulator;
  before(async () => {
    // Verifying X-Api-* too proves both SDKs' gateway signatures (ms and s timestamps) are computed right.
    emulator = await startEmulator({ verifyGatewaySignature: true });
  });
  after(() => emulator.close());

  it('Java SDK v8.2.0: Gson-escaped positional bodies, data as a JSON string, Cookie + SID replay', async () => {
    const sdk = new JavaSdk(emulator.url);
    emulator.resetStats();
    const query = (filter: string) =>
      sdk.call('ExecuteBillQuery', [
        JSON.stringify({
          FormId: 'BD_Customer',
          FieldKeys: 'FCUSTID,FNumber,FName',
          FilterString: filter,
          OrderString: '',
          TopRowCount: 0,
          StartRow: 0,
          Limit: 2000,
          SubSystemId: '',
        }),
      ]);
    const first = await query("FNumber = 'JSDK001'");
    assert.deepEqual(first.json(), []);
    assert.ok(sdk.sid, 'the first answer sets the session cookies the SDK captures');

    const model = {
      FCUSTID: 0,
      FNumber: 'JSDK001',
      FName: 'Java SDK 客户 <&>',
      FCreateOrgId: { FNumber: '100' },
    };
    const saved = (
      await sdk.call('Save', [
        'BD_Customer',
        JSON.stringify({ Model: model, Creator: 0, NeedReturnFields: [], NeedUpDateFields: [] }),
      ])
    ).json() as K3Result;
    assert.equal(saved.Result.ResponseStatus.IsSuccess, true, JSON.stringify(saved));
    const audit = (
      await sdk.call('Submit', ['BD_Customer', JSON.stringify({ Numbers: ['JSDK001'] })])
    ).json() as K3Result;
    assert.equal(audit.Result.ResponseStatus.IsSuccess, true);
    const view = (await sdk.call('View', ['BD_Customer', JSON.stringify({ Number: 'JSDK001' })])).json() as {
      Result: {
        ResponseStatus: null;
        Result: { Name: { Key: number; Value: string }[]; DocumentStatus: string };
      };
    };
    assert.equal(view.Result.ResponseStatus, null);
    assert.deepEqual(view.Result.Result.Name, [{ Key: 2052, Value: 'Java SDK 客户 <&>' }]);
    assert.equal(view.Result.Result.DocumentStatus, 'B');

    const rows = (await query("FNumber = 'JSDK001'")).json() as unknown[][];
    assert.deepEqual(rows, [[saved.Result.Id, 'JSDK001', 'Java SDK 客户 <&>']]);
    assert.equal(emulator.stats().signatureSessions, 1, 'the replayed cookie keeps one session');
  });

  it('Python SDK: named bodies with \\uXXXX escapes, kdservice-sessionid header, Cookie without a space', async () => {
    const sdk = new PythonSdk(emulator.url);
    emulator.resetStats();
    const saved = (
      await sdk.call('Save', {
        formid: 'BD_Customer',
        data: {
          Model: {
            FCUSTID: 0,
            FNumber: 'PSDK001',
            FName: 'Python SDK 客户',
            FCreateOrgId: { FNumber: '100' },
          },
        },
      })
    ).json() as K3Result;
    assert.equal(saved.Result.ResponseStatus.IsSuccess, true, JSON.stringify(saved));
    assert.ok(sdk.sid);
    const rows = (
      await sdk.call('ExecuteBillQuery', {
        data: {
          FormId: 'BD_Customer',
          FieldKeys: 'FCUSTID,FNumber,FName',
          FilterString: "FNumber = 'PSDK001'",
          OrderString: '',
          TopRowCount: 0,
          StartRow: 0,
          Limit: 2000,
          SubSystemId: '',
        },
      })
    ).json();
    assert.deepEqual(rows, [[saved.Result.Id, 'PSDK001', 'Python SDK 客户']]);
    const forbid = (
      await sdk.call('ExcuteOperation', {
        formid: 'BD_Customer',
        opNumber: 'Forbid',
        data: { Numbers: ['PSDK001'] },
      })
    ).json() as K3Result;
    assert.equal(forbid.Result.ResponseStatus.IsSuccess, true);
    assert.equal(emulator.stats().signatureSessions, 1);
  });
});
