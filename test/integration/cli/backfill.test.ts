/**
 * `fxk3 backfill` against both emulators, dynalite and the local SQS service: N existing CRM accounts become
 * N change events (two Fxiaoke query calls for 150 records), the real flow then creates one ERP customer per
 * account — linking the one that already existed in the ERP — and neither a re-run of the same backfill nor a
 * new run creates a duplicate; `--limit` stops, the stored progress and `--after` resume, `--since` filters.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { z } from 'zod';
import { exampleConfigData, SyncStack } from '../sync/harness.ts';
import { fxk3, jsonOf } from './support.ts';

const QUERY_PATH = '/cgi/crm/v2/data/query';
const N = 150;

const backfillSchema = z.object({
  command: z.literal('backfill'),
  runId: z.string(),
  considered: z.number(),
  queued: z.number(),
  alreadyQueued: z.number(),
  pages: z.number(),
  complete: z.boolean(),
  cursor: z.string().optional(),
});

describe('fxk3 backfill', () => {
  let stack: SyncStack;
  let ids: string[];
  let existingErpId: unknown;

  before(async () => {
    // No demo data in the CRM: exactly the N accounts below exist.
    stack = await SyncStack.start({ fxiaoke: { seed: false } });
    ids = await stack.fx.insertRecords(
      'AccountObj',
      Array.from({ length: N }, (_, i) => ({
        name: `回填测试客户 ${String(i + 1).padStart(3, '0')} 有限公司`,
        account_level: '2',
      })),
    );
    // One of them was keyed into K3 by hand before the sync existed (same external key, no link).
    const k3 = stack.k3Client();
    const saved = await k3.save({
      formId: 'BD_Customer',
      model: {
        FCUSTID: 0,
        FName: '回填测试客户 001 有限公司',
        FCreateOrgId: { FNumber: '100' },
        FUseOrgId: { FNumber: '100' },
        F_FXK_CrmId: ids[0] ?? '',
      },
    });
    existingErpId = Number(saved.id);
  });
  after(async () => {
    await stack?.close();
  });

  const queryCalls = () => stack.fx.stats().calls[QUERY_PATH] ?? 0;

  /** ERP customers (organisation 100) per CRM id. */
  async function erpCustomersByCrmId(): Promise<Map<string, unknown[]>> {
    const rows = await stack.k3Rows('BD_Customer', ['FCUSTID', 'F_FXK_CrmId'], "FUseOrgId.FNumber = '100'");
    const out = new Map<string, unknown[]>();
    for (const [fid, crmId] of rows) {
      if (typeof crmId === 'string' && crmId !== '') out.set(crmId, [...(out.get(crmId) ?? []), fid]);
    }
    return out;
  }

  async function assertOneCustomerEach(): Promise<void> {
    const customers = await erpCustomersByCrmId();
    for (const id of ids) assert.equal(customers.get(id)?.length, 1, `one ERP customer for ${id}`);
    assert.deepEqual(
      customers.get(ids[0] ?? ''),
      [existingErpId],
      'the existing ERP customer was linked, not duplicated',
    );
  }

  it(`enqueues one event per record with two Fxiaoke calls; the flow creates one ERP customer each, linking the existing one`, async () => {
    const callsBefore = queryCalls();
    const run = await fxk3(stack, ['backfill', 'AccountObj', '--json']);
    assert.equal(run.code, 0, run.stderr);
    const doc = jsonOf(run, backfillSchema);
    assert.deepEqual(
      [doc.considered, doc.queued, doc.alreadyQueued, doc.pages, doc.complete],
      [N, N, 0, 2, true],
    );
    assert.equal(doc.runId, 'all');
    assert.equal(queryCalls() - callsBefore, 2, '100 records per query call');
    assert.match(run.stderr, /第 1 页 page 1: 已入队 queued 100/);
    assert.match(run.stderr, /续传 resume: --run all --after \S+/);
    assert.equal(stack.counts('accountToCustomer').visible, N);

    const flowCallsBefore = queryCalls();
    await stack.pump('accountToCustomer', { concurrency: 4 });
    const flowCalls = queryCalls() - flowCallsBefore;
    assert.ok(flowCalls <= 8, `the flow's re-reads are coalesced (${flowCalls} query calls for ${N} events)`);
    assert.equal(stack.fx.stats().rateLimited, 0, 'never 14001');
    await assertOneCustomerEach();
  });

  it('a re-run of the same backfill enqueues nothing; a new run enqueues again and still creates no duplicate', async () => {
    const same = jsonOf(await fxk3(stack, ['backfill', 'AccountObj', '--json']), backfillSchema);
    assert.deepEqual([same.considered, same.queued], [0, 0], 'resumed after the last record');
    // Even from the start, the same run's events are known to the inbox: nothing is sent twice.
    const fromStart = jsonOf(
      await fxk3(stack, ['backfill', 'AccountObj', '--after', '0', '--json']),
      backfillSchema,
    );
    assert.deepEqual([fromStart.considered, fromStart.queued, fromStart.alreadyQueued], [N, 0, N]);
    assert.equal(stack.counts('accountToCustomer').visible, 0);

    const again = jsonOf(
      await fxk3(stack, ['backfill', 'AccountObj', '--run', 'again', '--json']),
      backfillSchema,
    );
    assert.equal(again.queued, N);
    await stack.pump('accountToCustomer', { concurrency: 4 });
    await assertOneCustomerEach();
    const newest = (await stack.syncLog('crm', 'AccountObj', ids[5] ?? '')).at(-1);
    assert.equal(newest?.outcome, 'skipped');
    assert.equal(newest?.reason, 'duplicate');
  });

  it('--limit stops, the stored progress resumes, --after starts elsewhere, --since filters by modify time', async () => {
    const sorted = [...ids].sort();
    const first = jsonOf(
      await fxk3(stack, ['backfill', 'AccountObj', '--run', 'partial', '--limit', '120', '--json']),
      backfillSchema,
    );
    assert.deepEqual([first.considered, first.complete, first.cursor], [120, false, sorted[119]]);
    const rest = jsonOf(
      await fxk3(stack, ['backfill', 'AccountObj', '--run', 'partial', '--json']),
      backfillSchema,
    );
    assert.deepEqual([rest.considered, rest.complete], [N - 120, true]);
    const elsewhere = jsonOf(
      await fxk3(stack, [
        'backfill',
        'AccountObj',
        '--run',
        'look',
        '--after',
        sorted[99] ?? '',
        '--dry-run',
        '--json',
      ]),
      backfillSchema,
    );
    assert.deepEqual([elsewhere.considered, elsewhere.queued], [N - 100, 0]);

    const cut = Date.now();
    await delay(20);
    await stack.fx.edit({ apiName: 'AccountObj', id: ids[7] ?? '', fields: { tel: '0517-80000007' } });
    const since = jsonOf(
      await fxk3(stack, [
        'backfill',
        'AccountObj',
        '--since',
        new Date(cut).toISOString(),
        '--dry-run',
        '--json',
      ]),
      backfillSchema,
    );
    assert.equal(since.considered, 1);
    await stack.settle({ writeBacks: false });
    await assertOneCustomerEach();
  });

  it('a flow that is switched off: exit code 1, naming the switch', async () => {
    const config = exampleConfigData();
    const text = JSON.stringify(config).replace(
      '"accountToCustomer":{"enabled":true',
      '"accountToCustomer":{"enabled":false',
    );
    assert.notEqual(text, JSON.stringify(config));
    await stack.useConfig(z.record(z.string(), z.unknown()).parse(JSON.parse(text)));
    const run = await fxk3(stack, ['backfill', 'AccountObj']);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /flows\.accountToCustomer\.enabled/);
    assert.match(run.stderr, /CLI_FLOW_DISABLED/);
    await stack.useConfig(exampleConfigData());
  });
});

