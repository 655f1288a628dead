/**
 * `npm run demo:edit-customer` / `npm run demo:edit-order` — "a salesperson edits a record" in the sandbox
 * CRM (the Fxiaoke emulator's control endpoint, which sends the change push like the real CRM), then waits
 * for the result to appear in the sandbox ERP (the K3Cloud emulator) and prints it.
 *
 *   npm run demo:edit-customer              edit the demo customer 北京华夏精密机械有限公司 (KH0001)
 *   npm run demo:edit-customer -- --new     create a new customer
 *   npm run demo:edit-order                 edit the demo sales order
 *   npm run demo:edit-order -- --new        create a new sales order for KH0001 with two lines
 *
 * It finds the running stack through `<data dir>/local-stack.json` (written by `npm start`).
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { environmentWithDotEnv } from './dotenv.ts';
import { STACK_STATE_FILE } from './stack.ts';

const root = fileURLToPath(new URL('../../../', import.meta.url));
/** How long to wait for the ERP record (the sync normally needs well under a second in the sandbox). */
const WAIT_FOR_ERP_MS = 30_000;
const POLL_MS = 300;

const stateSchema = z.object({
  pid: z.number(),
  mode: z.object({ k3: z.enum(['sandbox', 'real']), fx: z.enum(['sandbox', 'real']) }),
  endpoints: z.object({ k3cloud: z.string(), fxiaoke: z.string() }),
});

const crmRecords = z.array(z.looseObject({ _id: z.string() }));
const k3Records = z.array(z.object({ id: z.number(), values: z.record(z.string(), z.unknown()) }).loose());

class DemoError extends Error {}

async function json(url: string, init?: RequestInit): Promise<unknown> {
  let response: Response;
  try {
    response = await fetch(url, init);
  } catch (error) {
    throw new DemoError(
      `无法连接 ${url}：本地运行时还在运行吗？/ cannot reach ${url} — is npm start still running? (${String(error)})`,
    );
  }
  const text = await response.text();
  if (!response.ok) throw new DemoError(`${url} → HTTP ${response.status}: ${text.slice(0, 300)}`);
  return JSON.parse(text);
}

function readState(): z.output<typeof stateSchema> {
  const { env } = environmentWithDotEnv(process.env, join(root, process.env.LOCAL_ENV_FILE ?? '.env'));
  const file = join(resolve(root, env.LOCAL_DATA_DIR ?? '.data'), STACK_STATE_FILE);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    throw new DemoError(
      `本地运行时没有在运行（找不到 ${file}）。请先在另一个终端运行 npm start。/ The local stack is not running (no ${file}); run npm start in another terminal first.`,
    );
  }
  const state = stateSchema.parse(JSON.parse(text));
  if (state.mode.fx !== 'sandbox') {
    throw new DemoError(
      '演示只在纷享沙箱模式下可用（未设置 FXIAOKE_BASE_URL）/ the demo needs the Fxiaoke sandbox (FXIAOKE_BASE_URL unset)',
    );
  }
  return state;
}

async function erpRecord(
  k3Origin: string,
  formId: string,
  crmId: string,
): Promise<Record<string, unknown> | undefined> {
  const records = k3Records.parse(await json(`${k3Origin}/__emulator/records/${formId}`));
  return records.find((r) => r.values.F_FXK_CrmId === crmId)?.values;
}

