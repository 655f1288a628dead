/**
 * Functions bundled at start-up (`bundleFunctions`) run in worker threads without the TypeScript loader:
 * same results and environment isolation as the sources, errors with traces that still name the
 * TypeScript file (linked source maps), a module that does not build refused with esbuild's message.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { bundleFunctions } from '../../../infra/local/runtime/lambda/bundle.ts';
import { createInvoker, type FunctionInvoker } from '../../../infra/local/runtime/lambda/invoker.ts';

const handlerPath = (name: string) =>
  fileURLToPath(new URL(`../../fixtures/local-runtime/handlers/${name}.ts`, import.meta.url));

describe('bundled functions', () => {
  const root = mkdtempSync(join(tmpdir(), 'fxk3-bundle-test-'));
  const opened: FunctionInvoker[] = [];
  after(async () => {
    await Promise.all(opened.map((invoker) => invoker.close()));
    rmSync(root, { recursive: true, force: true });
  });

  it('run in a worker without the TypeScript loader, with their own environment and TypeScript traces', async () => {
    const bundles = await bundleFunctions([handlerPath('misc')], join(root, 'ok'));
    const modulePath = bundles.modules.get(handlerPath('misc')) ?? '';
    assert.ok(modulePath.endsWith('.mjs'), 'the handler became a JavaScript module');
    assert.ok(bundles.workerEntry.endsWith('.mjs'));
    const invoker = createInvoker({
      fn: {
        name: 'fn-bundled',
        modulePath: handlerPath('misc'),
        exportName: 'handler',
        memoryMb: 128,
        timeoutSec: 10,
      },
      env: { FIXTURE_VALUE: 'bundled' },
      region: 'us-east-1',
      accountId: '000000000000',
      isolation: 'worker',
      bundle: { workerEntry: bundles.workerEntry, modulePath },
    });
    opened.push(invoker);
    assert.equal(await invoker.warm(), undefined);
    const result = await invoker.invoke({ mode: 'env' });
    assert.ok(result.ok);
    assert.equal(Reflect.get(Object(result.value), 'value'), 'bundled');
    assert.equal(Reflect.get(Object(result.value), 'functionName'), 'fn-bundled');
    const failed = await invoker.invoke({ mode: 'nope' });
    assert.ok(!failed.ok);
    assert.equal(failed.error.errorType, 'TypeError');
    assert.ok(
      failed.error.trace.some((line) => line.includes('misc.ts')),
      `the trace names the TypeScript source: ${failed.error.trace.join(' | ')}`,
    );
    bundles.remove();
    assert.equal(existsSync(bundles.dir), false);
  });

  it('refuses a module that does not build, with esbuild’s message', async () => {
    await assert.rejects(
      bundleFunctions([join(root, 'missing-handler.ts')], join(root, 'bad')),
      /missing-handler/,
    );
  });
});