describe('fxk3 backfill of 3 000 records under a tight Fxiaoke rate limit', () => {
  let stack: SyncStack;
  // A tenth of Fxiaoke's window so the test takes seconds: 20 calls per 2 s, on both sides.
  const LIMIT = { calls: 20, windowMs: 2_000 };

  before(async () => {
    stack = await SyncStack.start({
      fxiaoke: { seed: false, rateLimit: LIMIT },
      env: {
        FXIAOKE_RATE_LIMIT_CALLS: String(LIMIT.calls),
        FXIAOKE_RATE_LIMIT_WINDOW_MS: String(LIMIT.windowMs),
      },
    });
    for (let start = 0; start < 3_000; start += 500) {
      await stack.fx.insertRecords(
        'AccountObj',
        Array.from({ length: 500 }, (_, i) => ({ name: `批量客户 ${start + i + 1}`, account_level: '2' })),
      );
    }
  });
  after(async () => {
    await stack?.close();
  });

  it('pages through the client’s shared limiter: 31 calls, never refused with 14001, 3 000 events queued', async () => {
    const run = await fxk3(stack, ['backfill', 'AccountObj', '--json']);
    assert.equal(run.code, 0, run.stderr);
    const doc = jsonOf(run, backfillSchema);
    assert.deepEqual([doc.considered, doc.queued, doc.pages], [3_000, 3_000, 30]);
    // 30 full pages, then the empty page that ends the keyset scan.
    assert.equal(stack.fx.stats().calls[QUERY_PATH], 31);
    assert.equal(stack.fx.stats().rateLimited, 0, 'never 14001');
    assert.equal(stack.counts('accountToCustomer').visible, 3_000);
  });
});
