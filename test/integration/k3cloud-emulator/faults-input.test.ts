import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import type { K3CloudEmulator } from '../../../infra/local/k3cloud-emulator/api.ts';
import { type K3Result, post, rawHttp, Session, saleOrderModel, service, startEmulator } from './support.ts';

const PROBE = { FormId: 'BD_Currency', FieldKeys: 'FCODE', FilterString: "FNUMBER='PRE001'" };

describe('k3cloud emulator: faults, control endpoint and bad input', () => {
  let emulator: K3CloudEmulator;
  let session: Session;
  before(async () => {
    emulator = await startEmulator({ controlEnabled: true, maxBodyBytes: 4096 });
    session = await Session.open(emulator.url);
  });
  after(() => emulator.close());

  const setFaults = async (spec: object) => {
    const response = await post(emulator.url, '/__emulator/faults', spec);
    assert.equal(response.status, 200, response.text);
  };
  const stillServes = async () => assert.deepEqual(await session.query(PROBE), [['CNY']]);

  describe('faults via the control endpoint', () => {
    it('http500: an IIS-like HTML page, nothing executed, only for the matching operation and times', async () => {
      await setFaults({ http500: { operations: ['ExecuteBillQuery'], times: 1 } });
      const failed = await session.call('ExecuteBillQuery', { data: PROBE });
      assert.equal(failed.status, 500);
      assert.match(String(failed.headers['content-type']), /text\/html/);
      assert.match(failed.text, /^<!DOCTYPE html>/);
      await stillServes();
      assert.equal(emulator.stats().faultsFired.http500, 1);
    });

    it('connectionReset: the socket is destroyed without an answer', async () => {
      await setFaults({ connectionReset: { times: 1 } });
      await assert.rejects(session.call('ExecuteBillQuery', { data: PROBE }));
      await stillServes();
    });

    it('msgCode14 and msgCode13: K3 envelopes (wrapped for queries), filtered by form', async () => {
      await setFaults({ msgCode14: { operations: ['executebillquery'], times: 1 } });
      const limited = (await session.call('ExecuteBillQuery', { data: PROBE })).json() as [[K3Result]];
      assert.equal(limited[0][0].Result.ResponseStatus.MsgCode, 14);
      await setFaults({ msgCode13: { formIds: ['SAL_SaleOrder'] } });
      const locked = await session.save('SAL_SaleOrder', saleOrderModel());
      assert.equal(locked.Result.ResponseStatus.MsgCode, 13);
      assert.match(locked.Result.ResponseStatus.Errors[0]?.Message ?? '', /冲突，请稍候再使用。$/);
      const other = await session.save('BD_Customer', {
        FName: 'not locked',
        FCreateOrgId: { FNumber: '100' },
      });
      assert.equal(other.Result.ResponseStatus.IsSuccess, true);
      await setFaults({});
    });

    it('responseError: a `response_error:` body with a KDException JSON', async () => {
      await setFaults({ responseError: { operations: ['Save'], times: 1 } });
      const response = await session.call('Save', {
        formid: 'SAL_SaleOrder',
        data: { Model: saleOrderModel() },
      });
      assert.equal(response.status, 200);
      assert.ok(response.text.startsWith('response_error:'));
      const exception = JSON.parse(response.text.slice('response_error:'.length)) as { Message: string };
      assert.ok(exception.Message.length > 0);
    });

    it('dropResponseAfterCommit: the write commits, the answer is lost', async () => {
      await setFaults({
        dropResponseAfterCommit: { operations: ['Save'], formIds: ['BD_Customer'], times: 1 },
      });
      await assert.rejects(
        session.save('BD_Customer', {
          FName: '丢失应答的客户',
          FCreateOrgId: { FNumber: '100' },
          F_FXK_CrmId: 'lost-1',
        }),
      );
      const rows = await session.query({
        FormId: 'BD_Customer',
        FieldKeys: 'FName',
        FilterString: "F_FXK_CrmId = 'lost-1'",
      });
      assert.deepEqual(rows, [['丢失应答的客户']]);
    });

    it('latency and probability 0; programmatic setFaults; invalid specs are refused with 400', async () => {
      emulator.resetStats();
      emulator.setFaults({ latencyMs: 1, http500: { probability: 0 } });
      await stillServes();
      assert.equal(emulator.stats().faultsFired.latency, 1);
      assert.equal(emulator.stats().faultsFired.http500, undefined);
      for (const bad of ['{"http500":{"times":-1}}', '{"nosuchfault":{}}', 'not json']) {
        assert.equal((await post(emulator.url, '/__emulator/faults', bad)).status, 400, bad);
      }
      assert.throws(() => emulator.setFaults({ msgCode14: { probability: 2 } }));
      await setFaults({});
    });

    it('control: stats, records, requests, expire-sessions and reset', async () => {
      const stats = (await request(new URL('/__emulator/stats', emulator.url)).then((r) =>
        r.body.json(),
      )) as {
        calls: Record<string, number>;
        records: Record<string, number>;
      };
      assert.ok((stats.calls.ExecuteBillQuery ?? 0) > 0);
      assert.equal(stats.records.BD_MATERIAL, 5);
      const records = (await request(new URL('/__emulator/records/bd_material', emulator.url)).then((r) =>
        r.body.json(),
      )) as {
        values: Record<string, unknown>;
      }[];
      assert.equal(records[0]?.values.FNumber, 'WL0001');
      const log = (await request(new URL('/__emulator/requests', emulator.url)).then((r) =>
        r.body.json(),
      )) as unknown[];
      assert.ok(log.length > 0);
      const reset = await post(emulator.url, '/__emulator/reset', {});
      assert.equal(reset.status, 200);
      assert.equal((await emulator.listRecords('BD_Customer')).length, 3);
      assert.equal((await request(new URL('/__emulator/nope', emulator.url))).statusCode, 404);
    });

    it('the control endpoint is not served unless enabled', async () => {
      const closed = await startEmulator();
      try {
        const response = await request(new URL('/__emulator/stats', closed.url));
        assert.equal(response.statusCode, 404);
        await response.body.dump();
      } finally {
        await closed.close();
      }
    });
  });

  describe('bad input never crashes the server', () => {
    it('malformed JSON, non-object bodies and bad data strings get MsgCode 8 in K3 envelope', async () => {
      const headers = { 'kdservice-sessionid': session.sessionId };
      const cases: [string, string][] = [
        ['DynamicFormService.Save', '{"formid":"SAL_SaleOrder","data":'],
        ['DynamicFormService.Save', '"just a string"'],
        ['DynamicFormService.Save', '{"formid":"SAL_SaleOrder","data":"{not json"}'],
        ['DynamicFormService.Save', '{"formid":"SAL_SaleOrder","data":42}'],
        ['DynamicFormService.View', '{"formid":"SAL_SaleOrder","data":{}}'],
        ['DynamicFormService.Submit', '{"formid":"SAL_SaleOrder","data":{"Ids":"x,y"}}'],
      ];
      for (const [name, body] of cases) {
        const result = (await post(emulator.url, service(name), body, headers)).json() as K3Result;
        assert.equal(result.Result.ResponseStatus.MsgCode, 8, body);
        assert.equal(result.Result.ResponseStatus.ErrorCode, 500);
      }
      const query = (
        await post(emulator.url, service('DynamicFormService.ExecuteBillQuery'), '{"data":', headers)
      ).json();
      assert.ok(Array.isArray(query) && Array.isArray(query[0]), 'query errors stay wrapped');
      await stillServes();
    });

    it('unknown service methods, other paths and other HTTP methods', async () => {
      const unknown = (await session.call('NoSuchMethod', {})).json() as K3Result;
      assert.equal(unknown.Result.ResponseStatus.MsgCode, 4);
      assert.match(unknown.Result.ResponseStatus.Errors[0]?.Message ?? '', /NoSuchMethod/);
      assert.equal((await post(emulator.url, '/k3cloud/whatever.aspx', {})).status, 404);
      const get = await request(new URL(service('DynamicFormService.Save'), emulator.url));
      assert.equal(get.statusCode, 405);
      await get.body.dump();
      const garbage = await rawHttp(emulator.port, 'NOT-HTTP\r\n\r\n');
      assert.match(garbage, /^HTTP\/1.1 400/);
      await stillServes();
    });

    it('bodies above maxBodyBytes get an error without being buffered, and the server keeps serving', async () => {
      const huge = JSON.stringify({
        formid: 'SAL_SaleOrder',
        data: { Model: { FNote: 'x'.repeat(20_000) } },
      });
      const result = (await session.call('Save', huge)).json() as K3Result;
      assert.equal(result.Result.ResponseStatus.MsgCode, 8);
      assert.match(result.Result.ResponseStatus.Errors[0]?.Message ?? '', /4096/);
      const enormous = JSON.stringify({ data: { FormId: 'BD_Currency', FieldKeys: 'x'.repeat(200_000) } });
      const wrapped = (await session.call('ExecuteBillQuery', enormous)).json();
      assert.ok(Array.isArray(wrapped));
      await stillServes();
    });
  });
});
