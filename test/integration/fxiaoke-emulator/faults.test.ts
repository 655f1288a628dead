import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { FxiaokeEmulator } from '../../../infra/local/fxiaoke-emulator/api.ts';
import {
  type LegacySession,
  legacySession,
  query,
  rowsOf,
  startTestEmulator,
  type TestClock,
  testClock,
} from './helpers.ts';

const QUERY = '/cgi/crm/v2/data/query';
const GET = '/cgi/crm/v2/data/get';
const CREATE = '/cgi/crm/v2/data/create';
const accountsQuery = query('AccountObj', { limit: 1 });

describe('fxiaoke emulator: per-interface rate limit', () => {
  let clock: TestClock;
  let emulator: FxiaokeEmulator;
  let session: LegacySession;

  before(async () => {
    clock = testClock();
    emulator = await startTestEmulator(clock, { rateLimit: { calls: 100, windowMs: 20_000 } });
    session = await legacySession(emulator);
  });
  after(() => emulator.close());

  it('answers call 101 within 20 s with 14001, per path, and serves again once the window has passed', async () => {
    for (let i = 1; i <= 100; i += 1) {
      const answer = await session.call(QUERY, accountsQuery);
      assert.equal(answer.errorCode, 0, `call ${i}`);
      if (i % 10 === 0) clock.advance(1_000); // spread over 10 s: still inside one window
    }
    const refused = await session.call(QUERY, accountsQuery);
    assert.equal(refused.errorCode, 14001);
    assert.equal(refused.errorMessage, '接口调用超过限制');
    assert.equal(emulator.stats().rateLimited, 1);

    const [account] = await emulator.listRecords('AccountObj');
    const other = await session.call(GET, {
      data: { dataObjectApiName: 'AccountObj', objectDataId: account?._id },
    });
    assert.equal(other.errorCode, 0, 'another interface has its own budget');

    // The first ten calls were made at t0; 20 s later exactly those ten leave the window.
    clock.advance(10_000);
    for (let i = 0; i < 10; i += 1) assert.equal((await session.call(QUERY, accountsQuery)).errorCode, 0);
    assert.equal(
      (await session.call(QUERY, accountsQuery)).errorCode,
      14001,
      'still exact: 100 per sliding 20 s',
    );
    clock.advance(20_000);
    assert.equal((await session.call(QUERY, accountsQuery)).errorCode, 0);
  });
});

describe('fxiaoke emulator: quotas and injected faults', () => {
  let clock: TestClock;
  let emulator: FxiaokeEmulator;
  let session: LegacySession;

  before(async () => {
    clock = testClock();
    emulator = await startTestEmulator(clock, { dailyQuota: 5 });
    session = await legacySession(emulator);
  });
  after(() => emulator.close());

  it('daily quota: 30002 after the budget, again available after 00:00 GMT+8', async () => {
    for (let i = 0; i < 5; i += 1) assert.equal((await session.call(QUERY, accountsQuery)).errorCode, 0);
    const refused = await session.call(QUERY, accountsQuery);
    assert.equal(refused.errorCode, 30002);
    assert.equal(refused.errorMessage, '当天访问频次超限（0点重新统计）');
    // START is 10:00 GMT+8; 14 h later it is the next day in China.
    clock.advance(14 * 3_600_000);
    const fresh = await legacySession(emulator); // the old token has expired meanwhile
    session = fresh;
    assert.equal((await session.call(QUERY, accountsQuery)).errorCode, 0);
  });

  it('noQuotaPurchased: 30003 on every data call; token calls still work', async () => {
    emulator.setFaults({ noQuotaPurchased: true });
    try {
      const answer = await session.call(QUERY, accountsQuery);
      assert.equal(answer.errorCode, 30003);
      assert.equal(answer.errorMessage, '客户没有购买openapi配额，需要提open api订单进行购买');
      assert.equal((await session.call('/cgi/crm/v2/object/list', {})).errorCode, 30003);
      await legacySession(emulator);
    } finally {
      emulator.setFaults({});
    }
    assert.equal(emulator.stats().faultsFired?.noQuotaPurchased, 2);
  });

  it('perSecondThrottle (30004), systemBusy (-1), serviceError (50009), dailyQuotaExceeded (30002) fire `times` times', async () => {
    const cases: [keyof Parameters<FxiaokeEmulator['setFaults']>[0], number][] = [
      ['perSecondThrottle', 30004],
      ['systemBusy', -1],
      ['serviceError', 50009],
      ['dailyQuotaExceeded', 30002],
    ];
    const unlimited = await startTestEmulator(testClock());
    try {
      const s = await legacySession(unlimited);
      for (const [name, code] of cases) {
        unlimited.setFaults({ [name]: { times: 2 } });
        assert.equal((await s.call(QUERY, accountsQuery)).errorCode, code, `${name} #1`);
        assert.equal((await s.call(QUERY, accountsQuery)).errorCode, code, `${name} #2`);
        assert.equal((await s.call(QUERY, accountsQuery)).errorCode, 0, `${name} is used up`);
      }
      assert.deepEqual(unlimited.stats().faultsFired, {
        perSecondThrottle: 2,
        systemBusy: 2,
        serviceError: 2,
        dailyQuotaExceeded: 2,
      });
    } finally {
      await unlimited.close();
    }
  });

  it('a fault limited to some paths leaves the others alone; probability 0 never fires', async () => {
    const other = await startTestEmulator(testClock());
    try {
      const s = await legacySession(other);
      other.setFaults({ systemBusy: { paths: ['/cgi/crm/v2/object/list'] } });
      assert.equal((await s.call('/cgi/crm/v2/object/list', {})).errorCode, -1);
      assert.equal((await s.call(QUERY, accountsQuery)).errorCode, 0);
      other.setFaults({ serviceError: { probability: 0 } });
      for (let i = 0; i < 5; i += 1) assert.equal((await s.call(QUERY, accountsQuery)).errorCode, 0);
      other.setFaults({});
    } finally {
      await other.close();
    }
  });

  it('dropResponseAfterCommit: the write is committed but the caller gets no answer', async () => {
    const other = await startTestEmulator(testClock());
    try {
      const s = await legacySession(other);
      other.setFaults({ dropResponseAfterCommit: { paths: [CREATE], times: 1 } });
      const before = other.stats().records.AccountObj ?? 0;
      await assert.rejects(
        s.call(CREATE, {
          data: { object_data: { dataObjectApiName: 'AccountObj', name: '丢失应答的客户' } },
        }),
        (error: unknown) => error instanceof TypeError, // fetch failed: the socket was closed without an answer
      );
      assert.equal(other.stats().records.AccountObj, before + 1, 'the record exists although no answer came');
      const found = rowsOf(
        await s.call(
          QUERY,
          query('AccountObj', {
            filters: [{ field_name: 'name', operator: 'EQ', field_values: ['丢失应答的客户'] }],
          }),
        ),
      );
      assert.equal(found.length, 1, 'a client can find it by looking it up');
      assert.equal(other.stats().faultsFired?.dropResponseAfterCommit, 1);
    } finally {
      await other.close();
    }
  });

  it('latency faults delay answers without changing them', async () => {
    const other = await startTestEmulator(testClock(), { latencyMs: 5 });
    try {
      const s = await legacySession(other);
      other.setFaults({ latencyMs: 5 });
      assert.equal((await s.call(QUERY, accountsQuery)).errorCode, 0);
    } finally {
      await other.close();
    }
  });
});
