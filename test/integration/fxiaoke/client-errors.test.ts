import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { FxiaokeEmulator } from '../../../infra/local/fxiaoke-emulator/api.ts';
import { FxiaokeClient } from '../../../lib/fxiaoke/client.ts';
import { FxiaokeError } from '../../../lib/fxiaoke/errors.ts';
import { clientFor, IDENTITY, type ManualClock, manualClock, startEmulator } from './emulator-harness.ts';

const GET = '/cgi/crm/v2/data/get';
const CREATE = '/cgi/crm/v2/data/create';

async function failure(promise: Promise<unknown>): Promise<FxiaokeError> {
  const error = await promise.then(
    () => assert.fail('expected the call to fail'),
    (e: unknown) => e,
  );
  assert.ok(error instanceof FxiaokeError, `expected FxiaokeError, got ${String(error)}`);
  return error;
}

describe('Fxiaoke client error classes against the emulator', () => {
  let clock: ManualClock;
  let emulator: FxiaokeEmulator;
  let client: FxiaokeClient;
  let accountId = '';

  before(async () => {
    clock = manualClock();
    emulator = await startEmulator(clock);
    client = clientFor(emulator, 'legacy', clock, { readRetries: 0 });
    accountId = (await client.create('AccountObj', { name: '错误测试客户' })).dataId;
  });
  after(async () => {
    emulator.setFaults({});
    await client.close();
    await emulator.close();
  });

  it('-1 系统繁忙 → transient', async () => {
    emulator.setFaults({ systemBusy: { paths: [GET], times: 1 } });
    const error = await failure(client.get('AccountObj', accountId));
    assert.equal(error.kind, 'transient');
    assert.equal(error.errorCode, -1);
    assert.equal(error.retryable, true);
  });

  it('a transient read is retried by default and succeeds', async () => {
    const retrying = clientFor(emulator, 'legacy', clock);
    try {
      emulator.setFaults({ systemBusy: { paths: [GET], times: 2 } });
      assert.equal((await retrying.get('AccountObj', accountId))._id, accountId);
    } finally {
      emulator.setFaults({});
      await retrying.close();
    }
  });

  it('50009 → transient on a read, outcome-unknown on a write', async () => {
    emulator.setFaults({ serviceError: { paths: [GET], times: 1 } });
    assert.equal((await failure(client.get('AccountObj', accountId))).kind, 'transient');
    emulator.setFaults({ serviceError: { paths: [CREATE], times: 1 } });
    const write = await failure(client.create('AccountObj', { name: '50009' }));
    assert.equal(write.kind, 'outcome-unknown');
    assert.equal(write.errorCode, 50009);
  });

  it('14001 / 30004 → throttled with retryAfterMs of the window', async () => {
    emulator.setFaults({ perSecondThrottle: { paths: [GET], times: 1 } });
    const error = await failure(client.get('AccountObj', accountId));
    assert.equal(error.kind, 'throttled');
    assert.equal(error.errorCode, 30004);
    assert.equal(error.retryAfterMs, 20_000);
  });

  it('30002 → quota-exhausted until the next midnight China time (from the shared clock)', async () => {
    emulator.setFaults({ dailyQuotaExceeded: { paths: [GET], times: 1 } });
    const error = await failure(client.get('AccountObj', accountId));
    assert.equal(error.kind, 'quota-exhausted');
    const chinaNow = new Date(clock.now() + 8 * 3_600_000);
    const msIntoDay =
      ((chinaNow.getUTCHours() * 60 + chinaNow.getUTCMinutes()) * 60 + chinaNow.getUTCSeconds()) * 1000 +
      chinaNow.getUTCMilliseconds();
    assert.equal(error.retryAfterMs, 86_400_000 - msIntoDay);
  });

  it('30003 → config, naming the Open API 资源包 to buy', async () => {
    emulator.setFaults({ noQuotaPurchased: true });
    try {
      const error = await failure(client.get('AccountObj', accountId));
      assert.equal(error.kind, 'config');
      assert.equal(error.errorCode, 30003);
      assert.match(error.message, /Open API 资源包/);
    } finally {
      emulator.setFaults({});
    }
  });

  it('wrong credentials → config (20006 / 20015), no retry loop', async () => {
    emulator.resetStats();
    const wrongSecret = clientFor(emulator, 'legacy', clock, {}, { appSecret: 'not-the-secret-at-all' });
    const wrongCode = clientFor(
      emulator,
      'oauth2',
      clock,
      {},
      { permanentCode: '0000WRONG0000CODE000000000000000' },
    );
    try {
      const secretError = await failure(wrongSecret.get('AccountObj', accountId));
      assert.equal(secretError.kind, 'config');
      const codeError = await failure(wrongCode.get('AccountObj', accountId));
      assert.equal(codeError.kind, 'config');
      assert.equal(emulator.stats().tokenCalls, 2, 'one token call each');
    } finally {
      await wrongSecret.close();
      await wrongCode.close();
    }
  });

  it('a create whose response is lost after commit → outcome-unknown, and the record does exist', async () => {
    const before = (await emulator.listRecords('AccountObj')).length;
    emulator.setFaults({ dropResponseAfterCommit: { paths: [CREATE], times: 1 } });
    const error = await failure(client.create('AccountObj', { name: '丢失响应的客户' }));
    emulator.setFaults({});
    assert.equal(error.kind, 'outcome-unknown');
    assert.equal(error.retryable, false);
    assert.match(error.message, /look the record up/);
    const after = await emulator.listRecords('AccountObj');
    assert.equal(after.length, before + 1, 'the create was committed: re-sending would duplicate it');
    const found = await client.query('AccountObj', {
      filters: [{ field: 'name', operator: 'EQ', values: ['丢失响应的客户'] }],
    });
    assert.equal(found.records.length, 1, 'looking it up finds it');
  });

  it('a read whose response is lost → transient', async () => {
    emulator.setFaults({ dropResponseAfterCommit: { paths: [GET], times: 1 } });
    const error = await failure(client.get('AccountObj', accountId));
    emulator.setFaults({});
    assert.equal(error.kind, 'transient');
  });
});

