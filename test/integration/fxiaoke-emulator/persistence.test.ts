import assert from 'node:assert/strict';
import {
  appendFileSync,
  cpSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { StoreCorruptError } from '../../../infra/local/fxiaoke-emulator/store.ts';
import { createLogger } from '../../../lib/log.ts';
import { IDENTITY, legacySession, query, rowsOf, startTestEmulator, testClock } from './helpers.ts';
import { startPushReceiver } from './push-receiver.ts';

const V2 = '/cgi/crm/v2/data';
const dirs: string[] = [];

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'fxiaoke-emulator-'));
  dirs.push(dir);
  return dir;
}

function capturingLogger() {
  const events: string[] = [];
  const logger = createLogger({
    level: 'debug',
    write: (line) => {
      const parsed: unknown = JSON.parse(line);
      if (typeof parsed === 'object' && parsed !== null && 'event' in parsed)
        events.push(String(parsed.event));
    },
  });
  return { logger, events };
}

async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 2));
}

/** A push receiver for the test emulator's identity, on the test's clock. */
function receiverFor(clock: { now: () => number }) {
  return startPushReceiver({
    aesKey: IDENTITY.aesKey,
    enterpriseAccount: IDENTITY.enterpriseAccount,
    now: clock.now,
  });
}

const PUSH_JOURNAL = 'pending-pushes.journal.jsonl';

