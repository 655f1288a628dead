/**
 * `fxk3 status` against both emulators, dynalite and the local SQS service: healthy; unhealthy when K3Cloud
 * or Fxiaoke fails (their messages verbatim), when a dead-letter queue holds a message, when the mapping config
 * is broken (the exact key named); failed records summarised by flow and error code as a warning.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { z } from 'zod';
import { exampleConfigData, SyncStack } from '../sync/harness.ts';
import { errorSchema, fxk3, jsonOf } from './support.ts';

const statusSchema = z.object({
  command: z.literal('status'),
  healthy: z.boolean(),
  deployment: z.object({ kind: z.string(), label: z.string() }).loose(),
  checks: z.array(
    z.object({
      id: z.string(),
      level: z.enum(['ok', 'warn', 'fail', 'skip']),
      detail: z.string(),
      error: errorSchema
        .extend({ problems: z.array(z.string()).optional() })
        .loose()
        .optional(),
    }),
  ),
  queues: z.array(
    z.object({
      flow: z.string(),
      queue: z.object({ name: z.string(), visible: z.number() }).loose().optional(),
      deadLetterQueue: z.object({ name: z.string(), visible: z.number() }).loose().optional(),
    }),
  ),
  failures: z
    .object({
      groups: z.array(
        z
          .object({
            flow: z.string(),
            code: z.string(),
            attempts: z.number(),
            records: z.number(),
            unresolved: z.number(),
          })
          .loose(),
      ),
    })
    .loose()
    .optional(),
  cursors: z.array(z.object({ name: z.string() }).loose()),
  lastSuccess: z.array(z.object({ flow: z.string(), record: z.string().optional() }).loose()),
});

describe('fxk3 status', () => {
  let stack: SyncStack;

  before(async () => {
    stack = await SyncStack.start();
  });
  after(async () => {
    await stack?.close();
  });

  const status = async (extraEnv: Record<string, string> = {}) => {
    const run = await fxk3(stack, ['status', '--json'], extraEnv);
    return { run, doc: jsonOf(run, statusSchema) };
  };
  const check = (doc: z.output<typeof statusSchema>, id: string) => {
    const found = doc.checks.find((c) => c.id === id);
    assert.ok(found, `check ${id} is reported`);
    return found;
  };

  it('healthy: settings, both systems, queues and their dead-letter queues; exit code 0', async () => {
    const { run, doc } = await status();
    assert.equal(run.code, 0, run.stdout);
    assert.equal(doc.healthy, true);
    assert.equal(doc.deployment.kind, 'env');
    for (const id of ['settings', 'k3cloud', 'fxiaoke', 'queues', 'failures'])
      assert.equal(check(doc, id).level, 'ok', id);
    assert.match(check(doc, 'k3cloud').detail, /acct 5f1a2b3c4d5e6f · 用户 user demo · signature/);
    assert.deepEqual(
      doc.queues.map((q) => [q.flow, q.queue?.name, q.deadLetterQueue?.name]),
      [
        ['account-to-customer', 'test-account-to-customer.fifo', 'test-account-to-customer-dlq.fifo'],
        [
          'sales-order-to-sale-order',
          'test-sales-order-to-sale-order.fifo',
          'test-sales-order-to-sale-order-dlq.fifo',
        ],
        [
          'sale-order-to-delivery-notice',
          'test-sale-order-to-delivery-notice.fifo',
          'test-sale-order-to-delivery-notice-dlq.fifo',
        ],
        ['crm-write-back', 'test-crm-write-back.fifo', 'test-crm-write-back-dlq.fifo'],
      ],
    );
    assert.deepEqual(
      doc.cursors.map((c) => c.name),
      ['purchase-order-to-in-stock', 'delivery-to-fxiaoke.SAL_OUTSTOCK'],
    );
    // No secret ever reaches the output.
    for (const secret of ['sandbox-app-secret-not-real', 'O0YjM0EDOygzNykzMzUjLwUTN3MjL5ADN1QjM5gTM0A=']) {
      assert.ok(!run.stdout.includes(secret));
    }
  });

  it('a synced customer shows as the last successful sync of its flow', async () => {
    const { dataId } = await stack.fx.edit({
      apiName: 'AccountObj',
      fields: { name: '南通江海纺织有限公司' },
    });
    await stack.settle();
    const { doc } = await status();
    assert.equal(
      doc.lastSuccess.find((s) => s.flow === 'account-to-customer')?.record,
      `AccountObj:${dataId}`,
    );
  });

  it('K3Cloud failing: unhealthy, exit code 1, the server’s exception verbatim', async () => {
    stack.k3.setFaults({ responseError: { operations: ['ExecuteBillQuery'], formIds: ['BD_Currency'] } });
    try {
      const { run, doc } = await status();
      assert.equal(run.code, 1);
      assert.equal(doc.healthy, false);
      const k3 = check(doc, 'k3cloud');
      assert.equal(k3.level, 'fail');
      assert.ok(
        k3.error?.remoteMessages.some((m) => m.includes('服务端执行出现异常（模拟故障）')),
        JSON.stringify(k3.error),
      );
      assert.equal(check(doc, 'fxiaoke').level, 'ok');

      const human = await fxk3(stack, ['status']);
      assert.equal(human.code, 1);
      assert.match(human.stdout, /金蝶 K3Cloud\s+✗ 失败 FAILED/);
      assert.match(human.stdout, /原文 verbatim: .*服务端执行出现异常（模拟故障）/);
      assert.match(human.stdout, /总体 Overall: ✗ 不健康 unhealthy/);
    } finally {
      stack.k3.setFaults({});
    }
  });

  it('Fxiaoke refusing (no Open API quota): unhealthy, errorCode and message verbatim', async () => {
    stack.fx.setFaults({ noQuotaPurchased: true });
    try {
      const { run, doc } = await status();
      assert.equal(run.code, 1);
      const fx = check(doc, 'fxiaoke');
      assert.equal(fx.level, 'fail');
      assert.equal(fx.error?.kind, 'config');
      assert.ok(
        fx.error?.remoteMessages.some((m) => m.includes('客户没有购买openapi配额')),
        JSON.stringify(fx.error),
      );
    } finally {
      stack.fx.setFaults({});
    }
  });

  it('a message in a dead-letter queue: unhealthy until it is gone', async () => {
    const dlq = 'test-crm-write-back-dlq.fifo';
    stack.sqsEngine.send(dlq, {
      body: '{"kind":"write-back"}',
      groupId: 'AccountObj:x',
      dedupId: 'status-test',
    });
    try {
      const { run, doc } = await status();
      assert.equal(run.code, 1);
      assert.equal(check(doc, 'queues').level, 'fail');
      assert.match(check(doc, 'queues').detail, /fxk3 replay --dlq/);
      assert.equal(doc.queues.find((q) => q.flow === 'crm-write-back')?.deadLetterQueue?.visible, 1);
    } finally {
      stack.sqsEngine.purge(dlq);
    }
    assert.equal((await status()).run.code, 0);
  });

  it('failed records: counted by flow and error code as a warning (exit code stays 0)', async () => {
    // A customer level the dictionary does not map (unmapped: error): a final mapping failure of this record.
    const text = JSON.stringify(exampleConfigData());
    assert.ok(text.includes(',"3":"KHLB001_SYS"'));
    await stack.useConfig(
      z.record(z.string(), z.unknown()).parse(JSON.parse(text.replace(',"3":"KHLB001_SYS"', ''))),
    );
    const { dataId } = await stack.fx.edit({
      apiName: 'AccountObj',
      fields: { name: '盐城黄海农机有限公司', account_level: '3' },
    });
    await stack.settle();
    const { run, doc } = await status();
    assert.equal(run.code, 0);
    assert.equal(check(doc, 'failures').level, 'warn');
    const group = doc.failures?.groups.find((g) => g.flow === 'account-to-customer');
    assert.ok(group, JSON.stringify(doc.failures));
    assert.equal(group.records, 1);
    assert.equal(group.unresolved, 1);
    const human = await fxk3(stack, ['status']);
    assert.match(human.stdout, new RegExp(`account-to-customer\\s+${group.code}\\s+1\\s+1\\s+1`));
    assert.match(human.stdout, new RegExp(`AccountObj:${dataId}`));
  });

  it('a broken mapping config: the exact key named, connectivity not checked, exit code 1', async () => {
    const path = join(tmpdir(), `fxk3-status-bad-${Date.now()}.yaml`);
    writeFileSync(path, 'version: 1\nerp:\n  orgNumber: "100"\n  orgNumbr: "101"\n');
    const { run, doc } = await status({ SYNC_CONFIG_PATH: path });
    assert.equal(run.code, 1);
    const settings = check(doc, 'settings');
    assert.equal(settings.level, 'fail');
    assert.ok(
      settings.error?.problems?.some((p) => p.includes('erp.orgNumbr')),
      JSON.stringify(settings.error),
    );
    assert.equal(check(doc, 'k3cloud').level, 'skip');
    assert.equal(check(doc, 'queues').level, 'ok', 'queues are still checked');
  });
});
