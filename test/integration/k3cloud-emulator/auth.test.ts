import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { K3CloudEmulator } from '../../../infra/local/k3cloud-emulator/api.ts';
import {
  type K3Result,
  post,
  rawHttp,
  SANDBOX,
  Session,
  service,
  setCookies,
  startEmulator,
} from './support.ts';

const VALIDATE_USER = service('AuthService.ValidateUser');
const QUERY = service('DynamicFormService.ExecuteBillQuery');
const HEALTH_PROBE = { FormId: 'BD_Currency', FieldKeys: 'FCODE', FilterString: " FNUMBER='PRE001' " };

/** The §2.4 worked example identity (appId `123456_xyz`). */
const SIGN_VECTOR = {
  acctId: '5f1a2b3c4d5e6f',
  username: 'demo',
  appId: '123456_xyz',
  appSecret: '0123456789abcdef0123456789abcdef',
  timestamp: 1700000000,
  sign: '9b0ee6129ad5817efe37972bf65b106dd65cb509dbdbaff27a38e2d4c1990df6',
};

/** The §2.6 worked example headers for the sandbox identity. */
const SIGNATURE_HEADERS = {
  'X-Kd-Appkey': SANDBOX.appId,
  'X-Kd-Appdata': 'NWYxYTJiM2M0ZDVlNmYsZGVtbywyMDUyLDA=',
  'X-Kd-Signature':
    'YTMyYjdhZDVhMWYyZDUyNGNmN2ZlMDkzNzJhNzQ0MzY3N2UyZjE3Yjg5ZDQ3ZTUxMjliZjc5NjY0OWJjNzk4NQ==',
};

interface LoginResult {
  LoginResultType: number;
  KDSVCSessionId: string | null;
  Context: { SessionId: string } | null;
  Message: string | null;
  IsSuccessByAPI: boolean;
}

const isSessionLost = (body: unknown) =>
  JSON.stringify(body).includes('会话信息已丢失，请重新登录') && JSON.stringify(body).includes('"MsgCode":1');

