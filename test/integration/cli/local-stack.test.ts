/**
 * The CLI against the real local stack, as an implementer uses it: `npm start` (sandbox mode, temporary data
 * directory, free ports) as one child process, and `npx fxk3 …` — the package's own bin — as others. The CLI
 * finds the stack through `LOCAL_DATA_DIR` alone; a backfill of the demo accounts is synced by the stack's own
 * pollers, and a second backfill creates nothing twice.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { runCli } from '../../../cli/main.ts';

const root = fileURLToPath(new URL('../../../', import.meta.url));

const stateSchema = z.object({
  pid: z.number(),
  ready: z.boolean(),
  endpoints: z.object({ gateway: z.string(), k3cloud: z.string(), fxiaoke: z.string() }).loose(),
});

const records = z.array(z.object({ id: z.number(), values: z.record(z.string(), z.unknown()) }));

/** The environment of every child: this machine's, minus anything that would point elsewhere. */
function childEnv(dataDir: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value === undefined) continue;
    if (/^(STATE_TABLE_|SYNC_|SSM_|K3CLOUD_|FXIAOKE_|LOCAL_|AWS_ENDPOINT_URL)/.test(key)) continue;
    env[key] = value;
  }
  return {
    ...env,
    LOCAL_DATA_DIR: dataDir,
    LOCAL_ENV_FILE: join(dataDir, 'no.env'),
    PORT: '0',
    HOST: '127.0.0.1',
    K3CLOUD_EMULATOR_PORT: '0',
    FXIAOKE_EMULATOR_PORT: '0',
    LOCAL_SCHEDULES: 'off',
    LOCAL_STAGE: 'local',
    LOCAL_ISOLATION: 'worker',
    LOCAL_CONTROL: 'on',
    // Small CI machines: fewer pollers per queue.
    LOCAL_SQS_MAX_CONCURRENCY: '2',
  };
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(100);
  }
}

/** `npx fxk3 <argv>` in the repository, as an operator types it. */
async function npxFxk3(argv: string[], env: Record<string, string>) {
  const child = spawn('npx', ['fxk3', ...argv], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString('utf8');
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
  });
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  return { code, stdout, stderr };
}

