import assert from 'node:assert/strict';
import { getPriority } from 'node:os';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  createInvoker,
  type FunctionInvoker,
  type InvocableFunction,
} from '../../../infra/local/runtime/lambda/invoker.ts';

const handlerPath = (name: string) =>
  fileURLToPath(new URL(`../../fixtures/local-runtime/handlers/${name}.ts`, import.meta.url));

/** A field of a handler's JSON result. */
function prop(value: unknown, key: string): unknown {
  const field: unknown = typeof value === 'object' && value !== null ? Reflect.get(value, key) : undefined;
  return field;
}

function fn(overrides: Partial<InvocableFunction> = {}): InvocableFunction {
  return {
    name: 'fixture-misc',
    modulePath: handlerPath('misc'),
    exportName: 'handler',
    memoryMb: 256,
    timeoutSec: 10,
    ...overrides,
  };
}

describe('function invoker', () => {
  const opened: FunctionInvoker[] = [];
  const open = (...args: Parameters<typeof createInvoker>) => {
    const invoker = createInvoker(...args);
    opened.push(invoker);
    return invoker;
  };
  after(() => Promise.all(opened.map((invoker) => invoker.close())));
  const base = { region: 'us-east-1', accountId: '000000000000' };

  describe('worker isolation', () => {
    it('gives each function its own environment and module scope, and a Lambda context', async () => {
      const a = open({
        ...base,
        fn: fn({ name: 'fn-a' }),
        env: { FIXTURE_VALUE: 'A', AWS_LAMBDA_FUNCTION_NAME: 'fn-a' },
        isolation: 'worker',
      });
      const b = open({ ...base, fn: fn({ name: 'fn-b' }), env: { FIXTURE_VALUE: 'B' }, isolation: 'worker' });
      assert.equal(await a.warm(), undefined);
      const [ra, rb] = await Promise.all([a.invoke({ mode: 'env' }), b.invoke({ mode: 'env' })]);
      assert.ok(ra.ok && rb.ok);
      assert.deepEqual(ra.value, {
        value: 'A',
        functionName: 'fn-a',
        lambdaName: 'fn-a',
        remainingPositive: true,
        loadedAt: prop(ra.value, 'loadedAt'),
      });
      assert.equal(prop(rb.value, 'value'), 'B');
      assert.equal(process.env.FIXTURE_VALUE, undefined, 'the main process environment is untouched');
      const again = await a.invoke({ mode: 'env' });
      assert.ok(again.ok);
      assert.equal(prop(again.value, 'loadedAt'), prop(ra.value, 'loadedAt'), 'warm container reused');
    });

    it('runs a background function at the lower scheduling priority asked for, without touching the stack (Linux)', {
      skip: process.platform !== 'linux' && 'nice values are per thread on Linux only',
    }, async () => {
      const before = getPriority(0);
      const background = open({ ...base, fn: fn({ name: 'fn-bg' }), env: {}, isolation: 'worker', nice: 7 });
      const normal = open({ ...base, fn: fn({ name: 'fn-fg' }), env: {}, isolation: 'worker' });
      const [bg, fg] = await Promise.all([
        background.invoke({ mode: 'nice' }),
        normal.invoke({ mode: 'nice' }),
      ]);
      assert.ok(bg.ok && fg.ok);
      assert.equal(prop(bg.value, 'nice'), Math.min(19, before + 7));
      assert.equal(prop(fg.value, 'nice'), before);
      assert.equal(getPriority(0), before, 'the main thread keeps its priority');
    });

    it('returns handler errors as Lambda error payloads and JSON-serialises results', async () => {
      const invoker = open({ ...base, fn: fn(), env: {}, isolation: 'worker' });
      const failed = await invoker.invoke({ mode: 'nope' });
      assert.equal(failed.ok, false);
      assert.ok(!failed.ok);
      assert.equal(failed.kind, 'handler');
      assert.equal(failed.error.errorType, 'TypeError');
      assert.equal(failed.error.errorMessage, 'fixture: unknown mode nope');
      const undef = await invoker.invoke({ mode: 'undefined' });
      assert.ok(undef.ok);
      assert.equal(undef.value, null);
      const date = await invoker.invoke({ mode: 'date' });
      assert.ok(date.ok);
      assert.deepEqual(date.value, { at: '1970-01-01T00:00:00.000Z' });
    });

    it('supports callback-style handlers', async () => {
      const invoker = open({
        ...base,
        fn: fn({ exportName: 'callbackHandler' }),
        env: {},
        isolation: 'worker',
      });
      const result = await invoker.invoke({ value: 'x' });
      assert.ok(result.ok);
      assert.deepEqual(result.value, { via: 'callback', value: 'x' });
    });

    it('times out a slow invocation and serves the next one from a fresh container', async () => {
      const invoker = open({ ...base, fn: fn({ timeoutSec: 0.2 }), env: {}, isolation: 'worker' });
      const first = await invoker.invoke({ mode: 'env' });
      assert.ok(first.ok);
      const slow = await invoker.invoke({ mode: 'sleep', sleepMs: 5_000 });
      assert.ok(!slow.ok);
      assert.equal(slow.kind, 'timeout');
      assert.equal(slow.error.errorType, 'Sandbox.Timedout');
      const next = await invoker.invoke({ mode: 'env' });
      assert.ok(next.ok);
      assert.notEqual(prop(next.value, 'loadedAt'), prop(first.value, 'loadedAt'));
    });

    it('fails in-flight invocations when the container crashes, then starts a new one', async () => {
      const invoker = open({ ...base, fn: fn(), env: {}, isolation: 'worker' });
      const crashed = await invoker.invoke({ mode: 'crash' });
      assert.ok(!crashed.ok);
      assert.equal(crashed.kind, 'crash');
      assert.match(crashed.error.errorMessage, /fixture crash outside the promise/);
      const next = await invoker.invoke({ mode: 'env' });
      assert.ok(next.ok);
    });

    it('reports init failures (module throws, export missing) and retries init next time', async () => {
      const broken = open({
        ...base,
        fn: fn({ modulePath: handlerPath('broken') }),
        env: {},
        isolation: 'worker',
      });
      const init = await broken.warm();
      assert.equal(init?.errorType, 'Runtime.ImportModuleError');
      assert.match(init?.errorMessage ?? '', /fixture module init failed on purpose/);
      const result = await broken.invoke({});
      assert.ok(!result.ok);
      assert.equal(result.kind, 'init');
      const missing = open({ ...base, fn: fn({ exportName: 'notAFunction' }), env: {}, isolation: 'worker' });
      assert.equal((await missing.warm())?.errorType, 'Runtime.HandlerNotFound');
    });
  });

  describe('inline', () => {
    it('runs on the main thread with the same result and error shapes', async () => {
      const invoker = open({ ...base, fn: fn({ timeoutSec: 0.2 }), env: {}, isolation: 'inline' });
      const ok = await invoker.invoke({ mode: 'date' });
      assert.ok(ok.ok);
      assert.deepEqual(ok.value, { at: '1970-01-01T00:00:00.000Z' });
      const failed = await invoker.invoke({ mode: 'nope' });
      assert.ok(!failed.ok);
      assert.equal(failed.error.errorType, 'TypeError');
      const slow = await invoker.invoke({ mode: 'sleep', sleepMs: 400 });
      assert.ok(!slow.ok);
      assert.equal(slow.kind, 'timeout');
      const broken = open({
        ...base,
        fn: fn({ modulePath: handlerPath('broken') }),
        env: {},
        isolation: 'inline',
      });
      assert.equal((await broken.warm())?.errorType, 'Runtime.ImportModuleError');
    });
  });
});