describe('k3cloud emulator: authentication', () => {
  let emulator: K3CloudEmulator;
  let now = 1_700_000_000_000;
  const IDLE_MS = 60_000;

  before(async () => {
    emulator = await startEmulator({ clock: () => now, sessionIdleTimeoutMs: IDLE_MS, controlEnabled: true });
  });
  after(() => emulator.close());

  describe('ValidateUser', () => {
    it('accepts the named JSON form and sets both cookies exactly as the real server', async () => {
      const response = await post(emulator.url, VALIDATE_USER, {
        acctID: SANDBOX.acctId,
        username: SANDBOX.username,
        password: SANDBOX.password,
        lcid: 2052,
      });
      assert.equal(response.status, 200);
      assert.equal(response.headers['content-type'], 'application/json; charset=utf-8');
      const result = response.json() as LoginResult;
      assert.equal(result.LoginResultType, 1);
      assert.equal(result.IsSuccessByAPI, true);
      assert.match(result.KDSVCSessionId ?? '', /^[0-9a-f-]{36}$/);
      assert.match(result.Context?.SessionId ?? '', /^[a-z0-5]{24}$/);
      assert.deepEqual(setCookies(response), [
        `ASP.NET_SessionId=${result.Context?.SessionId}; path=/; HttpOnly`,
        `kdservice-sessionid=${result.KDSVCSessionId}; path=/`,
      ]);
    });

    it('writes the header name `Set-Cookie` in exactly that case, without expires (Java/Python SDKs)', async () => {
      const body = JSON.stringify({
        acctID: SANDBOX.acctId,
        username: SANDBOX.username,
        password: SANDBOX.password,
        lcid: 2052,
      });
      const raw = await rawHttp(
        emulator.port,
        `POST /k3cloud/${VALIDATE_USER} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n` +
          `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      );
      const head = raw.split('\r\n\r\n')[0] ?? '';
      const cookieLines = head.split('\r\n').filter((line) => line.toLowerCase().startsWith('set-cookie:'));
      assert.equal(cookieLines.length, 2);
      for (const line of cookieLines) {
        assert.ok(line.startsWith('Set-Cookie: '), line);
        assert.doesNotMatch(line, /expires/i);
      }
      assert.match(head, /\r\nContent-Type: application\/json; charset=utf-8\r\n/);
    });

    it('accepts the positional form, form-urlencoded named fields and the legacy parameters= field', async () => {
      const bodies: [string, string][] = [
        [
          JSON.stringify({ parameters: [SANDBOX.acctId, SANDBOX.username, SANDBOX.password, 2052] }),
          'application/json',
        ],
        [
          new URLSearchParams({
            acctid: SANDBOX.acctId,
            username: SANDBOX.username,
            password: SANDBOX.password,
            lcid: '2052',
          }).toString(),
          'application/x-www-form-urlencoded',
        ],
        [
          new URLSearchParams({
            format: '1',
            useragent: 'ApiClient',
            rid: '123',
            parameters: JSON.stringify([SANDBOX.acctId, SANDBOX.username, SANDBOX.password, 2052]),
            timestamp: '2024-01-01',
            v: '1.0',
          }).toString(),
          'application/x-www-form-urlencoded; charset=utf-8',
        ],
      ];
      for (const [body, contentType] of bodies) {
        const result = (
          await post(emulator.url, VALIDATE_USER, body, { 'content-type': contentType })
        ).json();
        assert.equal((result as LoginResult).LoginResultType, 1, body);
      }
    });

    it('refuses a wrong password (type 0) and an unknown data center (type -1) without a session', async () => {
      const wrong = await post(emulator.url, VALIDATE_USER, {
        acctID: SANDBOX.acctId,
        username: SANDBOX.username,
        password: 'wrong-password',
        lcid: 2052,
      });
      const result = wrong.json() as LoginResult;
      assert.equal(result.LoginResultType, 0);
      assert.equal(result.KDSVCSessionId, null);
      assert.equal(result.Context, null);
      assert.equal(result.IsSuccessByAPI, false);
      assert.ok(result.Message && result.Message.length > 0);
      assert.deepEqual(setCookies(wrong), []);
      const otherAcct = (
        await post(emulator.url, VALIDATE_USER, {
          acctID: 'ffffffffffffff',
          username: SANDBOX.username,
          password: SANDBOX.password,
          lcid: 2052,
        })
      ).json() as LoginResult;
      assert.equal(otherAcct.LoginResultType, -1);
      assert.equal(otherAcct.KDSVCSessionId, null);
    });
  });

  describe('LoginByAppSecret', () => {
    it('accepts positional and lower-case named forms, refuses a wrong secret', async () => {
      const path = service('AuthService.LoginByAppSecret');
      const positional = (
        await post(emulator.url, path, {
          parameters: [SANDBOX.acctId, SANDBOX.username, SANDBOX.appId, SANDBOX.appSecret, 2052],
        })
      ).json() as LoginResult;
      assert.equal(positional.LoginResultType, 1);
      const named = (
        await post(emulator.url, path, {
          acctid: SANDBOX.acctId,
          username: SANDBOX.username,
          appid: SANDBOX.appId,
          appsecret: SANDBOX.appSecret,
          lcid: 2052,
        })
      ).json() as LoginResult;
      assert.equal(named.LoginResultType, 1);
      const wrong = (
        await post(emulator.url, path, {
          parameters: [SANDBOX.acctId, SANDBOX.username, SANDBOX.appId, 'f'.repeat(32), 2052],
        })
      ).json() as LoginResult;
      assert.equal(wrong.LoginResultType, -1);
      assert.equal(wrong.KDSVCSessionId, null);
    });
  });

  describe('LoginBySign', () => {
    const signBody = (sign: string) => ({
      parameters: [
        SIGN_VECTOR.acctId,
        SIGN_VECTOR.username,
        SIGN_VECTOR.appId,
        SIGN_VECTOR.timestamp,
        sign,
        2052,
      ],
    });

    it('accepts the spec §2.4 worked vector (SHA-256) and refuses a wrong sign', async () => {
      const server = await startEmulator({ identity: { ...SANDBOX, appId: SIGN_VECTOR.appId } });
      try {
        const path = service('AuthService.LoginBySign');
        const ok = (await post(server.url, path, signBody(SIGN_VECTOR.sign))).json() as LoginResult;
        assert.equal(ok.LoginResultType, 1);
        assert.ok(ok.KDSVCSessionId);
        const bad = (await post(server.url, path, signBody('0'.repeat(64)))).json() as LoginResult;
        assert.equal(bad.LoginResultType, -1);
        assert.equal(bad.KDSVCSessionId, null);
        assert.equal(server.stats().logins, 1);
      } finally {
        await server.close();
      }
    });

    it('accepts SHA-1 only when emulating an old server (loginSignAlgorithms)', async () => {
      const sorted = [
        SIGN_VECTOR.acctId,
        SIGN_VECTOR.username,
        SIGN_VECTOR.appId,
        SIGN_VECTOR.appSecret,
        String(SIGN_VECTOR.timestamp),
      ].sort();
      const sha1 = createHash('sha1').update(sorted.join('')).digest('hex');
      const identity = { ...SANDBOX, appId: SIGN_VECTOR.appId };
      const path = service('AuthService.LoginBySign');
      const modern = await startEmulator({ identity });
      const old = await startEmulator({ identity, loginSignAlgorithms: ['sha1'] });
      try {
        assert.equal(
          ((await post(modern.url, path, signBody(sha1))).json() as LoginResult).LoginResultType,
          -1,
        );
        assert.equal(((await post(old.url, path, signBody(sha1))).json() as LoginResult).LoginResultType, 1);
        assert.equal(
          ((await post(old.url, path, signBody(SIGN_VECTOR.sign))).json() as LoginResult).LoginResultType,
          -1,
          'an old server knows SHA-1 only',
        );
      } finally {
        await Promise.all([modern.close(), old.close()]);
      }
    });
  });

  describe('per-request signature headers (X-Kd-*)', () => {
    it('accepts the spec §2.6 vector without a login, issues a session once and reuses it', async () => {
      emulator.resetStats();
      const first = await post(emulator.url, QUERY, { data: HEALTH_PROBE }, SIGNATURE_HEADERS);
      assert.deepEqual(first.json(), [['CNY']]);
      const cookies = setCookies(first);
      assert.equal(cookies.length, 2);
      assert.equal(emulator.stats().signatureSessions, 1);
      const cookieHeader = `Theme=standard; ${cookies.map((c) => c.split(';')[0]).join('; ')}`;
      const second = await post(
        emulator.url,
        QUERY,
        { data: HEALTH_PROBE },
        { ...SIGNATURE_HEADERS, Cookie: cookieHeader },
      );
      assert.deepEqual(second.json(), [['CNY']]);
      assert.deepEqual(setCookies(second), []);
      assert.equal(emulator.stats().signatureSessions, 1, 'a known session is reused');
    });

    it('refuses a wrong signature, a wrong app key and appData for another user', async () => {
      const variants: Record<string, string>[] = [
        { ...SIGNATURE_HEADERS, 'X-Kd-Signature': Buffer.from('0'.repeat(64)).toString('base64') },
        { ...SIGNATURE_HEADERS, 'X-Kd-Appkey': '123456_other' },
        {
          ...SIGNATURE_HEADERS,
          'X-Kd-Appdata': Buffer.from('5f1a2b3c4d5e6f,admin,2052,0').toString('base64'),
        },
      ];
      for (const headers of variants) {
        const response = await post(emulator.url, QUERY, { data: HEALTH_PROBE }, headers);
        assert.ok(isSessionLost(response.json()), response.text);
        assert.ok(response.text.startsWith('[['), 'ExecuteBillQuery wraps the error');
      }
    });

    it('ignores X-Api-* gateway headers by default and verifies them when asked (§2.6 vector)', async () => {
      const path = `/k3cloud/${QUERY}`;
      const gateway = {
        'X-Api-ClientID': '123456',
        'X-Api-Auth-Version': '2.0',
        'x-api-timestamp': '1700000000',
        'x-api-nonce': '1700000000',
        'x-api-signheaders': 'x-api-timestamp,x-api-nonce',
        'X-Api-Signature':
          'N2M1YmZlZTUyZjc5YTRjMzU0MjkxMWVjODQ0YWEwZjQ0NzQyNWZjZjcwNGFhNzg0MzMxOGI5ZmI4YjNlMzUxOA==',
      };
      const wrongGateway = { ...gateway, 'X-Api-Signature': 'd3Jvbmc=' };
      assert.deepEqual(
        (
          await post(emulator.url, path, { data: HEALTH_PROBE }, { ...SIGNATURE_HEADERS, ...wrongGateway })
        ).json(),
        [['CNY']],
      );
      const strict = await startEmulator({ verifyGatewaySignature: true });
      try {
        assert.deepEqual(
          (await post(strict.url, path, { data: HEALTH_PROBE }, { ...SIGNATURE_HEADERS, ...gateway })).json(),
          [['CNY']],
        );
        const refused = await post(
          strict.url,
          path,
          { data: HEALTH_PROBE },
          { ...SIGNATURE_HEADERS, ...wrongGateway },
        );
        assert.ok(isSessionLost(refused.json()));
      } finally {
        await strict.close();
      }
    });
  });

  describe('session carriers and expiry', () => {
    it('accepts the session from Cookie kdservice-sessionid, header kdservice-sessionid, header SID and Cookie ASP.NET_SessionId', async () => {
      const login = await post(emulator.url, VALIDATE_USER, {
        acctID: SANDBOX.acctId,
        username: SANDBOX.username,
        password: SANDBOX.password,
        lcid: 2052,
      });
      const result = login.json() as LoginResult;
      const kd = result.KDSVCSessionId ?? '';
      const asp = result.Context?.SessionId ?? '';
      const carriers: Record<string, string>[] = [
        { Cookie: `Theme=standard; kdservice-sessionid=${kd}` },
        { 'kdservice-sessionid': kd },
        { SID: kd },
        { Cookie: `Theme=standard;ASP.NET_SessionId=${asp}` },
      ];
      for (const headers of carriers) {
        assert.deepEqual((await post(emulator.url, QUERY, { data: HEALTH_PROBE }, headers)).json(), [
          ['CNY'],
        ]);
      }
      assert.ok(isSessionLost((await post(emulator.url, QUERY, { data: HEALTH_PROBE })).json()));
    });

    it('expires idle sessions by the injected clock: MsgCode 1, wrapped for ExecuteBillQuery, View answers {}', async () => {
      const session = await Session.open(emulator.url);
      assert.deepEqual(await session.query(HEALTH_PROBE), [['CNY']]);
      now += IDLE_MS - 1;
      assert.deepEqual(await session.query(HEALTH_PROBE), [['CNY']], 'use keeps the session alive');
      now += IDLE_MS + 1;
      const lost = (await session.call('ExecuteBillQuery', { data: HEALTH_PROBE })).json() as [[K3Result]];
      assert.equal(lost[0][0].Result.ResponseStatus.MsgCode, 1);
      assert.equal(lost[0][0].Result.ResponseStatus.Errors[0]?.Message, '会话信息已丢失，请重新登录');
      const save = (await session.save('BD_Customer', {
        FName: 'x',
        FCreateOrgId: { FNumber: '100' },
      })) as K3Result;
      assert.equal(save.Result.ResponseStatus.MsgCode, 1);
      assert.equal(save.Result.ResponseStatus.ErrorCode, 500);
      const view = await session.call('View', { formid: 'BD_Customer', data: { Number: 'CUST0001' } });
      assert.deepEqual(view.json(), {}, 'View without a session answers an empty object (spec §2.7)');
    });

    it('View without a session can answer the MsgCode 1 envelope instead (viewWithoutSession)', async () => {
      const server = await startEmulator({ viewWithoutSession: 'session-lost' });
      try {
        const response = await post(server.url, service('DynamicFormService.View'), {
          formid: 'BD_Customer',
          data: { Number: 'CUST0001' },
        });
        assert.ok(isSessionLost(response.json()));
      } finally {
        await server.close();
      }
    });

    it('expires every session through the control endpoint; signature mode then gets a fresh session', async () => {
      const session = await Session.open(emulator.url);
      const expired = await post(emulator.url, '/__emulator/expire-sessions', {});
      assert.ok((expired.json() as { expired: number }).expired >= 1);
      assert.ok(isSessionLost(await session.query(HEALTH_PROBE)));
      emulator.resetStats();
      const signed = await post(
        emulator.url,
        QUERY,
        { data: HEALTH_PROBE },
        {
          ...SIGNATURE_HEADERS,
          'kdservice-sessionid': session.sessionId,
        },
      );
      assert.deepEqual(signed.json(), [['CNY']]);
      assert.equal(emulator.stats().signatureSessions, 1);
    });

    it('can refuse a stale session id even with valid signature headers (staleSessionWithSignature)', async () => {
      const server = await startEmulator({ staleSessionWithSignature: 'session-lost' });
      try {
        const first = await post(server.url, QUERY, { data: HEALTH_PROBE }, SIGNATURE_HEADERS);
        const sid = setCookies(first)[1]?.split(';')[0]?.split('=')[1] ?? '';
        server.expireAllSessions();
        const stale = await post(
          server.url,
          QUERY,
          { data: HEALTH_PROBE },
          { ...SIGNATURE_HEADERS, SID: sid },
        );
        assert.ok(isSessionLost(stale.json()));
        assert.deepEqual((await post(server.url, QUERY, { data: HEALTH_PROBE }, SIGNATURE_HEADERS)).json(), [
          ['CNY'],
        ]);
      } finally {
        await server.close();
      }
    });
  });

  describe('paths, keys and discovery', () => {
    it('matches the path, service, method and body keys case-insensitively (/K3Cloud/ too)', async () => {
      const session = await Session.open(emulator.url);
      const path =
        '/K3Cloud/kingdee.bos.webapi.servicesstub.DYNAMICFORMSERVICE.executebillquery.COMMON.KDSVC';
      const response = await post(
        emulator.url,
        path,
        { DATA: { formid: 'bd_currency', fieldkeys: 'fcode', filterstring: "fnumber='PRE001'" } },
        {
          'kdservice-sessionid': session.sessionId,
        },
      );
      assert.deepEqual(response.json(), [['CNY']]);
      const numbers = await session.call('Audit', { FORMID: 'BD_Customer', Data: { numbers: ['CUST0001'] } });
      assert.match(numbers.text, /单据已经审核|已经审核/);
    });

    it('serves GetDataCenterList without a session', async () => {
      const response = await post(
        emulator.url,
        'Kingdee.BOS.ServiceFacade.ServicesStub.Account.AccountService.GetDataCenterList.common.kdsvc',
        {},
      );
      const list = response.json() as { Id: string; AuthenticationMethods: unknown[] }[];
      assert.equal(list[0]?.Id, SANDBOX.acctId);
      assert.ok((list[0]?.AuthenticationMethods.length ?? 0) > 0);
    });
  });
});
