/**
 * `runCli` as a function: exit codes and what an operator sees when there is nothing to run against — no
 * network, no stack (a local stack that is not running, or whose process is gone).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli } from '../../../cli/main.ts';

async function cli(argv: string[], env: Record<string, string> = {}) {
  let stdout = '';
  let stderr = '';
  const code = await runCli(argv, {
    stdout: (text) => {
      stdout += text;
    },
    stderr: (text) => {
      stderr += text;
    },
    env,
  });
  return { code, stdout, stderr };
}

describe('runCli', () => {
  let dataDir: string;
  let env: Record<string, string>;
  before(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'fxk3-cli-unit-'));
    env = { LOCAL_DATA_DIR: dataDir, LOCAL_ENV_FILE: join(dataDir, 'no.env') };
  });
  after(() => {
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('help: exit code 0, the commands in both languages', async () => {
    const run = await cli(['--help']);
    assert.equal(run.code, 0);
    assert.match(run.stdout, /用法 \/ Usage:\s+npx fxk3/);
    assert.match(run.stdout, /backfill <apiName>/);
    assert.match((await cli(['help', 'dry-run'])).stdout, /NeedUpDateFields/);
  });

  it('bad arguments: exit code 2, the problem and the command’s usage on stderr; --json gets the error too', async () => {
    const run = await cli(['replay', '--record', 'nope']);
    assert.equal(run.code, 2);
    assert.equal(run.stdout, '');
    assert.match(run.stderr, /--record 应为 <对象>:<id>.*\/ --record must be <object>:<id>/);
    assert.match(run.stderr, /npx fxk3 replay --dlq <flow>/);
    assert.match(run.stderr, /更多 \/ more: npx fxk3 help replay/);
    const json = await cli(['dry-run', 'x', '--json']);
    assert.equal(json.code, 2);
    assert.equal(JSON.parse(json.stdout).error.code, 'CLI_USAGE');
  });

  it('no deployment to talk to: exit code 1, what to do, no stack trace', async () => {
    const run = await cli(['status'], env);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /找不到要连接的部署 \/ no deployment to talk to/);
    assert.match(run.stderr, /npm start/);
    assert.match(run.stderr, /代码 code: CLI_NO_STACK/);
    assert.doesNotMatch(run.stderr, /\n\s+at /);
  });

  it('a local stack whose process is gone: said so', async () => {
    writeFileSync(
      join(dataDir, 'local-stack.json'),
      JSON.stringify({
        pid: 2_147_483_646,
        ready: true,
        mode: { k3: 'sandbox', fx: 'sandbox' },
        endpoints: { sqs: 'http://127.0.0.1:1', dynamodb: 'http://127.0.0.1:2', ssm: 'http://127.0.0.1:3' },
      }),
    );
    const run = await cli(['backfill', 'AccountObj', '--json'], env);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /pid 2147483646\) is no longer running/);
    assert.equal(JSON.parse(run.stdout).error.code, 'CLI_NO_STACK');
  });
});
