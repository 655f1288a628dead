import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { K3CloudError } from '../../../lib/k3cloud/errors.ts';
import { mapLimited, runBatched } from '../../../lib/sync/k3-batch.ts';

/** A K3 Audit refusing some numbers, as K3 answers a multi-number call (spec §3.3 rows, captured shape). */
function auditOf(refused: ReadonlySet<string>) {
  const calls: string[][] = [];
  const operation = async (numbers: readonly string[]) => {
    calls.push([...numbers]);
    const bad = numbers.filter((n) => refused.has(n));
    if (bad.length === 0) return;
    throw new K3CloudError(`单据编号为“${bad[0]}”的客户，单据已经审核！`, {
      kind: 'business',
      fault: 'caller',
      code: 'K3_MSGCODE_11',
      operation: 'Audit',
      formId: 'BD_Customer',
      remoteMessages: bad.map((n) => `单据编号为“${n}”的客户，单据已经审核！`),
      successEntities: numbers
        .filter((n) => !refused.has(n))
        .map((n) => ({ id: null, number: n, dIndex: null })),
    });
  };
  return { calls, operation };
}

describe('sync/k3-batch runBatched', () => {
  it('one call for the whole batch when K3 accepts it', async () => {
    const { calls, operation } = auditOf(new Set());
    assert.equal((await runBatched(['C1', 'C2', 'C3'], operation)).size, 0);
    assert.deepEqual(calls, [['C1', 'C2', 'C3']]);
  });

  it('isolates a business refusal: bills K3 processed are done, the rest get their own call and verdict', async () => {
    const { calls, operation } = auditOf(new Set(['C2']));
    const failures = await runBatched(['C1', 'C2', 'C3'], operation);
    assert.deepEqual([...failures.keys()], ['C2']);
    assert.match(failures.get('C2')?.remoteMessages[0] ?? '', /C2/);
    assert.deepEqual(calls, [['C1', 'C2', 'C3'], ['C2']], 'only the unprocessed bill is sent again');
  });

  it('never re-sends after a transient or unknown failure: every bill of the call reports it', async () => {
    const calls: string[][] = [];
    const failures = await runBatched(['C1', 'C2'], async (numbers) => {
      calls.push([...numbers]);
      throw new K3CloudError('lost', {
        kind: 'outcome-unknown',
        fault: 'theirs',
        code: 'K3_OUTCOME_UNKNOWN',
        operation: 'Audit',
      });
    });
    assert.deepEqual([...failures.keys()], ['C1', 'C2']);
    assert.equal(failures.get('C1')?.kind, 'outcome-unknown');
    assert.equal(calls.length, 1);
  });

  it('sends nothing for an empty batch and de-duplicates keys', async () => {
    const { calls, operation } = auditOf(new Set());
    await runBatched([], operation);
    await runBatched(['C1', 'C1'], operation);
    assert.deepEqual(calls, [['C1']]);
  });
});

describe('sync/k3-batch mapLimited', () => {
  it('keeps input order and never runs more than the limit at once', async () => {
    let running = 0;
    let peak = 0;
    const out = await mapLimited([5, 1, 4, 2, 3], 2, async (n) => {
      running += 1;
      peak = Math.max(peak, running);
      await new Promise((resolve) => setImmediate(resolve));
      running -= 1;
      return n * 10;
    });
    assert.deepEqual(out, [50, 10, 40, 20, 30]);
    assert.equal(peak, 2);
  });
});
