/**
 * The naive baseline: what the scripts shared in the Kingdee and Fxiaoke communities do — for every record,
 * one at a time, log in with ValidateUser, then Save. No session reuse, no batching, no look-up by external
 * key (so no protection against duplicates either), raw HTTP with the cookie of that login.
 *
 * Run on its own against any K3Cloud emulator (or test data centre):
 *   node --import tsx bench/naive.ts --url http://127.0.0.1:8090/k3cloud/ --records 200
 * The benchmark (`npm run bench`) runs it against the same emulator, with the same latency, as the stack.
 */
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { K3CLOUD_SANDBOX_IDENTITY } from '../lib/k3cloud/config.ts';

const SERVICE = 'Kingdee.BOS.WebApi.ServicesStub.';
/** LoginResultType 1 = success (spec §2.1). */
const LOGIN_OK = 1;

const loginSchema = z.object({ LoginResultType: z.number(), Message: z.string().nullish() });
const saveSchema = z.object({
  Result: z.object({
    ResponseStatus: z.object({
      IsSuccess: z.boolean(),
      Errors: z.array(z.object({ Message: z.string().nullish() })).nullish(),
    }),
  }),
});

export interface NaiveOptions {
  /** K3Cloud site root ending in `/k3cloud/`. */
  url: string;
  records: number;
  acctId?: string;
  username?: string;
  password?: string;
  /** Distinguishes this run's records (their F_FXK_CrmId and names). */
  runId?: string;
}

export interface NaiveResult {
  records: number;
  saved: number;
  failed: number;
  logins: number;
  calls: number;
  elapsedMs: number;
  recordsPerSecond: number;
  /** Login + Save per record, ms. */
  latenciesMs: number[];
  firstError?: string;
}

/** Cookies of a response as one `Cookie` header value (name=value pairs only). */
function cookieHeader(response: Response): string {
  return response.headers
    .getSetCookie()
    .map((cookie) => cookie.split(';')[0] ?? '')
    .filter((pair) => pair.includes('='))
    .join('; ');
}

/**
 * Run the baseline: `records` customers, each with its own login.
 *
 * @throws {Error} when the server cannot be reached at all.
 */
export async function runNaiveBaseline(options: NaiveOptions): Promise<NaiveResult> {
  const acctID = options.acctId ?? K3CLOUD_SANDBOX_IDENTITY.K3CLOUD_ACCT_ID;
  const username = options.username ?? K3CLOUD_SANDBOX_IDENTITY.K3CLOUD_USERNAME;
  const password = options.password ?? K3CLOUD_SANDBOX_IDENTITY.K3CLOUD_PASSWORD;
  const runId = options.runId ?? Date.now().toString(36);
  const base = options.url.endsWith('/') ? options.url : `${options.url}/`;
  const post = (service: string, body: unknown, cookie?: string) =>
    fetch(`${base}${SERVICE}${service}.common.kdsvc`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(cookie ? { cookie } : {}) },
      body: JSON.stringify(body),
    });

  const latenciesMs: number[] = [];
  let saved = 0;
  let failed = 0;
  let logins = 0;
  let calls = 0;
  let firstError: string | undefined;
  const started = performance.now();
  for (let i = 0; i < options.records; i += 1) {
    const recordStarted = performance.now();
    // 1. Log in (again) — the scripts keep no session between records.
    const login = await post('AuthService.ValidateUser', { acctID, username, password, lcid: 2052 });
    calls += 1;
    const loginBody = loginSchema.safeParse(await login.json());
    if (!loginBody.success || loginBody.data.LoginResultType !== LOGIN_OK) {
      failed += 1;
      firstError ??= `ValidateUser: ${loginBody.success ? (loginBody.data.Message ?? loginBody.data.LoginResultType) : 'unexpected answer'}`;
      continue;
    }
    logins += 1;
    // 2. Save the customer, blindly (a lost answer here would create a duplicate on the next run).
    const model = {
      FCUSTID: 0,
      FName: `朴素基线客户 naive ${runId} ${String(i).padStart(4, '0')}`,
      FCreateOrgId: { FNumber: '100' },
      FUseOrgId: { FNumber: '100' },
      F_FXK_CrmId: `naive-${runId}-${i}`,
    };
    const save = await post(
      'DynamicFormService.Save',
      { formid: 'BD_Customer', data: JSON.stringify({ Model: model }) },
      cookieHeader(login),
    );
    calls += 1;
    const saveBody = saveSchema.safeParse(await save.json());
    if (saveBody.success && saveBody.data.Result.ResponseStatus.IsSuccess) {
      saved += 1;
    } else {
      failed += 1;
      firstError ??= `Save: ${saveBody.success ? (saveBody.data.Result.ResponseStatus.Errors?.[0]?.Message ?? 'failed') : 'unexpected answer'}`;
    }
    latenciesMs.push(performance.now() - recordStarted);
  }
  const elapsedMs = performance.now() - started;
  return {
    records: options.records,
    saved,
    failed,
    logins,
    calls,
    elapsedMs,
    recordsPerSecond: saved / (elapsedMs / 1000),
    latenciesMs,
    ...(firstError === undefined ? {} : { firstError }),
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      url: { type: 'string' },
      records: { type: 'string', default: '200' },
    },
  });
  if (!values.url) {
    process.stderr.write(
      '用法 / usage: node --import tsx bench/naive.ts --url <k3cloud site root> [--records 200]\n',
    );
    process.exit(2);
  }
  const result = await runNaiveBaseline({ url: values.url, records: Number(values.records) });
  const { latenciesMs: _latencies, ...summary } = result;
  process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  });
}
