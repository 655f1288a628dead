import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import type { FxiaokeEmulator } from '../../../infra/local/fxiaoke-emulator/api.ts';
import {
  type LegacySession,
  legacySession,
  post,
  postRaw,
  query,
  startTestEmulator,
  testClock,
} from './helpers.ts';

const QUERY = '/cgi/crm/v2/data/query';

describe('fxiaoke emulator: bad input never crashes it', () => {
  let emulator: FxiaokeEmulator;
  let session: LegacySession;

  before(async () => {
    emulator = await startTestEmulator(testClock(), { maxBodyBytes: 64 * 1024 });
    session = await legacySession(emulator);
  });
  after(() => emulator.close());

  const stillServes = async () => {
    const answer = await session.call(QUERY, query('AccountObj', { limit: 1 }));
    assert.equal(answer.errorCode, 0, 'the server still answers normal calls');
  };

  it('unknown path → 10006 with Fxiaoke’s text', async () => {
    const answer = await post(emulator.url, '/cgi/crm/v3/data/query', {});
    assert.equal(answer.errorCode, 10006);
    assert.equal(
      answer.errorMessage,
      'the request uri=[/cgi/crm/v3/data/query], apiName=[null] is not exists',
    );
    assert.match(String(answer.traceId), /^E-O\./);
  });

  it('control paths are unknown API paths unless the control endpoint is enabled', async () => {
    const answer = await post(emulator.url, '/__emulator/reset', {});
    assert.equal(answer.errorCode, 10006);
    const response = await fetch(`${emulator.url}/__emulator/stats`);
    assert.equal(response.status, 200);
    const body: unknown = await response.json();
    assert.ok(typeof body === 'object' && body !== null && 'errorCode' in body);
    assert.equal(body.errorCode, 10006);
  });

  it('empty body → 12004, malformed JSON / non-object → 32000', async () => {
    assert.equal((await postRaw(emulator.url, QUERY, '')).errorCode, 12004);
    assert.equal((await postRaw(emulator.url, '/cgi/corpAccessToken/get/V2', '   ')).errorCode, 12004);
    for (const body of ['{', 'null', '[]', '"text"', '42', '{"data":', '\u0000\u0001']) {
      const answer = await postRaw(emulator.url, QUERY, body);
      assert.equal(answer.errorCode, 32000, body);
      assert.equal(answer.errorMessage, '参数错误');
    }
    await stillServes();
  });

  it('wrongly typed parameters → 32000 (missing) / 15002 (invalid), never a crash', async () => {
    const bodies: [unknown, number][] = [
      [{ data: 'x' }, 15002],
      [{ data: { dataObjectApiName: 42, search_query_info: {} } }, 15002],
      [{ data: { dataObjectApiName: 'AccountObj', search_query_info: { filters: 'x' } } }, 15002],
      [{ data: { dataObjectApiName: 'AccountObj', search_query_info: { filters: [{}] } } }, 32000],
      [
        { data: { dataObjectApiName: 'AccountObj', search_query_info: { orders: [{ fieldName: 1 }] } } },
        15002,
      ],
      [{ data: { dataObjectApiName: 'AccountObj', search_query_info: { limit: -5 } } }, 15002],
      [{ data: { dataObjectApiName: 'AccountObj', search_query_info: { limit: 1.5 } } }, 15002],
      [{ data: { dataObjectApiName: '__proto__', search_query_info: {} } }, 15002],
    ];
    for (const [data, code] of bodies) {
      const answer = await session.call(QUERY, typeof data === 'object' && data !== null ? { ...data } : {});
      assert.equal(answer.errorCode, code, JSON.stringify(data));
    }
    const writes: Record<string, unknown>[] = [
      { data: { object_data: 'x' } },
      { data: { object_data: { dataObjectApiName: 'AccountObj', name: { nested: true } } } },
      { data: { object_data: { dataObjectApiName: 'AccountObj', name: 'x', owner: [{}] } } },
      { data: { object_data: { dataObjectApiName: 'AccountObj', name: 'x', owner: ['nobody'] } } },
      { data: { object_data: { dataObjectApiName: 'AccountObj', name: 'x'.repeat(300) } } },
      { data: { object_data: { dataObjectApiName: 'AccountObj', name: 'x', email: 'not-an-email' } } },
      {
        data: { object_data: { dataObjectApiName: 'SalesOrderObj' }, details: { SalesOrderProductObj: 'x' } },
      },
      { data: { object_data: { dataObjectApiName: 'SalesOrderObj', order_time: 'yesterday' } } },
    ];
    for (const body of writes) {
      const answer = await session.call('/cgi/crm/v2/data/create', body);
      assert.notEqual(answer.errorCode, 0, JSON.stringify(body));
      assert.ok(answer.errorCode !== -2, `no internal error for ${JSON.stringify(body)}`);
    }
    await stillServes();
  });

  it('a body above maxBodyBytes gets 32000', async () => {
    const huge = JSON.stringify({ data: { padding: 'x'.repeat(100 * 1024) } });
    const answer = await postRaw(emulator.url, QUERY, huge);
    assert.equal(answer.errorCode, 32000);
    assert.match(String(answer.errorDescription), /exceeds/);
    await stillServes();
  });

  it('non-POST methods get the envelope, not a crash', async () => {
    const response = await fetch(`${emulator.url}${QUERY}`);
    assert.equal(response.status, 200);
    const body: unknown = await response.json();
    assert.ok(typeof body === 'object' && body !== null && 'errorCode' in body);
    assert.equal(body.errorCode, 32000);
  });

  it('a client that disconnects mid-body and garbage on the socket do not stop the server', async () => {
    const url = new URL(emulator.url);
    await new Promise<void>((resolve) => {
      const req = request({
        host: url.hostname,
        port: url.port,
        path: QUERY,
        method: 'POST',
        headers: { 'content-length': '1000' },
      });
      req.on('error', () => resolve());
      req.write('{"data":');
      setImmediate(() => {
        req.destroy();
        resolve();
      });
    });
    const { connect } = await import('node:net');
    await new Promise<void>((resolve) => {
      const socket = connect(Number(url.port), url.hostname, () => socket.end('GARBAGE \u0000\r\n\r\n'));
      socket.on('close', () => resolve());
      socket.on('error', () => resolve());
      socket.resume();
    });
    await stillServes();
  });

  it('fuzzed bodies on every path never produce an internal error', async () => {
    const paths = [
      '/cgi/crm/v2/data/query',
      '/cgi/crm/v2/data/get',
      '/cgi/crm/v2/data/create',
      '/cgi/crm/v2/data/update',
      '/cgi/crm/v2/data/invalid',
      '/cgi/crm/v2/data/recover',
      '/cgi/crm/v2/data/delete',
      '/cgi/crm/v2/data/changeOwner',
      '/cgi/crm/custom/v2/data/query',
      '/cgi/crm/v2/object/describe',
      '/cgi/crm/v2/object/list',
      '/cgi/user/getByMobile',
    ];
    const values: unknown[] = [
      null,
      0,
      -1,
      1e300,
      '',
      'x',
      true,
      [],
      {},
      [null],
      { a: 1 },
      '\u0000',
      'AccountObj',
    ];
    let seed = 7;
    const pick = <T>(items: readonly T[]): T => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      const item = items[seed % items.length];
      assert.ok(item !== undefined);
      return item;
    };
    for (let i = 0; i < 300; i += 1) {
      const path = pick(paths);
      const data: Record<string, unknown> = {};
      for (const key of [
        'dataObjectApiName',
        'objectDataId',
        'search_query_info',
        'object_data',
        'details',
        'idList',
        'object_data_id',
        'data',
        'Data',
        'apiName',
        'mobile',
      ]) {
        if (pick([true, false])) data[key] = pick(values);
      }
      const answer = await session.call(path, pick([{ data }, data, { data: pick(values) }]));
      assert.notEqual(answer.errorCode, -2, `internal error on ${path} with ${JSON.stringify(data)}`);
    }
    await stillServes();
  });
});
