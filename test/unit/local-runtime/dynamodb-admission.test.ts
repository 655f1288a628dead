/** The embedded DynamoDB engine's admission rules (infra/local/runtime/dynamodb-admission.ts). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DynamoAdmission } from '../../../infra/local/runtime/dynamodb-admission.ts';

/** Queue `n` background requests; returns the order they started in and their `end` functions. */
function queue(admission: DynamoAdmission, n: number, label = 'bg') {
  const started: string[] = [];
  const ends = new Map<string, () => void>();
  for (let i = 0; i < n; i++) {
    const id = `${label}-${i}`;
    admission.background((end) => {
      started.push(id);
      ends.set(id, end);
    });
  }
  return { started, end: (id: string) => ends.get(id)?.() };
}

describe('embedded DynamoDB admission', () => {
  it('starts background requests `idle` at a time, in arrival order', () => {
    const admission = new DynamoAdmission({ idle: 3, busy: 1 });
    const bg = queue(admission, 5);
    assert.deepEqual(bg.started, ['bg-0', 'bg-1', 'bg-2']);
    bg.end('bg-1');
    assert.deepEqual(bg.started, ['bg-0', 'bg-1', 'bg-2', 'bg-3']);
    bg.end('bg-1'); // a second end of the same request counts once
    assert.equal(admission.running, 3);
    assert.equal(admission.waiting, 1);
  });

  it('while a priority request is in flight, starts background requests `busy` at a time — never none', () => {
    const admission = new DynamoAdmission({ idle: 4, busy: 1 });
    const endPriority = admission.priority();
    const bg = queue(admission, 4);
    assert.deepEqual(bg.started, ['bg-0'], 'one keeps the queues moving');
    bg.end('bg-0');
    assert.deepEqual(bg.started, ['bg-0', 'bg-1']);
    const endSecond = admission.priority();
    endPriority();
    assert.equal(admission.running, 1, 'another priority request is still in flight');
    endSecond();
    assert.deepEqual(bg.started, ['bg-0', 'bg-1', 'bg-2', 'bg-3'], 'all start once the webhook is answered');
  });

  it('lets requests already started finish when a priority request arrives', () => {
    const admission = new DynamoAdmission({ idle: 4, busy: 1 });
    const bg = queue(admission, 6);
    assert.equal(admission.running, 4);
    const endPriority = admission.priority();
    bg.end('bg-0');
    bg.end('bg-1');
    assert.equal(admission.running, 2, 'nothing new starts above the busy limit');
    bg.end('bg-2');
    bg.end('bg-3');
    assert.deepEqual(bg.started, ['bg-0', 'bg-1', 'bg-2', 'bg-3', 'bg-4']);
    endPriority();
    assert.deepEqual(bg.started, ['bg-0', 'bg-1', 'bg-2', 'bg-3', 'bg-4', 'bg-5']);
  });

  it('0 = no idle limit; busy is capped by idle; busy below 1 is refused', () => {
    const unlimited = new DynamoAdmission({ idle: 0, busy: 2 });
    assert.equal(queue(unlimited, 50).started.length, 50);
    const capped = new DynamoAdmission({ idle: 2, busy: 5 });
    capped.priority();
    assert.equal(queue(capped, 4).started.length, 2);
    assert.throws(() => new DynamoAdmission({ idle: 4, busy: 0 }), RangeError);
  });
});
