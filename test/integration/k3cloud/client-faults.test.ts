import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { after, afterEach, before, describe, it } from 'node:test';
import type { K3CloudEmulator } from '../../../infra/local/k3cloud-emulator/api.ts';
import {
  clientFor,
  countByNumber,
  newCustomer,
  rejection,
  startEmulator,
  startRawServer,
  type TestClient,
} from './client-harness.ts';

const QUERY = { formId: 'BD_Currency', fieldKeys: ['FCODE'], filterString: "FNumber = 'PRE001'" };

describe('k3cloud client: error classes via emulator faults', () => {
  let emulator: K3CloudEmulator;
  let test: TestClient;

  before(async () => {
    emulator = await startEmulator();
    test = clientFor(emulator.url, 'signature');
    await test.client.executeBillQuery(QUERY);
  });
  afterEach(() => {
    emulator.setFaults({});
  });
  after(async () => {
    await test.client.close();
    await emulator.close();
  });

  it('MsgCode 14 → throttled with a suggested delay; the write is not retried and not executed', async () => {
    emulator.setFaults({ msgCode14: { operations: ['Save'] } });
    emulator.resetStats();
    const { number, model } = newCustomer('T14');
    const error = await rejection(test.client.save({ formId: 'BD_Customer', model }));
    assert.equal(error.kind, 'throttled');
    assert.equal(error.msgCode, 14);
    assert.equal(error.retryable, true);
    assert.ok((error.retryAfterMs ?? 0) > 0);
    assert.equal(emulator.stats().calls.Save, 1);
    assert.equal(await countByNumber(emulator, 'BD_Customer', number), 0);
  });

  it('MsgCode 13 (edit lock) → throttled, lock delay', async () => {
    emulator.setFaults({ msgCode13: { operations: ['Audit'] } });
    const error = await rejection(test.client.audit({ formId: 'BD_Customer', numbers: ['CUST0001'] }));
    assert.equal(error.kind, 'throttled');
    assert.equal(error.msgCode, 13);
    assert.equal(error.retryAfterMs, 8_000);
  });

  it('HTTP 500 on a read is retried and succeeds; with retries off it is transient', async () => {
    emulator.setFaults({ http500: { operations: ['ExecuteBillQuery'], times: 1 } });
    const before = test.events.length;
    assert.deepEqual(await test.client.executeBillQuery(QUERY), [['CNY']]);
    assert.deepEqual(
      test.events.slice(before).map((event) => [event.outcome, event.attempt, event.httpStatus]),
      [
        ['transient', 1, 500],
        ['ok', 2, undefined],
      ],
    );
    const strict = clientFor(emulator.url, 'signature', {}, { readRetries: 0 });
    try {
      emulator.setFaults({ http500: { operations: ['ExecuteBillQuery'] } });
      const error = await rejection(strict.client.executeBillQuery(QUERY));
      assert.equal(error.kind, 'transient');
      assert.equal(error.code, 'K3_HTTP_500');
      assert.equal(error.httpStatus, 500);
    } finally {
      await strict.client.close();
    }
  });

  it('HTTP 500 on a write is transient and never re-sent by the client', async () => {
    emulator.setFaults({ http500: { operations: ['Save'] } });
    emulator.resetStats();
    const { number, model } = newCustomer('T500');
    const error = await rejection(test.client.save({ formId: 'BD_Customer', model }));
    assert.equal(error.kind, 'transient');
    assert.equal(error.code, 'K3_HTTP_500');
    assert.equal(emulator.stats().calls.Save, 1, 'one attempt only');
    assert.equal(await countByNumber(emulator, 'BD_Customer', number), 0);
  });

  it('a connection reset on a read is retried; on a write it is outcome-unknown (the client cannot tell)', async () => {
    emulator.setFaults({ connectionReset: { operations: ['ExecuteBillQuery'], times: 2 } });
    assert.deepEqual(
      await test.client.executeBillQuery(QUERY),
      [['CNY']],
      'two resets, third attempt succeeds',
    );
    emulator.setFaults({ connectionReset: { operations: ['Save'], times: 1 } });
    emulator.resetStats();
    const { model } = newCustomer('TRST');
    const error = await rejection(test.client.save({ formId: 'BD_Customer', model }));
    assert.equal(error.kind, 'outcome-unknown');
    assert.equal(error.code, 'K3_OUTCOME_UNKNOWN');
    assert.equal(error.retryable, false);
    assert.match(error.message, /look the record up/i);
    assert.equal(emulator.stats().calls.Save, 1, 'not re-sent');
  });

  it('response_error: → transient, with the server’s exception text', async () => {
    emulator.setFaults({ responseError: { operations: ['Submit'] } });
    const error = await rejection(test.client.submit({ formId: 'SAL_SaleOrder', numbers: ['XSDD-NONE'] }));
    assert.equal(error.kind, 'transient');
    assert.equal(error.code, 'K3_RESPONSE_ERROR');
    assert.ok(error.remoteMessages.length > 0);
  });

  it('dropResponseAfterCommit → outcome-unknown, and the record was in fact saved', async () => {
    emulator.setFaults({ dropResponseAfterCommit: { operations: ['Save'], times: 1 } });
    emulator.resetStats();
    const { number, model } = newCustomer('TDROP');
    const error = await rejection(test.client.save({ formId: 'BD_Customer', model }));
    assert.equal(error.kind, 'outcome-unknown');
    assert.equal(error.operation, 'Save');
    assert.equal(error.formId, 'BD_Customer');
    assert.match(error.message, /重新发送前必须先查询确认/);
    assert.equal(emulator.stats().calls.Save, 1, 'never re-sent by the client');
    assert.equal(await countByNumber(emulator, 'BD_Customer', number), 1, 'the write did happen');
    // What the caller does next: look it up by its key.
    const found = await test.client.executeBillQuery({
      formId: 'BD_Customer',
      fieldKeys: 'FCUSTID',
      filterString: `FNumber = '${number}'`,
    });
    assert.equal(found.length, 1);
  });

  it('a timeout on a read is transient after the retries; on a write it is outcome-unknown', async () => {
    // The emulator holds each request for 1.5 s; our deadline is far shorter, yet long enough to send.
    emulator.setFaults({ latencyMs: 1_500 });
    const error = await rejection(test.client.executeBillQuery(QUERY, { timeoutMs: 100 }));
    assert.equal(error.kind, 'transient');
    assert.equal(error.code, 'K3_TIMEOUT');
    const write = await rejection(
      test.client.save({ formId: 'BD_Customer', model: newCustomer('TTO').model }, { timeoutMs: 300 }),
    );
    assert.equal(write.kind, 'outcome-unknown');
    assert.match(write.message, /timed out/);
  });

  it('an aborted write that was already sent is outcome-unknown; one aborted before sending is not', async () => {
    emulator.setFaults({ latencyMs: 1_500 });
    emulator.resetStats();
    const controller = new AbortController();
    const pending = test.client.save(
      { formId: 'BD_Customer', model: newCustomer('TAB').model },
      { signal: controller.signal },
    );
    // Abort once the emulator has received the request.
    for (let i = 0; i < 500 && (emulator.stats().calls.Save ?? 0) < 1; i++) {
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    controller.abort();
    assert.equal((await rejection(pending)).kind, 'outcome-unknown');
    const early = await rejection(
      test.client.save(
        { formId: 'BD_Customer', model: newCustomer('TAB').model },
        { signal: AbortSignal.abort() },
      ),
    );
    assert.equal(early.kind, 'transient');
    assert.equal(early.code, 'K3_ABORTED');
  });
});

describe('k3cloud client: transport cases the emulator cannot produce', () => {
  it('connection refused before sending is transient, even for a write', async () => {
    const port = await new Promise<number>((resolve) => {
      const probe = createServer();
      probe.listen(0, '127.0.0.1', () => {
        const address = probe.address();
        const free = typeof address === 'object' && address ? address.port : 0;
        probe.close(() => resolve(free));
      });
    });
    const { client } = clientFor(`http://127.0.0.1:${port}/k3cloud/`, 'signature', {}, { readRetries: 0 });
    try {
      const error = await rejection(client.save({ formId: 'BD_Customer', model: newCustomer('REF').model }));
      assert.equal(error.kind, 'transient');
      assert.equal(error.code, 'K3_CONNECTION_FAILED');
      assert.match(error.message, /request not sent/);
    } finally {
      await client.close();
    }
  });

  const rawCases = [
    {
      name: 'an HTML page with HTTP 200',
      contentType: 'text/html',
      body: '<!DOCTYPE html><html><head><title>系统维护中</title></head><body></body></html>',
      code: 'K3_HTML_BODY',
    },
    {
      name: 'a non-JSON text body',
      contentType: 'text/plain',
      body: 'Server Too Busy',
      code: 'K3_NON_JSON_BODY',
    },
    {
      name: 'a WAF block in JSON',
      contentType: 'application/json',
      body: JSON.stringify([
        {
          actionname: 'showConfirm',
          params: [{ msg: '请求参数存在可疑数据,当前请求已经被拦截规则[caller_in_less_Point_Bracket]阻止!' }],
        },
      ]),
      code: 'K3_WAF_BLOCKED',
    },
  ];
  for (const rawCase of rawCases) {
    it(`${rawCase.name} is transient; reads are retried, writes are not`, async () => {
      const raw = await startRawServer((_request, response) => {
        response.writeHead(200, { 'content-type': rawCase.contentType });
        response.end(rawCase.body);
      });
      const { client } = clientFor(raw.url, 'signature');
      try {
        const read = await rejection(client.executeBillQuery(QUERY));
        assert.equal(read.kind, 'transient');
        assert.equal(read.code, rawCase.code);
        assert.equal(raw.requests, 3, 'first attempt + 2 retries');
        const write = await rejection(
          client.save({ formId: 'BD_Customer', model: newCustomer('RAW').model }),
        );
        assert.equal(write.code, rawCase.code);
        assert.equal(raw.requests, 4, 'a write is sent once');
      } finally {
        await client.close();
        await raw.close();
      }
    });
  }
});