async function main(): Promise<void> {
  const [command, ...flags] = process.argv.slice(2);
  if (command !== 'edit-customer' && command !== 'edit-order') {
    throw new DemoError('用法 / usage: demo.ts edit-customer|edit-order [--new]');
  }
  const createNew = flags.includes('--new');
  const state = readState();
  const fx = state.endpoints.fxiaoke.replace(/\/+$/, '');
  const k3Origin = state.mode.k3 === 'sandbox' ? new URL(state.endpoints.k3cloud).origin : undefined;
  const stamp = new Date().toISOString().slice(11, 19);
  const accounts = crmRecords.parse(await json(`${fx}/__emulator/records/AccountObj`));
  const demoAccount = accounts.find((a) => a.account_no === 'KH0001') ?? accounts[0];
  if (!demoAccount)
    throw new DemoError(
      '纷享模拟器里没有客户 / the CRM emulator has no customers (POST /__emulator/reset re-seeds it)',
    );

  let edit: {
    apiName: string;
    id?: string;
    fields: Record<string, unknown>;
    details?: Record<string, unknown[]>;
  };
  let formId: string;
  if (command === 'edit-customer') {
    formId = 'BD_Customer';
    edit = createNew
      ? {
          apiName: 'AccountObj',
          fields: {
            name: `演示客户 Demo Customer ${stamp}`,
            account_level: '2',
            account_source: '1',
            tel: '010-62889999',
            address: '北京市朝阳区演示路 1 号',
          },
        }
      : {
          apiName: 'AccountObj',
          id: demoAccount._id,
          fields: { remark: `演示修改 / demo edit at ${stamp}` },
        };
  } else {
    formId = 'SAL_SaleOrder';
    const orders = crmRecords.parse(await json(`${fx}/__emulator/records/SalesOrderObj`));
    const products = crmRecords.parse(await json(`${fx}/__emulator/records/ProductObj`));
    const product = (code: string) => products.find((p) => p.product_code === code)?._id;
    const demoOrder = orders[0];
    if (createNew || !demoOrder) {
      const first = product('WL0001');
      const second = product('WL0002');
      if (!first || !second)
        throw new DemoError('找不到演示产品 WL0001/WL0002 / demo products WL0001/WL0002 not found');
      edit = {
        apiName: 'SalesOrderObj',
        fields: { account_id: demoAccount._id, remark: `演示订单 / demo order ${stamp}` },
        details: {
          SalesOrderProductObj: [
            { product_id: first, quantity: '5', sales_price: '35.00' },
            { product_id: second, quantity: '20', sales_price: '12.50' },
          ],
        },
      };
    } else {
      edit = {
        apiName: 'SalesOrderObj',
        id: demoOrder._id,
        fields: { remark: `演示修改 / demo edit at ${stamp}` },
      };
    }
  }

  const before = k3Origin && edit.id ? await erpRecord(k3Origin, formId, edit.id) : undefined;
  const result = z.object({ dataId: z.string() }).parse(
    await json(`${fx}/__emulator/edit`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(edit),
    }),
  );
  process.stdout.write(
    `纷享 CRM: ${edit.id ? '已修改 edited' : '已创建 created'} ${edit.apiName} ${result.dataId}，变更推送已发出 / change push sent\n`,
  );
  if (!k3Origin) {
    process.stdout.write(
      '金蝶是真实租户：请在金蝶中查看结果 / K3Cloud is a real tenant: check the result there\n',
    );
    return;
  }
  const deadline = Date.now() + WAIT_FOR_ERP_MS;
  while (Date.now() < deadline) {
    const record = await erpRecord(k3Origin, formId, result.dataId);
    if (record && record.FModifyDate !== before?.FModifyDate) {
      const number = String(record.FNumber ?? record.FBillNo ?? '');
      process.stdout.write(
        `✓ 金蝶 ERP: ${formId} ${number} ${before ? '已更新 updated' : '已创建 created'}（${String(record.FName ?? record.FNote ?? '')}）\n`,
      );
      return;
    }
    await new Promise((done) => setTimeout(done, POLL_MS));
  }
  throw new DemoError(
    `${WAIT_FOR_ERP_MS / 1000} 秒内金蝶中没有出现结果；请查看 npm start 的日志（sync.record 行）/ nothing reached the ERP within ${WAIT_FOR_ERP_MS / 1000} s; see the npm start log (sync.record lines)`,
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof DemoError ? error.message : String(error)}\n`);
  process.exit(1);
});
