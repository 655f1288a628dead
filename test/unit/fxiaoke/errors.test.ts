import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ErrorKind } from '../../../lib/errors.ts';
import { FxiaokeClient } from '../../../lib/fxiaoke/client.ts';
import {
  FxiaokeError,
  fxiaokeErrorFromEnvelope,
  fxiaokeErrorFromHttp,
  fxiaokeErrorFromTransport,
  msUntilNextChinaMidnight,
} from '../../../lib/fxiaoke/errors.ts';
import {
  FAKE_PERMANENT_CODE,
  FAKE_SECRET,
  fail,
  isTokenPath,
  ok,
  type ScriptedAnswer,
  scriptedFxiaoke,
  settingsFor,
  tokenAnswer,
  tokenString,
  withToken,
} from './scripted-fxiaoke.ts';

// 2026-11-23 10:00:00 China time = 02:00:00 UTC
const NOW = Date.UTC(2026, 10, 23, 2, 0, 0);
const context = (operation: 'read' | 'write' | 'token' = 'read') => ({
  path: '/cgi/crm/v2/data/get',
  operation,
  nowMs: NOW,
  throttleRetryAfterMs: 20_000,
});

const kindOf = (errorCode: number, operation: 'read' | 'write' | 'token' = 'read'): ErrorKind =>
  fxiaokeErrorFromEnvelope({ errorCode, errorMessage: 'x' }, context(operation)).kind;

