import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { shapeDifferences } from '../../integration/k3cloud-emulator/support.ts';

describe('k3cloud emulator test support: shapeDifferences', () => {
  const capture = {
    Result: { ResponseStatus: { IsSuccess: true, Errors: [], SuccessEntitys: [{ Id: 1, Number: 'A' }] } },
  };

  it('accepts the same keys in the same order with the same types, whatever the values', () => {
    const same = {
      Result: {
        ResponseStatus: {
          IsSuccess: false,
          Errors: [],
          SuccessEntitys: [
            { Id: 9, Number: 'B' },
            { Id: 10, Number: 'C' },
          ],
        },
      },
    };
    assert.deepEqual(shapeDifferences(same, capture), []);
  });

  it('reports key order, missing or extra keys (e.g. ErrorCode on success), type changes and array emptiness', () => {
    const reordered = {
      Result: { ResponseStatus: { Errors: [], IsSuccess: true, SuccessEntitys: [{ Id: 1, Number: 'A' }] } },
    };
    assert.equal(shapeDifferences(reordered, capture).length, 1);
    const extra = {
      Result: {
        ResponseStatus: {
          ErrorCode: 500,
          IsSuccess: true,
          Errors: [],
          SuccessEntitys: [{ Id: 1, Number: 'A' }],
        },
      },
    };
    assert.match(shapeDifferences(extra, capture)[0] ?? '', /keys/);
    const stringId = {
      Result: { ResponseStatus: { IsSuccess: true, Errors: [], SuccessEntitys: [{ Id: '1', Number: 'A' }] } },
    };
    assert.deepEqual(shapeDifferences(stringId, capture), [
      '$.Result.ResponseStatus.SuccessEntitys[0].Id: expected number, got string',
    ]);
    const nonEmpty = {
      Result: { ResponseStatus: { IsSuccess: true, Errors: [{}], SuccessEntitys: [{ Id: 1, Number: 'A' }] } },
    };
    assert.equal(shapeDifferences(nonEmpty, capture).length, 1);
    assert.deepEqual(shapeDifferences(null, {}), ['$: expected object, got null']);
  });
});