/**
 * Transport-level cases the emulator cannot produce (HTML error pages, hangs, resets, a closed port): a raw
 * loopback server that answers the token call properly and the data call with the scripted misbehaviour.
 */
describe('Fxiaoke client transport failures (raw loopback server)', () => {
  type Misbehaviour = 'html-502' | 'not-json-200' | 'reset' | 'hang' | 'json-without-code';
  let mode: Misbehaviour = 'html-502';
  let server: Server;
  let baseUrl = '';
  const hanging: ServerResponse[] = [];

  function handle(request: IncomingMessage, response: ServerResponse): void {
    request.resume();
    request.on('end', () => {
      if ((request.url ?? '').startsWith('/cgi/corpAccessToken/get/V2')) {
        response.setHeader('content-type', 'application/json');
        response.end(
          JSON.stringify({
            errorCode: 0,
            corpAccessToken: 'RAWSERVERTOKEN00000000000000001',
            corpId: 'FSCID_RAW',
            expiresIn: 7200,
          }),
        );
        return;
      }
      switch (mode) {
        case 'html-502':
          response
            .writeHead(502, { 'content-type': 'text/html' })
            .end('<html><body>502 Bad Gateway</body></html>');
          return;
        case 'not-json-200':
          response.writeHead(200, { 'content-type': 'text/plain' }).end('OK');
          return;
        case 'json-without-code':
          response.writeHead(200, { 'content-type': 'application/json' }).end('{"message":"upstream error"}');
          return;
        case 'reset':
          request.socket.destroy();
          return;
        case 'hang':
          hanging.push(response);
          return;
      }
    });
  }

  before(async () => {
    server = createServer(handle);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    for (const response of hanging) response.destroy();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  const rawClient = (timeoutMs = 5_000) =>
    new FxiaokeClient(
      {
        baseUrl,
        authFlow: 'legacy',
        appId: IDENTITY.appId,
        appSecret: IDENTITY.appSecret,
        permanentCode: IDENTITY.permanentCode,
        openUserId: IDENTITY.openUserId,
        rateLimit: { calls: 100, windowMs: 20_000 },
        timeoutMs,
      },
      { readRetries: 0 },
    );

  const cases: { mode: Misbehaviour; read: string; write: string; timeoutMs?: number }[] = [
    { mode: 'html-502', read: 'transient', write: 'outcome-unknown' },
    { mode: 'not-json-200', read: 'transient', write: 'outcome-unknown' },
    { mode: 'json-without-code', read: 'transient', write: 'outcome-unknown' },
    { mode: 'reset', read: 'transient', write: 'outcome-unknown' },
    { mode: 'hang', read: 'transient', write: 'outcome-unknown', timeoutMs: 300 },
  ];
  for (const c of cases) {
    it(`${c.mode}: ${c.read} for a read, ${c.write} for a create`, async () => {
      mode = c.mode;
      const client = rawClient(c.timeoutMs);
      try {
        const read = await failure(client.get('AccountObj', 'x'));
        assert.equal(read.kind, c.read);
        const write = await failure(client.create('AccountObj', { name: 'x' }));
        assert.equal(write.kind, c.write);
        if (c.mode === 'hang') assert.equal(read.code, 'FXIAOKE_TIMEOUT');
        if (c.mode === 'html-502') assert.equal(read.httpStatus, 502);
      } finally {
        await client.close();
      }
    });
  }

  it('a closed port: transient even for a create (nothing was sent)', async () => {
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const client = new FxiaokeClient(
      {
        baseUrl: `http://127.0.0.1:${port}`,
        authFlow: 'legacy',
        appId: IDENTITY.appId,
        appSecret: IDENTITY.appSecret,
        permanentCode: IDENTITY.permanentCode,
        openUserId: IDENTITY.openUserId,
        rateLimit: { calls: 100, windowMs: 20_000 },
        timeoutMs: 2_000,
      },
      { readRetries: 0 },
    );
    try {
      const error = await failure(client.create('AccountObj', { name: 'x' }));
      assert.equal(error.kind, 'transient');
      assert.equal(error.code, 'FXIAOKE_UNREACHABLE');
    } finally {
      await client.close();
    }
  });
});
