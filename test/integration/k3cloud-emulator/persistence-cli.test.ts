import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { appendFileSync, copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { SANDBOX, Session, saleOrderModel, startEmulator } from './support.ts';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

describe('k3cloud emulator: persistence and the CLI', () => {
  const dirs: string[] = [];
  const tempDir = () => {
    const dir = mkdtempSync(join(tmpdir(), 'k3emu-'));
    dirs.push(dir);
    return dir;
  };
  after(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('keeps records, statuses, entries and numbering across a restart with a dataDir', async () => {
    const dataDir = tempDir();
    const first = await startEmulator({ dataDir });
    const session = await Session.open(first.url);
    const customer = await session.save('BD_Customer', {
      FName: '持久客户',
      FCreateOrgId: { FNumber: '100' },
    });
    const order = await session.save('SAL_SaleOrder', saleOrderModel());
    await session.op('Submit', 'SAL_SaleOrder', { Numbers: [order.Result.Number] });
    const before = (await first.listRecords('SAL_SaleOrder'))[0];
    await first.close();

    const second = await startEmulator({ dataDir });
    try {
      const again = await Session.open(second.url);
      assert.deepEqual((await second.listRecords('SAL_SaleOrder'))[0], before);
      assert.equal((await second.listRecords('BD_Customer')).length, 4, 'the seed is not applied twice');
      const rows = await again.query({
        FormId: 'SAL_SaleOrder',
        FieldKeys: 'FBillNo,FDocumentStatus,FQty',
        FilterString: `FID = ${order.Result.Id}`,
      });
      assert.deepEqual(rows, [[order.Result.Number, 'B', 10]]);
      assert.equal(customer.Result.Number, 'CUST0004');
      const next = await again.save('BD_Customer', { FName: '下一个', FCreateOrgId: { FNumber: '100' } });
      assert.equal(next.Result.Number, 'CUST0005');
      assert.notEqual(next.Result.Id, customer.Result.Id);
    } finally {
      await second.close();
    }
  });

  it('replays the journal of a server that did not shut down, ignoring a torn last line', async () => {
    const dataDir = tempDir();
    const running = await startEmulator({ dataDir });
    try {
      const session = await Session.open(running.url);
      const saved = await session.save('BD_Customer', { FName: '未关机', FCreateOrgId: { FNumber: '100' } });
      assert.ok(existsSync(join(dataDir, 'k3cloud-journal.jsonl')));
      appendFileSync(join(dataDir, 'k3cloud-journal.jsonl'), '{"puts":[{"formId":"BD_Cus');
      const reader = await startEmulator({ dataDir: tempCopy(dataDir) });
      try {
        const names = (await reader.listRecords('BD_Customer')).map((r) => r.Number);
        assert.ok(names.includes(saved.Result.Number), names.join());
      } finally {
        await reader.close();
      }
    } finally {
      await running.close();
    }
  });

  /** A copy of a live data directory, as a crash would leave it (snapshot + journal, no final compaction). */
  function tempCopy(dir: string): string {
    const copy = tempDir();
    for (const file of ['k3cloud-store.json', 'k3cloud-journal.jsonl']) {
      if (existsSync(join(dir, file))) copyFileSync(join(dir, file), join(copy, file));
    }
    return copy;
  }

  it('npm run emulator:k3cloud: banner without secrets, SIGTERM flushes, the data survives a restart', async () => {
    const dataDir = tempDir();
    const run = async <T>(
      body: (url: string) => Promise<T>,
    ): Promise<{ result: T; banner: string; code: number | null }> => {
      const child = spawn(
        join(ROOT, 'node_modules/.bin/node'),
        ['--import', 'tsx', 'infra/local/k3cloud-emulator/main.ts'],
        {
          cwd: ROOT,
          env: {
            ...process.env,
            K3CLOUD_EMULATOR_PORT: '0',
            K3CLOUD_EMULATOR_DATA_DIR: dataDir,
            LOG_LEVEL: 'error',
            K3CLOUD_SERVER_URL: '',
          },
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      let output = '';
      const banner = await new Promise<string>((resolve, reject) => {
        child.stdout.on('data', (chunk: Buffer) => {
          output += chunk.toString('utf8');
          const line = output.split('\n').find((l) => l.includes('emulator listening'));
          if (line) resolve(line);
        });
        child.on('exit', (code) => reject(new Error(`emulator exited early (${code}): ${output}`)));
      });
      const url = /http:\/\/\S+\/k3cloud\//.exec(banner)?.[0] ?? '';
      const result = await body(url);
      const code = await new Promise<number | null>((resolve) => {
        child.on('exit', (exitCode) => resolve(exitCode));
        child.kill('SIGTERM');
      });
      return { result, banner, code };
    };

    const first = await run(async (url) => {
      const session = await Session.open(url);
      return session.save('BD_Customer', {
        FName: 'CLI客户',
        FCreateOrgId: { FNumber: '100' },
        F_FXK_CrmId: 'cli-1',
      });
    });
    assert.equal(first.code, 0);
    assert.match(first.banner, /acctID=5f1a2b3c4d5e6f/);
    assert.match(first.banner, /user=demo/);
    assert.ok(!first.banner.includes(SANDBOX.appSecret) && !first.banner.includes(SANDBOX.password));
    const second = await run(async (url) => {
      const session = await Session.open(url);
      return session.query({
        FormId: 'BD_Customer',
        FieldKeys: 'FNumber',
        FilterString: "F_FXK_CrmId = 'cli-1'",
      });
    });
    assert.equal(second.code, 0);
    assert.deepEqual(second.result, [[first.result.Result.Number]]);
  });
});
