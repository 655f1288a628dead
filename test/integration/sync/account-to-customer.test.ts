/**
 * Flow 1 end to end: a CRM account edited in the Fxiaoke emulator → change push → webhook handler → SQS FIFO
 * → account-to-customer handler → K3 customer (saved, submitted, audited, allocated) → write-back queue →
 * crm-write-back handler → the ERP number on the CRM account. Plus what must never happen: duplicates
 * (redeliveries, reordering, concurrency, lost responses), a bad record blocking the others, a transient
 * error retried forever.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { readCrmString } from '../../../lib/fxiaoke/records.ts';
import { CrmReader } from '../../../lib/sync/reader.ts';
import { exampleConfigData, pushBody, SyncStack } from './harness.ts';

/** The example config with one more K3 field read from a CRM custom field (to make K3 refuse one record). */
function configWithSalesman(): Record<string, unknown> {
  const config = exampleConfigData();
  const flows = config.flows as Record<string, Record<string, unknown>>;
  const customer = flows.accountToCustomer as Record<string, unknown>;
  const fields = customer.fields as Record<string, unknown>;
  fields.FSELLER = { from: 'remark', ref: 'FNumber', default: 'SALER001' };
  return config;
}

describe('account-to-customer (AccountObj → BD_Customer)', () => {
  let stack: SyncStack;
  before(async () => {
    stack = await SyncStack.start({ config: configWithSalesman() });
  });
  after(async () => {
    await stack?.close();
  });

  async function customersOf(crmId: string) {
    return await stack.k3Rows(
      'BD_Customer',
      ['FCUSTID', 'FNumber', 'FName', 'FDocumentStatus', 'FUseOrgId.FNumber'],
      `F_FXK_CrmId = '${crmId}'`,
    );
  }

  it('a new CRM account becomes an audited K3 customer, allocated to the sales companies, number written back', async () => {
    const { dataId } = await stack.fx.edit({
      apiName: 'AccountObj',
      fields: { name: '杭州西湖精工有限公司', account_level: '2', tel: '0571-88880001', remark: 'SALER002' },
    });
    await stack.settle();

    const copies = await customersOf(dataId);
    assert.deepEqual(
      copies.map((row) => row[4]).sort(),
      ['100', '101', '102'],
      'one customer in the create organisation, one allocated copy per configured organisation',
    );
    const own = copies.find((row) => row[4] === '100');
    assert.equal(own?.[2], '杭州西湖精工有限公司');
    assert.equal(own?.[3], 'C', 'submitted and audited');
    const number = String(own?.[1]);
    const account = await stack.fx.getRecord('AccountObj', dataId);
    assert.equal(account?.field_erp_no__c, number, 'the ERP number is written back to the CRM');

    const [entry, writeBack] = await stack.syncLog('crm', 'AccountObj', dataId);
    assert.equal(entry?.flow, 'account-to-customer');
    assert.equal(entry?.outcome, 'succeeded');
    assert.deepEqual(entry?.operations, ['Save', 'Submit', 'Audit', 'Allocate']);
    assert.equal(entry?.target?.number, number);
    assert.equal(writeBack?.flow, 'crm-write-back');
    assert.equal(writeBack?.outcome, 'succeeded');

    // The write-back went out with triggerWorkFlow false: no new push, nothing queued.
    await stack.fx.pushesSettled();
    assert.equal(stack.counts('accountToCustomer').visible, 0);
  });

  it('an update of an audited customer is un-audited, saved, submitted and audited again — still one customer', async () => {
    const { dataId } = await stack.fx.edit({
      apiName: 'AccountObj',
      fields: { name: '宁波港城贸易有限公司' },
    });
    await stack.settle();
    await stack.fx.edit({ apiName: 'AccountObj', id: dataId, fields: { name: '宁波港城国际贸易有限公司' } });
    await stack.settle();

    const own = (await customersOf(dataId)).filter((row) => row[4] === '100');
    assert.equal(own.length, 1);
    assert.equal(own[0]?.[2], '宁波港城国际贸易有限公司');
    assert.equal(own[0]?.[3], 'C');
    const entries = await stack.syncLog('crm', 'AccountObj', dataId);
    const update = entries.filter((e) => e.flow === 'account-to-customer').at(-1);
    assert.equal(update?.reason, 'updated');
    assert.deepEqual(update?.operations, ['UnAudit', 'Save', 'Submit', 'Audit']);
    assert.equal(
      stack.logEvents('sync.k3.unaudit-before-update').length >= 1,
      true,
      'the un-audit is logged',
    );
  });

  it('duplicated, reordered and concurrent events for one record end as one customer with the newest data', async () => {
    const { dataId } = await stack.fx.edit({ apiName: 'AccountObj', fields: { name: '苏州工业园区甲公司' } });
    await stack.fx.edit({ apiName: 'AccountObj', id: dataId, fields: { name: '苏州工业园区乙公司' } });
    await stack.fx.edit({ apiName: 'AccountObj', id: dataId, fields: { name: '苏州工业园区丙公司' } });
    await stack.fx.pushesSettled();
    // A redelivery of an old push and a late, older-looking event for the same record.
    const stale = pushBody('AccountObj', dataId, { timestamp: Date.now() - 60_000 });
    assert.equal((await stack.push(stale)).statusCode, 200);
    assert.equal((await stack.push(stale)).statusCode, 200, 'a redelivery is acknowledged');
    await stack.pump('accountToCustomer', { concurrency: 3 });
    await stack.pump('crmWriteBack');

    const own = (await customersOf(dataId)).filter((row) => row[4] === '100');
    assert.equal(own.length, 1, 'exactly one ERP customer');
    assert.equal(own[0]?.[2], '苏州工业园区丙公司', 'with the newest name');
    const outcomes = (await stack.syncLog('crm', 'AccountObj', dataId))
      .filter((e) => e.flow === 'account-to-customer')
      .map((e) => e.outcome);
    assert.deepEqual(
      outcomes,
      ['succeeded'],
      'four events, one sync: the events of one record share one re-read',
    );
  });

  it('a Save whose response is lost does not create a duplicate: the retry finds and adopts the customer', async () => {
    stack.k3.setFaults({
      dropResponseAfterCommit: { operations: ['Save'], formIds: ['BD_Customer'], times: 1 },
    });
    const { dataId } = await stack.fx.edit({
      apiName: 'AccountObj',
      fields: { name: '无锡太湖实业有限公司' },
    });
    await stack.fx.pushesSettled();
    const first = await stack.pump('accountToCustomer');
    assert.equal(first.failed, 1, 'outcome unknown: the message goes back to the queue');
    assert.equal((await customersOf(dataId)).length, 1, 'the lost Save did commit');
    stack.sqsClock.advance(60_000);
    await stack.pump('accountToCustomer');

    const copies = await customersOf(dataId);
    assert.equal(copies.filter((row) => row[4] === '100').length, 1, 'still one customer');
    assert.equal(copies.find((row) => row[4] === '100')?.[3], 'C');
    const entries = (await stack.syncLog('crm', 'AccountObj', dataId)).filter(
      (e) => e.flow === 'account-to-customer',
    );
    assert.equal(entries[0]?.outcome, 'failed');
    assert.equal(entries[0]?.error?.kind, 'outcome-unknown');
    assert.match(entries[0]?.reason ?? '', /attempt 1\/3: will be retried/);
    assert.equal(entries[1]?.outcome, 'succeeded');
    assert.equal(entries[1]?.attempt, 2);
    assert.equal(entries[1]?.reason, 'adopted existing ERP record');
    stack.k3.setFaults({});
  });

  it('a business error lands in the sync log with K3’s message verbatim and does not block the other records', async () => {
    const good1 = await stack.fx.edit({ apiName: 'AccountObj', fields: { name: '合肥科创甲有限公司' } });
    const bad = await stack.fx.edit({
      apiName: 'AccountObj',
      fields: { name: '合肥科创乙有限公司', remark: 'NOPE99' },
    });
    const good2 = await stack.fx.edit({ apiName: 'AccountObj', fields: { name: '合肥科创丙有限公司' } });
    await stack.fx.pushesSettled();
    const run = await stack.pump('accountToCustomer');
    assert.equal(run.batches, 1, 'the three events arrive in one batch');
    assert.equal(run.failed, 0, 'a business error is final: its message is deleted, not retried');

    assert.equal((await customersOf(good1.dataId)).length, 3);
    assert.equal((await customersOf(good2.dataId)).length, 3);
    assert.equal((await customersOf(bad.dataId)).length, 0);
    const [failure] = (await stack.syncLog('crm', 'AccountObj', bad.dataId)).filter(
      (e) => e.flow === 'account-to-customer',
    );
    assert.equal(failure?.outcome, 'failed');
    assert.equal(failure?.error?.kind, 'business');
    assert.ok(
      failure?.error?.remoteMessages.some((m) => m.includes('NOPE99')),
      `K3's own message is kept: ${JSON.stringify(failure?.error?.remoteMessages)}`,
    );
    const inbox = await (await stack.runtime()).state.inbox.get(failure?.messageId ?? '');
    assert.equal(inbox?.state, 'failed');
  });

  it('a transient error is retried with backoff and, after maxReceiveCount receives, announced and sent to the DLQ', async () => {
    stack.k3.setFaults({ http500: { operations: ['ExecuteBillQuery'], formIds: ['BD_Customer'] } });
    const { dataId } = await stack.fx.edit({
      apiName: 'AccountObj',
      fields: { name: '常州龙城机电有限公司' },
    });
    await stack.fx.pushesSettled();
    for (let attempt = 1; attempt <= 3; attempt += 1) {
      const run = await stack.pump('accountToCustomer');
      assert.equal(run.failed, 1, `attempt ${attempt} fails`);
      assert.equal(stack.counts('accountToCustomer').visible, 0, 'the retry waits for its backoff');
      stack.sqsClock.advance(15 * 60_000);
    }
    await stack.pump('accountToCustomer');
    assert.equal(stack.counts('accountToCustomer').deadLetters, 1, 'the message is in the DLQ');

    const entries = (await stack.syncLog('crm', 'AccountObj', dataId)).filter(
      (e) => e.flow === 'account-to-customer',
    );
    assert.deepEqual(
      entries.map((e) => e.attempt),
      [1, 2, 3],
    );
    assert.match(entries[0]?.reason ?? '', /attempt 1\/3: will be retried/);
    assert.match(entries[2]?.reason ?? '', /last attempt, the message goes to the dead-letter queue/);
    assert.equal(entries[2]?.error?.kind, 'transient');
    assert.equal(
      (await (await stack.runtime()).state.inbox.get(entries[2]?.messageId ?? ''))?.state,
      'failed',
    );
    stack.k3.setFaults({});
  });

  it('the CRM number written back does not come back as a change (no echo)', async () => {
    const pushesBefore = stack.fx.stats().pushes.sent;
    const { dataId } = await stack.fx.edit({
      apiName: 'AccountObj',
      fields: { name: '扬州运河文旅有限公司' },
    });
    await stack.settle();
    await stack.fx.pushesSettled();
    assert.equal(stack.fx.stats().pushes.sent - pushesBefore, 1, 'only the salesperson’s edit was pushed');
    const account = await stack.fx.getRecord('AccountObj', dataId);
    assert.ok(readCrmString(account ?? {}, 'field_erp_no__c'));
  });

  it('a queue message that arrives before its inbox entry is read at once, not after the 5 s wait for another worker', async () => {
    // The webhook records a first delivery and queues it at once; the message can reach a worker first. Its
    // claim then fails like one another worker won — the reader must tell the two apart.
    const runtime = await stack.runtime();
    const [id] = await stack.fx.insertRecords('AccountObj', [{ name: '收件箱尚未记录的客户' }]);
    assert.ok(id);
    let now = Date.now();
    let slept = 0;
    const reader = new CrmReader({
      fx: runtime.fx(),
      inbox: runtime.state.inbox,
      snapshots: runtime.state.snapshots,
      clock: () => now,
      sleep: async (ms) => {
        slept += ms;
        now += ms;
      },
      claimedReadWaitMs: 5_000,
    });
    const reads = await reader.read('AccountObj', [
      { id, notBeforeMs: now, inboxMessageIds: ['MSG-NOT-IN-THE-INBOX-YET-0001'] },
    ]);
    assert.equal(reads.get(id)?.found, true);
    assert.ok(slept < 1_000, `waited ${slept} ms of (virtual) time before reading it itself`);
  });
});