describe('Fxiaoke error classification', () => {
  describe('by errorCode', () => {
    it('token expired / invalid → session-expired', () => {
      for (const code of [20016, 11014, 20005]) assert.equal(kindOf(code), 'session-expired', String(code));
    });

    it('14001 and 30004 → throttled, retryAfterMs = the 20 s window', () => {
      for (const code of [14001, 30004]) {
        const error = fxiaokeErrorFromEnvelope(
          { errorCode: code, errorMessage: '接口调用超过限制' },
          context(),
        );
        assert.equal(error.kind, 'throttled');
        assert.equal(error.retryAfterMs, 20_000);
        assert.equal(error.retryable, true);
      }
    });

    it('30002 → quota-exhausted with retryAfterMs until the next midnight China time', () => {
      const error = fxiaokeErrorFromEnvelope(
        { errorCode: 30002, errorMessage: '当天访问频次超限' },
        context(),
      );
      assert.equal(error.kind, 'quota-exhausted');
      assert.equal(error.retryAfterMs, 14 * 3_600_000, '10:00 China time → 14 h to midnight');
    });

    it('30003 → config, telling the operator to buy an Open API 资源包', () => {
      const error = fxiaokeErrorFromEnvelope(
        { errorCode: 30003, errorMessage: '客户没有购买openapi配额，需要提open api订单进行购买' },
        context(),
      );
      assert.equal(error.kind, 'config');
      assert.equal(error.retryable, false);
      assert.match(error.message, /Open API 资源包/);
      assert.match(error.message, /buy/);
    });

    it('permission and configuration codes → config', () => {
      for (const code of [
        20006, 20010, 20012, 20014, 20015, 20017, 20020, 20021, 20022, 20023, 20029, 15003, 11013,
      ]) {
        assert.equal(kindOf(code), 'config', String(code));
      }
    });

    it('-1, -2, 50009 → transient on reads; -2 and 50009 are outcome-unknown on writes, -1 stays transient', () => {
      for (const code of [-1, -2, 50009]) assert.equal(kindOf(code), 'transient', String(code));
      assert.equal(kindOf(-1, 'write'), 'transient');
      assert.equal(kindOf(-2, 'write'), 'outcome-unknown');
      assert.equal(kindOf(50009, 'write'), 'outcome-unknown');
    });

    it('everything else (parameter errors, object validation, unknown codes) → business', () => {
      for (const code of [10013, 10006, 15002, 32000, 201112016, 1, 99999]) {
        assert.equal(kindOf(code), 'business', String(code));
      }
    });

    it('keeps errorMessage verbatim in remoteMessages and the message, with errorCode, path and traceId', () => {
      const error = fxiaokeErrorFromEnvelope(
        {
          errorCode: 201112016,
          errorMessage: '客户名称 不能为空',
          errorDescription: '必填字段校验失败',
          traceId: 'E-O.1',
        },
        context('write'),
      );
      assert.equal(error.kind, 'business');
      assert.equal(error.code, 'FXIAOKE_201112016');
      assert.equal(error.errorMessage, '客户名称 不能为空');
      assert.deepEqual(error.remoteMessages, ['客户名称 不能为空', '必填字段校验失败']);
      assert.match(error.message, /客户名称 不能为空/);
      assert.match(error.message, /errorCode 201112016/);
      assert.match(error.message, /\/cgi\/crm\/v2\/data\/get/);
      assert.match(error.message, /E-O\.1/);
      assert.deepEqual(error.toJSON().traceId, 'E-O.1');
    });

    it('never branches on errorMessage: the same text with different codes classifies differently', () => {
      const text = 'corpAccessToken不存在或者已经过期';
      assert.equal(
        fxiaokeErrorFromEnvelope({ errorCode: 20016, errorMessage: text }, context()).kind,
        'session-expired',
      );
      assert.equal(
        fxiaokeErrorFromEnvelope({ errorCode: 32000, errorMessage: text }, context()).kind,
        'business',
      );
    });

    it('msUntilNextChinaMidnight counts to 00:00 GMT+8', () => {
      assert.equal(msUntilNextChinaMidnight(Date.UTC(2026, 0, 1, 15, 59, 59)), 1_000);
      assert.equal(msUntilNextChinaMidnight(Date.UTC(2026, 0, 1, 16, 0, 0)), 86_400_000);
    });
  });

  describe('transport and HTTP failures', () => {
    const systemError = (code: string): Error => Object.assign(new Error(`failure ${code}`), { code });

    it('connection refused is transient even for a write (nothing was sent)', () => {
      const error = fxiaokeErrorFromTransport('/p', 'write', systemError('ECONNREFUSED'), 1000);
      assert.equal(error.kind, 'transient');
      assert.equal(error.code, 'FXIAOKE_UNREACHABLE');
    });

    it('timeouts and resets: transient for reads, outcome-unknown for writes with a look-up-first message', () => {
      for (const code of [
        'UND_ERR_HEADERS_TIMEOUT',
        'UND_ERR_BODY_TIMEOUT',
        'ECONNRESET',
        'UND_ERR_SOCKET',
      ]) {
        assert.equal(
          fxiaokeErrorFromTransport('/p', 'read', systemError(code), 1000).kind,
          'transient',
          code,
        );
        const write = fxiaokeErrorFromTransport('/p', 'write', systemError(code), 1000);
        assert.equal(write.kind, 'outcome-unknown', code);
        assert.equal(write.code, 'FXIAOKE_OUTCOME_UNKNOWN');
        assert.match(write.message, /look the record up/);
        assert.equal(write.retryable, false);
      }
    });

    it('finds the code on a wrapped cause', () => {
      const wrapped = new Error('fetch failed', { cause: systemError('UND_ERR_CONNECT_TIMEOUT') });
      assert.equal(fxiaokeErrorFromTransport('/p', 'write', wrapped, 1000).kind, 'transient');
    });

    it('non-envelope answers: 5xx/non-JSON transient (outcome-unknown for writes), 404 config, 429 throttled', () => {
      assert.equal(fxiaokeErrorFromHttp('/p', 'read', 502, false).kind, 'transient');
      assert.equal(fxiaokeErrorFromHttp('/p', 'read', 502, false).code, 'FXIAOKE_HTTP_502');
      assert.equal(fxiaokeErrorFromHttp('/p', 'write', 503, false).kind, 'outcome-unknown');
      assert.equal(fxiaokeErrorFromHttp('/p', 'read', 200, false).code, 'FXIAOKE_BAD_RESPONSE');
      assert.equal(fxiaokeErrorFromHttp('/p', 'write', 200, true).kind, 'outcome-unknown');
      assert.equal(fxiaokeErrorFromHttp('/p', 'write', 404, false).kind, 'config');
      assert.match(fxiaokeErrorFromHttp('/p', 'read', 404, false).message, /FXIAOKE_BASE_URL/);
      assert.equal(fxiaokeErrorFromHttp('/p', 'read', 429, false).kind, 'throttled');
    });
  });

  describe('through the client', () => {
    async function callWith(
      answer: ScriptedAnswer,
      operation: 'get' | 'create' = 'get',
    ): Promise<FxiaokeError> {
      const fx = scriptedFxiaoke(withToken('legacy', () => answer));
      const client = new FxiaokeClient(settingsFor('legacy'), {
        dispatcher: fx.agent,
        readRetries: 0,
        clock: () => NOW,
      });
      try {
        const call =
          operation === 'get' ? client.get('AccountObj', 'a') : client.create('AccountObj', { name: 'n' });
        const error = await call.then(
          () => assert.fail('expected a failure'),
          (e: unknown) => e,
        );
        assert.ok(error instanceof FxiaokeError, String(error));
        return error;
      } finally {
        await client.close();
        await fx.close();
      }
    }

    it('checks errorCode even when HTTP says 200, and ignores HTTP status when an envelope is present', async () => {
      assert.equal((await callWith(fail(30004))).kind, 'throttled');
      assert.equal(
        (await callWith({ status: 500, json: { errorCode: 20006, errorMessage: 'x' } })).kind,
        'config',
      );
    });

    it('an HTML error page is transient for a read and outcome-unknown for a create', async () => {
      const page: ScriptedAnswer = { status: 502, text: '<html>Bad Gateway</html>' };
      assert.equal((await callWith(page)).kind, 'transient');
      assert.equal((await callWith(page, 'create')).kind, 'outcome-unknown');
    });

    it('a success envelope without the expected payload is reported, not crashed on', async () => {
      assert.equal((await callWith(ok({ data: { name: 'no id' } }))).code, 'FXIAOKE_UNEXPECTED_RESPONSE');
      const lost = await callWith(ok({}), 'create');
      assert.equal(lost.kind, 'outcome-unknown', 'a create that answered 0 without dataId may exist');
    });

    it('a get answered with errorCode 0 and no data is not-found', async () => {
      const error = await callWith(ok({ data: null }));
      assert.equal(error.kind, 'not-found');
      assert.equal(error.code, 'FXIAOKE_NOT_FOUND');
    });

    it('configured not-found codes on get become not-found, keeping the remote message', async () => {
      const fx = scriptedFxiaoke(withToken('legacy', () => fail(320001404, '数据不存在')));
      const client = new FxiaokeClient(settingsFor('legacy'), {
        dispatcher: fx.agent,
        notFoundErrorCodes: [320001404],
      });
      try {
        await assert.rejects(client.get('AccountObj', 'gone'), (error: unknown) => {
          assert.ok(error instanceof FxiaokeError);
          assert.equal(error.kind, 'not-found');
          assert.equal(error.errorCode, 320001404);
          assert.deepEqual(error.remoteMessages, ['数据不存在']);
          return true;
        });
      } finally {
        await client.close();
        await fx.close();
      }
    });

    it('token errors classify too (wrong appSecret → config) and do not loop', async () => {
      const fx = scriptedFxiaoke((r) => (isTokenPath(r.path) ? fail(20006, 'appId或appSecret错误') : ok()));
      const client = new FxiaokeClient(settingsFor('legacy'), { dispatcher: fx.agent });
      try {
        await assert.rejects(client.get('AccountObj', 'a'), { kind: 'config', code: 'FXIAOKE_20006' });
        assert.equal(fx.seen.length, 1);
      } finally {
        await client.close();
        await fx.close();
      }
    });

    it('transient read failures are retried (bounded), writes are not', async () => {
      let answers = 0;
      const sleeps: number[] = [];
      const fx = scriptedFxiaoke((r) => {
        if (isTokenPath(r.path)) return tokenAnswer('legacy');
        answers++;
        return answers <= 2 ? fail(-1, '系统繁忙') : ok({ data: { _id: 'a' } });
      });
      const client = new FxiaokeClient(settingsFor('legacy'), {
        dispatcher: fx.agent,
        sleep: async (ms) => {
          sleeps.push(ms);
        },
      });
      try {
        const record = await client.get('AccountObj', 'a');
        assert.equal(record._id, 'a');
        assert.deepEqual(sleeps, [250, 1000]);
        answers = 0;
        await assert.rejects(client.update('AccountObj', 'a', { name: 'x' }), { kind: 'transient' });
        assert.equal(answers, 1, 'the write was sent once');
      } finally {
        await client.close();
        await fx.close();
      }
    });

    it('secrets never appear in error messages or their JSON', async () => {
      const fx = scriptedFxiaoke((r) =>
        isTokenPath(r.path) ? tokenAnswer('legacy') : fail(20016, 'corpAccessToken不存在或者已经过期'),
      );
      const client = new FxiaokeClient(settingsFor('legacy'), { dispatcher: fx.agent });
      try {
        const error = await client.get('AccountObj', 'a').then(
          () => assert.fail('expected a failure'),
          (e: unknown) => e,
        );
        assert.ok(error instanceof FxiaokeError);
        assert.equal(error.kind, 'session-expired');
        const text = `${error.message} ${JSON.stringify(error)}`;
        for (const secret of [FAKE_SECRET, FAKE_PERMANENT_CODE, tokenString(1)]) {
          assert.equal(text.includes(secret), false, 'no secret in the error');
        }
      } finally {
        await client.close();
        await fx.close();
      }
    });
  });
});
