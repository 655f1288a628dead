import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { FXIAOKE_SANDBOX_IDENTITY } from '../../../lib/fxiaoke/config.ts';
import { post } from './helpers.ts';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const MAIN = join(ROOT, 'infra/local/fxiaoke-emulator/main.ts');

function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith('FXIAOKE_')) env[key] = value;
  }
  return { ...env, ...extra };
}

function run(env: NodeJS.ProcessEnv): {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
} {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN], { cwd: ROOT, env });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString('utf8');
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString('utf8');
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

describe('npm run emulator:fxiaoke (main.ts)', () => {
  const dirs: string[] = [];
  after(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('prints one banner with the URL (no secrets), serves the sandbox identity, and shuts down cleanly on SIGTERM', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'fxiaoke-cli-'));
    dirs.push(dataDir);
    const proc = run(cleanEnv({ FXIAOKE_EMULATOR_PORT: '0', FXIAOKE_EMULATOR_DATA_DIR: dataDir }));
    let match: RegExpExecArray | null = null;
    while (!match) {
      match = /at (http:\/\/127\.0\.0\.1:\d+)/.exec(proc.output());
      if (!match) {
        const exitedEarly = await Promise.race([
          proc.exited,
          new Promise((r) => setTimeout(() => r('wait'), 20)),
        ]);
        assert.equal(exitedEarly, 'wait', `emulator exited early: ${proc.output()}`);
      }
    }
    const url = match[1] ?? '';
    const banner = proc.output().split('\n')[0] ?? '';
    assert.match(banner, /ea=sandbox01/);
    assert.match(banner, /rate limit 100\/20000ms/);
    assert.ok(!banner.includes(FXIAOKE_SANDBOX_IDENTITY.FXIAOKE_APP_SECRET), 'no appSecret in the banner');
    assert.ok(
      !banner.includes(FXIAOKE_SANDBOX_IDENTITY.FXIAOKE_PERMANENT_CODE),
      'no permanentCode in the banner',
    );

    const token = await post(url, '/cgi/corpAccessToken/get/V2', {
      appId: FXIAOKE_SANDBOX_IDENTITY.FXIAOKE_APP_ID,
      appSecret: FXIAOKE_SANDBOX_IDENTITY.FXIAOKE_APP_SECRET,
      permanentCode: FXIAOKE_SANDBOX_IDENTITY.FXIAOKE_PERMANENT_CODE,
    });
    assert.equal(token.errorCode, 0);
    const page = await fetch(`${url}/`);
    assert.equal(page.status, 200, 'the edit page is on');

    proc.child.kill('SIGTERM');
    assert.equal(await proc.exited, 0);
    assert.ok(existsSync(join(dataDir, 'records.snapshot.json')), 'data flushed to disk');
    assert.ok(existsSync(join(dataDir, 'tokens.json')));
    assert.match(proc.output(), /fxiaoke_emulator\.stopped/);
  });

  it('refuses bad settings with exit code 2 and the variable’s name', async () => {
    const proc = run(
      cleanEnv({ FXIAOKE_EMULATOR_RATE_LIMIT: 'fast', FXIAOKE_EMULATOR_DATA_DIR: ':memory:' }),
    );
    assert.equal(await proc.exited, 2);
    assert.match(proc.output(), /FXIAOKE_EMULATOR_RATE_LIMIT/);
  });
});
