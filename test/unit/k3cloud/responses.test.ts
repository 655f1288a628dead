import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { z } from 'zod';
import { K3CloudError } from '../../../lib/k3cloud/errors.ts';
import {
  parseBatchSaveResult,
  parseBillQueryRows,
  parseDataCenterList,
  parseOperationResult,
  parsePushResult,
  parseQueryRows,
  parseSaveResult,
  parseViewResult,
} from '../../../lib/k3cloud/operations.ts';
import { type CallContext, failureFromTransport, readHttpResponse } from '../../../lib/k3cloud/responses.ts';
import { K3_OPERATIONS } from '../../../lib/k3cloud/wire.ts';

const errorExpectation = z.object({
  kind: z.string(),
  code: z.string(),
  fault: z.string().optional(),
  msgCode: z.number().optional(),
  httpStatus: z.number().optional(),
  retryAfterMs: z.number().optional(),
  fieldNames: z.array(z.string()).optional(),
  remote: z.string().optional(),
});

const caseSchema = z.object({
  name: z.string(),
  source: z.string(),
  operation: z.enum(K3_OPERATIONS),
  formId: z.string().optional(),
  httpStatus: z.number().optional(),
  inputCount: z.number().optional(),
  body: z.unknown().optional(),
  bodyText: z.string().optional(),
  expect: z.union([
    z.object({ error: errorExpectation }),
    z.object({ result: z.unknown() }),
    z.object({
      batch: z.array(
        z.object({
          ok: z.boolean(),
          id: z.string().optional(),
          number: z.string().optional(),
          code: z.string().optional(),
          fieldNames: z.array(z.string()).optional(),
        }),
      ),
    }),
  ]),
});

const fixture = z
  .object({ cases: z.array(caseSchema) })
  .parse(
    JSON.parse(
      readFileSync(new URL('../../fixtures/k3cloud/client-responses.json', import.meta.url), 'utf8'),
    ),
  );

type Case = z.infer<typeof caseSchema>;

/** Read the HTTP answer and run the operation's parser, exactly as the client does. */
function interpret(testCase: Case): unknown {
  const ctx: CallContext = { operation: testCase.operation, formId: testCase.formId };
  const bodyText = testCase.bodyText ?? JSON.stringify(testCase.body);
  const json = readHttpResponse(ctx, { status: testCase.httpStatus ?? 200, body: bodyText });
  switch (ctx.operation) {
    case 'Save':
    case 'Draft': {
      const { id, number } = parseSaveResult(ctx, json);
      return { id, number };
    }
    case 'BatchSave':
      return parseBatchSaveResult(ctx, json, testCase.inputCount ?? 1);
    case 'View':
      return parseViewResult(ctx, json);
    case 'ExecuteBillQuery':
      return parseQueryRows(ctx, json);
    case 'BillQuery':
      return parseBillQueryRows(ctx, json);
    case 'Push': {
      const result = parsePushResult(ctx, json);
      return { targets: result.targets, convertSuccess: result.convertResponseStatus?.isSuccess ?? null };
    }
    case 'GetDataCenterList':
      return parseDataCenterList(ctx, json);
    default:
      return parseOperationResult(ctx, json);
  }
}

function caught(fn: () => unknown): K3CloudError {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof K3CloudError, `expected K3CloudError, got ${String(error)}`);
    return error;
  }
  assert.fail('expected an error');
}