/** The lines of the push journal (after a clean stop: one `{"q": push}` per pending push). */
function journalLines(dataDir: string): Record<string, unknown>[] {
  return readFileSync(join(dataDir, PUSH_JOURNAL), 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe('fxiaoke emulator: persistence', () => {
  after(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('keeps records, counters, tokens and declared objects across a restart, without re-seeding', async () => {
    const dataDir = tempDir();
    const clock = testClock();
    const first = await startTestEmulator(clock, { dataDir, controlEnabled: true });
    const session = await legacySession(first);
    const declared = await fetch(`${first.url}/__emulator/objects`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        objects: [
          {
            apiName: 'object_contract__c',
            displayName: '合同',
            fields: [{ apiName: 'name', type: 'text', label: '合同名称', required: true }],
          },
        ],
      }),
    });
    assert.equal(declared.status, 200);
    const contract = await session.call('/cgi/crm/custom/v2/data/create', {
      data: { object_data: { dataObjectApiName: 'object_contract__c', name: '年度框架合同' } },
    });
    assert.equal(contract.errorCode, 0, JSON.stringify(contract));
    const account = await session.call(`${V2}/create`, {
      data: { object_data: { dataObjectApiName: 'AccountObj', name: '持久化客户' } },
    });
    await session.call(`${V2}/update`, {
      data: {
        object_data: { dataObjectApiName: 'AccountObj', _id: account.dataId, field_erp_no__c: 'CUST0999' },
      },
    });
    const [product] = await first.listRecords('ProductObj');
    const order = await session.call(`${V2}/create`, {
      data: {
        object_data: { dataObjectApiName: 'SalesOrderObj', account_id: account.dataId },
        details: { SalesOrderProductObj: [{ product_id: product?._id, quantity: '2', sales_price: '3' }] },
      },
    });
    const statsBefore = first.stats().records;
    const ordersBefore = await first.listRecords('SalesOrderObj');
    const accountsBefore = await first.listRecords('AccountObj');
    await first.close();

    const second = await startTestEmulator(clock, { dataDir });
    try {
      assert.deepEqual(second.stats().records, statsBefore, 'same records, no re-seeding');
      assert.deepEqual(await second.listRecords('SalesOrderObj'), ordersBefore);
      assert.deepEqual(await second.listRecords('AccountObj'), accountsBefore);
      const stored = await second.getRecord('SalesOrderObj', String(order.dataId));
      assert.equal(stored?.order_amount, '6.00');
      // The token issued before the restart is still valid on the new server.
      const check = await fetch(`${second.url}${V2}/get`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          corpAccessToken: session.token,
          corpId: session.corpId,
          currentOpenUserId: IDENTITY.openUserId,
          data: { dataObjectApiName: 'AccountObj', objectDataId: account.dataId },
        }),
      });
      const got: unknown = await check.json();
      assert.ok(typeof got === 'object' && got !== null && 'errorCode' in got);
      assert.equal(got.errorCode, 0, `token survives restart: ${JSON.stringify(got)}`);
      // Auto numbers continue after the restart.
      const next = await legacySession(second);
      const another = await next.call(`${V2}/create`, {
        data: { object_data: { dataObjectApiName: 'SalesOrderObj', account_id: account.dataId } },
      });
      const names = (await second.listRecords('SalesOrderObj')).map((o) => String(o.name)).sort();
      const newest = await second.getRecord('SalesOrderObj', String(another.dataId));
      assert.equal(newest?.name, names[names.length - 1]);
      assert.equal(new Set(names).size, names.length, 'no duplicate order numbers');
      // The declared custom object is still served.
      const contracts = rowsOf(
        await next.call('/cgi/crm/custom/v2/data/query', query('object_contract__c', {})),
      );
      assert.equal(contracts.length, 1);
    } finally {
      await second.close();
    }
  });

  it('an acknowledged write is on disk before the answer (a copy of the directory taken mid-run has it)', async () => {
    const dataDir = tempDir();
    const running = await startTestEmulator(testClock(), { dataDir, seed: false });
    try {
      const session = await legacySession(running);
      const created = await session.call(`${V2}/create`, {
        data: { object_data: { dataObjectApiName: 'AccountObj', name: '崩溃前写入' } },
      });
      assert.equal(created.errorCode, 0);
      const crashCopy = tempDir();
      cpSync(dataDir, crashCopy, { recursive: true });
      const recovered = await startTestEmulator(testClock(), { dataDir: crashCopy, seed: false });
      try {
        const record = await recovered.getRecord('AccountObj', String(created.dataId));
        assert.equal(record?.name, '崩溃前写入');
      } finally {
        await recovered.close();
      }
    } finally {
      await running.close();
    }
  });

  it('tolerates a torn last journal line but refuses a damaged journal or snapshot', async () => {
    const dataDir = tempDir();
    const emulator = await startTestEmulator(testClock(), { dataDir, seed: false });
    await emulator.insertRecords('AccountObj', [{ name: 'A' }]);
    const crashCopy = tempDir();
    cpSync(dataDir, crashCopy, { recursive: true });
    await emulator.close();

    appendFileSync(join(crashCopy, 'records.journal.jsonl'), '{"t":"put","a":"AccountObj","r":{"_id":"x"');
    const torn = await startTestEmulator(testClock(), { dataDir: crashCopy, seed: false });
    assert.equal((await torn.listRecords('AccountObj')).length, 1);
    await torn.close();

    const damaged = tempDir();
    cpSync(dataDir, damaged, { recursive: true });
    writeFileSync(join(damaged, 'records.journal.jsonl'), 'not json\n{"t":"ctr","k":"x","v":1}\n');
    await assert.rejects(startTestEmulator(testClock(), { dataDir: damaged }), StoreCorruptError);
    writeFileSync(join(damaged, 'records.journal.jsonl'), '');
    writeFileSync(join(damaged, 'records.snapshot.json'), '{"format":"something else"}');
    await assert.rejects(startTestEmulator(testClock(), { dataDir: damaged }), StoreCorruptError);
  });

  it('persists undelivered pushes on close and redelivers them after the restart (retryTimes continues)', async () => {
    const dataDir = tempDir();
    const clock = testClock();
    const receiver = await receiverFor(clock);
    try {
      receiver.fallback = 'http-500';
      const { logger, events } = capturingLogger();
      const first = await startTestEmulator(clock, {
        dataDir,
        callbackUrls: [receiver.url],
        pushRetryDelaysMs: [60_000, 60_000],
        logger,
      });
      const [account] = await first.listRecords('AccountObj');
      await first.edit({ apiName: 'AccountObj', id: String(account?._id), fields: { remark: '待推送' } });
      await until(() => events.includes('fxiaoke_emulator.push_failed_will_retry'));
      assert.equal(first.stats().pushes.pending, 1);
      await first.close();
      assert.ok(events.includes('fxiaoke_emulator.pushes_persisted'));
      const saved = journalLines(dataDir);
      assert.equal(saved.length, 1);
      assert.ok('q' in (saved[0] ?? {}), 'the clean stop leaves one queued push in the journal');

      receiver.fallback = 'encrypted-success';
      const second = await startTestEmulator(clock, { dataDir, callbackUrls: [receiver.url] });
      try {
        await second.pushesSettled();
        assert.equal(receiver.received.length, 2);
        assert.equal(receiver.received[1]?.body.retryTimes, 1, 'the restored push is a redelivery');
        assert.equal(receiver.received[0]?.event.messageId, receiver.received[1]?.event.messageId);
        assert.equal(second.stats().pushes.acknowledged, 1);
      } finally {
        await second.close();
      }
      assert.deepEqual(journalLines(dataDir), [], 'nothing pending after the redelivery');
    } finally {
      await receiver.close();
    }
  });

  it('a crash loses no push: a copy of the directory taken mid-run redelivers exactly the unacknowledged ones', async () => {
    const dataDir = tempDir();
    const clock = testClock();
    const receiver = await receiverFor(clock);
    try {
      const { logger, events } = capturingLogger();
      const running = await startTestEmulator(clock, {
        dataDir,
        callbackUrls: [receiver.url],
        pushRetryDelaysMs: [60_000, 60_000],
        logger,
      });
      let crashCopy = '';
      try {
        const [first, second, third] = await running.listRecords('AccountObj');
        // The first change is acknowledged; the second fails and waits a minute for its retry.
        receiver.script = ['encrypted-success'];
        receiver.fallback = 'http-500';
        await running.edit({ apiName: 'AccountObj', id: String(first?._id), fields: { remark: '已送达' } });
        await until(() => running.stats().pushes.acknowledged === 1);
        await running.edit({ apiName: 'AccountObj', id: String(second?._id), fields: { remark: '待重推' } });
        await until(() => events.includes('fxiaoke_emulator.push_failed_will_retry'));
        // The third is in flight when the crash comes: sent, never answered.
        receiver.fallback = 'no-answer';
        await running.edit({ apiName: 'AccountObj', id: String(third?._id), fields: { remark: '在途' } });
        await until(() => receiver.received.length === 3);
        crashCopy = tempDir();
        cpSync(dataDir, crashCopy, { recursive: true });
        // A crash mid-append leaves a torn last line.
        appendFileSync(join(crashCopy, PUSH_JOURNAL), '{"d":"torn');
      } finally {
        await running.close();
      }
      const sentBefore = receiver.received.map((push) => push.event.messageId);
      receiver.script = [];
      receiver.fallback = 'encrypted-success';
      receiver.received.length = 0;
      const recovered = await startTestEmulator(clock, { dataDir: crashCopy, callbackUrls: [receiver.url] });
      try {
        await recovered.pushesSettled();
        const redelivered = receiver.received.map((push) => push.event.messageId).sort();
        assert.deepEqual(
          redelivered,
          [sentBefore[1], sentBefore[2]].sort(),
          'the two unacknowledged, not the first',
        );
        const retried = receiver.received.find((push) => push.event.messageId === sentBefore[1]);
        assert.equal(retried?.body.retryTimes, 1, 'the failed one goes out as a redelivery');
        assert.equal(recovered.stats().pushes.acknowledged, 2);
      } finally {
        await recovered.close();
      }
      assert.deepEqual(journalLines(crashCopy), []);
    } finally {
      await receiver.close();
    }
  });

  it('reads the pending pushes an earlier version saved in pending-pushes.json, once', async () => {
    const dataDir = tempDir();
    const clock = testClock();
    const receiver = await receiverFor(clock);
    try {
      receiver.fallback = 'http-500';
      const { logger, events } = capturingLogger();
      const first = await startTestEmulator(clock, {
        dataDir,
        callbackUrls: [receiver.url],
        pushRetryDelaysMs: [60_000],
        logger,
      });
      const [account] = await first.listRecords('AccountObj');
      await first.edit({ apiName: 'AccountObj', id: String(account?._id), fields: { remark: '旧格式' } });
      await until(() => events.includes('fxiaoke_emulator.push_failed_will_retry'));
      await first.close();
      // Rewrite the data directory as an earlier version left it: a JSON list, no journal.
      const pending = journalLines(dataDir).map((line) => line.q);
      writeFileSync(join(dataDir, 'pending-pushes.json'), JSON.stringify(pending));
      rmSync(join(dataDir, PUSH_JOURNAL));

      receiver.fallback = 'encrypted-success';
      receiver.received.length = 0;
      const second = await startTestEmulator(clock, { dataDir, callbackUrls: [receiver.url] });
      try {
        await second.pushesSettled();
        assert.equal(receiver.received.length, 1);
        assert.equal(receiver.received[0]?.body.retryTimes, 1);
        assert.equal(existsSync(join(dataDir, 'pending-pushes.json')), false, 'the old file is gone');
      } finally {
        await second.close();
      }
    } finally {
      await receiver.close();
    }
  });

  it('without a data directory, pending pushes are reported as dropped on close', async () => {
    const clock = testClock();
    const receiver = await receiverFor(clock);
    try {
      receiver.fallback = 'http-500';
      const { logger, events } = capturingLogger();
      const emulator = await startTestEmulator(clock, {
        callbackUrls: [receiver.url],
        pushRetryDelaysMs: [60_000],
        logger,
      });
      const [account] = await emulator.listRecords('AccountObj');
      await emulator.edit({ apiName: 'AccountObj', id: String(account?._id), fields: { remark: 'x' } });
      await until(() => events.includes('fxiaoke_emulator.push_failed_will_retry'));
      await emulator.close();
      assert.ok(events.includes('fxiaoke_emulator.pushes_dropped'));
    } finally {
      await receiver.close();
    }
  });
});