describe('fxk3 against npm start (child processes)', () => {
  let dataDir: string;
  let env: Record<string, string>;
  let stack: ChildProcess | undefined;
  let output = '';
  let state: z.output<typeof stateSchema>;

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'fxk3-cli-local-'));
    env = childEnv(dataDir);
    stack = spawn('npm', ['start'], { cwd: root, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    stack.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
    });
    stack.stderr?.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
    });
    const file = join(dataDir, 'local-stack.json');
    state = await until(
      'npm start to be ready',
      async () => {
        if (stack?.exitCode !== null) throw new Error(`npm start exited:\n${output.slice(-3000)}`);
        if (!existsSync(file)) return undefined;
        const parsed = stateSchema.safeParse(JSON.parse(readFileSync(file, 'utf8')));
        return parsed.success && parsed.data.ready ? parsed.data : undefined;
      },
      120_000,
    );
  });
  after(async () => {
    if (stack?.pid !== undefined && stack.exitCode === null) {
      const closed = new Promise((resolve) => stack?.once('close', resolve));
      try {
        process.kill(-stack.pid, 'SIGTERM');
      } catch {
        // already gone
      }
      await closed;
    }
    rmSync(dataDir, { recursive: true, force: true });
  });

  const get = async (url: string): Promise<unknown> => {
    const response = await fetch(url);
    return await response.json();
  };
  const erpCustomersOf = async (crmId: string) =>
    records
      .parse(await get(`${new URL(state.endpoints.k3cloud).origin}/__emulator/records/BD_Customer`))
      .filter((r) => r.values.F_FXK_CrmId === crmId).length;
  const demoAccounts = async () =>
    z
      .array(z.looseObject({ _id: z.string() }))
      .parse(await get(`${state.endpoints.fxiaoke}/__emulator/records/AccountObj`))
      .map((a) => a._id);

  it('npx fxk3 status: the local sandbox stack, healthy, exit code 0', async () => {
    const run = await npxFxk3(['status', '--json'], env);
    assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}`);
    const doc = z
      .object({
        healthy: z.boolean(),
        deployment: z.object({ kind: z.string(), label: z.string(), stage: z.string() }).loose(),
        queues: z.array(z.object({ queue: z.object({ name: z.string() }).loose() }).loose()),
      })
      .parse(JSON.parse(run.stdout));
    assert.equal(doc.healthy, true);
    assert.deepEqual([doc.deployment.kind, doc.deployment.stage], ['local', 'local']);
    assert.match(doc.deployment.label, /沙箱模式 \/ sandbox mode/);
    assert.equal(doc.queues[0]?.queue.name, 'fxiaoke-k3cloud-sync-local-account-to-customer.fifo');
  });

  it('dry-run in this process, then npx fxk3 backfill: the stack’s pollers sync every demo account, then the demo order, once', async () => {
    const accounts = await demoAccounts();
    assert.ok(accounts.length >= 3);
    let out = '';
    const dry = await runCli(['dry-run', 'AccountObj', accounts[0] ?? '', '--json'], {
      stdout: (text) => {
        out += text;
      },
      stderr: () => {},
      env,
    });
    assert.equal(dry.valueOf(), 0);
    assert.equal(JSON.parse(out).results[0].verdict, 'create');

    const run = await npxFxk3(['backfill', 'AccountObj'], env);
    assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}`);
    assert.match(run.stdout, new RegExp(`已入队 Queued\\s+${accounts.length}`));
    assert.match(run.stderr, /第 1 页 page 1/);
    await until('every demo account in the ERP', async () => {
      const found = await Promise.all(accounts.map((id) => erpCustomersOf(id)));
      return found.every((n) => n > 0) ? found : undefined;
    });
    const drained = () =>
      until('the queue to drain', async () => {
        const status = z
          .object({
            queues: z.array(z.object({ name: z.string(), visible: z.number(), inFlight: z.number() })),
          })
          .parse(await get(`${state.endpoints.gateway}/__local/status`));
        return status.queues.every((q) => q.visible === 0 && q.inFlight === 0) ? true : undefined;
      });
    // Rows per customer once the flow is done with it (created in one organisation, then allocated to the
    // others: counted before the allocation, a customer would seem to grow).
    await drained();
    const counts = await Promise.all(accounts.map((id) => erpCustomersOf(id)));

    // A new run sends every account again; the flow links them, it creates nothing.
    const again = await npxFxk3(['backfill', 'AccountObj', '--run', 'again', '--json'], env);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(JSON.parse(again.stdout).queued, accounts.length);
    await drained();
    assert.deepEqual(await Promise.all(accounts.map((id) => erpCustomersOf(id))), counts);

    // The demo sales order, whose customer is now in the ERP.
    const [order] = z
      .array(z.looseObject({ _id: z.string() }))
      .parse(await get(`${state.endpoints.fxiaoke}/__emulator/records/SalesOrderObj`))
      .map((o) => o._id);
    assert.ok(order);
    const orders = await npxFxk3(['backfill', 'SalesOrderObj', '--json'], env);
    assert.equal(orders.code, 0, orders.stderr);
    assert.equal(JSON.parse(orders.stdout).flow, 'sales-order-to-sale-order');
    await until('the demo order in the ERP', async () => {
      const found = records
        .parse(await get(`${new URL(state.endpoints.k3cloud).origin}/__emulator/records/SAL_SaleOrder`))
        .filter((r) => r.values.F_FXK_CrmId === order);
      return found.length === 1 ? found : undefined;
    });

    const human = await npxFxk3(['status'], env);
    assert.equal(human.code, 0, human.stdout);
    assert.match(human.stdout, /account-to-customer\s+\d{4}-\d{2}-\d{2}T/);
  });
});