describe('k3cloud response classification (every recorded shape)', () => {
  for (const testCase of fixture.cases) {
    it(`${testCase.name} [${testCase.source}]`, () => {
      const { expect } = testCase;
      if ('error' in expect) {
        const error = caught(() => interpret(testCase));
        const want = expect.error;
        assert.equal(error.kind, want.kind, error.message);
        assert.equal(error.code, want.code, error.message);
        assert.equal(error.operation, testCase.operation);
        if (testCase.formId) assert.equal(error.formId, testCase.formId);
        if (want.fault) assert.equal(error.fault, want.fault);
        if (want.msgCode !== undefined) assert.equal(error.msgCode, want.msgCode);
        if (want.httpStatus !== undefined) assert.equal(error.httpStatus, want.httpStatus);
        if (want.retryAfterMs !== undefined) assert.equal(error.retryAfterMs, want.retryAfterMs);
        if (want.fieldNames) assert.deepEqual(error.fieldNames, want.fieldNames);
        if (want.remote) {
          assert.ok(
            error.remoteMessages.includes(want.remote),
            `remote messages: ${error.remoteMessages.join(' | ')}`,
          );
          assert.ok(error.message.includes(want.remote), 'K3 text is kept verbatim in the message');
        }
        // Every message is bilingual and names the call.
        assert.match(error.message, /[\u4e00-\u9fff]/);
        assert.match(error.message, /[A-Za-z]{4,}/);
        assert.ok(error.message.includes(`[${testCase.operation}`), error.message);
        assert.equal(
          error.retryable,
          ['transient', 'throttled', 'session-expired', 'internal'].includes(error.kind),
        );
      } else if ('batch' in expect) {
        const result = z
          .object({ items: z.array(z.unknown()), succeeded: z.number(), failed: z.number() })
          .parse(interpret(testCase));
        assert.equal(result.items.length, expect.batch.length);
        expect.batch.forEach((want, index) => {
          const item = result.items[index];
          assert.ok(item && typeof item === 'object' && 'ok' in item);
          assert.equal(item.ok, want.ok, `item ${index}`);
          if ('index' in item) assert.equal(item.index, index);
          if (want.ok) {
            assert.ok('id' in item && 'number' in item);
            assert.equal(item.id, want.id);
            assert.equal(item.number, want.number);
          } else {
            assert.ok('error' in item && item.error instanceof K3CloudError);
            assert.equal(item.error.code, want.code);
            if (want.fieldNames) assert.deepEqual(item.error.fieldNames, want.fieldNames);
          }
        });
        assert.equal(result.succeeded, expect.batch.filter((b) => b.ok).length);
        assert.equal(result.failed, expect.batch.filter((b) => !b.ok).length);
      } else {
        assert.deepEqual(interpret(testCase), expect.result);
      }
    });
  }

  it('a multi-number Audit that partly failed carries the successes on the error', () => {
    const ctx: CallContext = { operation: 'Audit', formId: 'SAL_SaleOrder' };
    const json = readHttpResponse(ctx, {
      status: 200,
      body: JSON.stringify({
        Result: {
          ResponseStatus: {
            ErrorCode: 500,
            IsSuccess: false,
            Errors: [{ FieldName: null, Message: '单据编号为“XSDD02”的销售订单，单据已经审核！', DIndex: 1 }],
            SuccessEntitys: [{ Id: 7, Number: 'XSDD01', DIndex: 0 }],
            SuccessMessages: [],
            MsgCode: 11,
          },
        },
      }),
    });
    const error = caught(() => parseOperationResult(ctx, json));
    assert.deepEqual(error.successEntities, [{ id: '7', number: 'XSDD01', dIndex: 0 }]);
    assert.deepEqual(error.errors, [
      { fieldName: null, message: '单据编号为“XSDD02”的销售订单，单据已经审核！', dIndex: 1 },
    ]);
  });

  it('a byte-order mark before the JSON is ignored', () => {
    const ctx: CallContext = { operation: 'ExecuteBillQuery', formId: 'BD_Currency' };
    assert.deepEqual(readHttpResponse(ctx, { status: 200, body: '\uFEFF[["CNY"]]' }), [['CNY']]);
  });

  it('the throttled delays are configurable', () => {
    const ctx: CallContext = { operation: 'Save', formId: 'BD_Customer' };
    const json = {
      Result: { ResponseStatus: { IsSuccess: false, Errors: [{ Message: '调用限制' }], MsgCode: 14 } },
    };
    const error = caught(() => parseSaveResult(ctx, json, { lockConflictMs: 1, callLimitMs: 60_000 }));
    assert.equal(error.retryAfterMs, 60_000);
  });
});

describe('k3cloud transport classification', () => {
  const save: CallContext = { operation: 'Save', formId: 'BD_Customer' };
  const query: CallContext = { operation: 'ExecuteBillQuery', formId: 'BD_Customer' };

  it('connection refused before sending is transient, even for a write', () => {
    const error = failureFromTransport(save, {
      reason: 'connect',
      sent: false,
      detail: 'ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:9',
      cause: undefined,
    });
    assert.equal(error.kind, 'transient');
    assert.equal(error.code, 'K3_CONNECTION_FAILED');
  });

  it('a timeout or reset after sending a write is outcome-unknown and says to look up first', () => {
    for (const reason of ['timeout', 'reset', 'aborted', 'other'] as const) {
      const error = failureFromTransport(save, { reason, sent: true, detail: reason, cause: undefined });
      assert.equal(error.kind, 'outcome-unknown', reason);
      assert.equal(error.code, 'K3_OUTCOME_UNKNOWN');
      assert.equal(error.retryable, false);
      assert.match(error.message, /重新发送前必须先查询/);
      assert.match(error.message, /before sending it again/);
    }
  });

  it('the same failures on a read are transient (retryable)', () => {
    assert.equal(
      failureFromTransport(query, { reason: 'timeout', sent: true, detail: 't', cause: undefined }).code,
      'K3_TIMEOUT',
    );
    assert.equal(
      failureFromTransport(query, { reason: 'reset', sent: true, detail: 'r', cause: undefined }).kind,
      'transient',
    );
  });

  it('a timeout while still queued (not sent) is transient for a write', () => {
    const error = failureFromTransport(save, {
      reason: 'timeout',
      sent: false,
      detail: 't',
      cause: undefined,
    });
    assert.equal(error.kind, 'transient');
    assert.match(error.message, /request not sent/);
  });

  it('an untrusted certificate is a configuration problem with a hint', () => {
    const error = failureFromTransport(query, {
      reason: 'tls',
      sent: false,
      detail: 'DEPTH_ZERO_SELF_SIGNED_CERT',
      cause: undefined,
    });
    assert.equal(error.kind, 'config');
    assert.match(error.message, /NODE_EXTRA_CA_CERTS/);
  });
});
