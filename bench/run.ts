/**
 * `npm run bench` — the local stack against the emulators, as users run it, with a burst of CRM changes:
 *
 * 1. start the stack exactly as `npm start` does (child process, sandbox emulators, worker threads, data
 *    on disk in a temporary directory, free ports), with the emulators' network latency (default 20 ms
 *    per call) and Fxiaoke's per-interface rate limit (100 calls / 20 s) on;
 * 2. "an admin imports 1 000 customers": the Fxiaoke emulator creates them at once and sends one change
 *    push each to the webhook; wait until every one is saved in the K3Cloud emulator and its queue is empty
 *    (submitted, audited, allocated);
 * 3. the same with 1 000 sales orders of 3 lines each, for those customers and the seeded products;
 * 4. the naive baseline (`bench/naive.ts`: log in + Save per record, one at a time) against the same
 *    K3Cloud emulator with the same latency;
 * 5. print the figures and the targets, stop the stack (SIGTERM, as Ctrl-C), remove the data.
 *
 * CRM write-backs (ERP numbers back to the CRM) are limited by Fxiaoke to 100 updates / 20 s, so they are
 * not waited for: the report says how many were still queued when the ERP side was done.
 *
 * Before 2, a warm-up (--warm-up N, default 40 customers and 40 orders) runs every path once on the cold
 * stack; its figures are printed on their own line, not in the measured ones or the targets.
 *
 * Options: --customers N (1000) --orders N (1000) --warm-up N (40) --naive N (200) --latency-ms N (20)
 *          --push-concurrency N (the emulator's default) --json FILE --keep-data --timeout-s N (100)
 *          --cpu-prof-dir DIR (V8 CPU profiles of every thread of the stack; see bench/profile-summary.ts)
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, freemem, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { delta, fixed, mib, quantile, table, total } from './figures.ts';
import { type NaiveResult, runNaiveBaseline } from './naive.ts';
import {
  machineCpu,
  type QueueDepth,
  requestJson,
  type StackEndpoints,
  StackProcess,
} from './stack-process.ts';

const root = fileURLToPath(new URL('../', import.meta.url));

/** The targets of issue #6 (2-core machine). */
export const TARGETS = {
  ackP99Ms: 50,
  eventsPerSecond: 100,
  loginsPer1000: 1,
  timesNaive: 4,
} as const;

const WRITE_BACK_QUEUE = /crm-write-back\.fifo$/;
const K3_KEY_FIELD = 'F_FXK_CrmId';

const fxStatsSchema = z.object({
  calls: z.record(z.string(), z.number()),
  rateLimited: z.number(),
  pushes: z.object({
    sent: z.number(),
    acknowledged: z.number(),
    abandoned: z.number(),
    pending: z.number(),
  }),
});
const k3StatsSchema = z.object({
  calls: z.record(z.string(), z.number()),
  logins: z.number(),
  signatureSessions: z.number(),
});
const tracesSchema = z.array(
  z.object({
    dataId: z.string(),
    apiName: z.string(),
    firstSentAtMs: z.number(),
    acknowledgedAtMs: z.number().optional(),
    ackMs: z.number().optional(),
    attempts: z.number(),
  }),
);
const savedSchema = z.record(z.string(), z.number());
const idsSchema = z.object({ ids: z.array(z.string()) });
const productsSchema = z.array(z.object({ _id: z.string(), product_code: z.string().nullish() }));

type FxStats = z.output<typeof fxStatsSchema>;
type K3Stats = z.output<typeof k3StatsSchema>;

export interface BenchOptions {
  customers: number;
  orders: number;
  /** Changes of each kind pushed and synced before the measured phases (0 = none). */
  warmUp: number;
  naive: number;
  latencyMs: number;
  pushConcurrency: number | undefined;
  timeoutMs: number;
  keepData: boolean;
  /** Write CPU profiles of the stack's threads here. */
  cpuProfileDir?: string | undefined;
  /** Progress lines (stderr). */
  log: (line: string) => void;
}

export interface PhaseFigures {
  name: string;
  apiName: string;
  records: number;
  /** Records found saved in K3 (must equal `records`). */
  saved: number;
  /** Import → every record saved and its queue empty. */
  elapsedMs: number;
  eventsPerSecond: number;
  latencyMs: { p50: number; p95: number; p99: number; max: number };
  ackMs: { p50: number; p99: number; max: number };
  pushRetries: number;
  k3Calls: Record<string, number>;
  k3CallsPerRecord: number;
  k3Logins: number;
  fxCalls: Record<string, number>;
  fxCallsPerRecord: number;
  fxRateLimited: number;
  /** Requests to the embedded DynamoDB during the phase, by operation. */
  dynamoOperations: Record<string, number>;
  dynamoOperationsPerEvent: number;
  /** CPU time of the whole stack during the phase per event (ms; all threads, user + system). */
  cpuMsPerEvent: number | undefined;
  /** The whole machine during the phase: share of all cores busy (any process) and stolen by the host, %. */
  machineBusyPercent: number | undefined;
  machineStealPercent: number | undefined;
  /** Write-back messages still queued when the ERP side finished. */
  writeBacksPending: number;
}

export interface BenchReport {
  machine: { cpus: number; cpuModel: string; memoryGiB: number; node: string; platform: string };
  settings: Record<string, string | number>;
  startupMs: number;
  /** The warm-up on the cold stack (not in the figures or targets). */
  warmUp: PhaseFigures[];
  phases: PhaseFigures[];
  overall: { events: number; elapsedMs: number; eventsPerSecond: number; loginsPer1000: number };
  naive: Omit<NaiveResult, 'latenciesMs'> & { latencyP50Ms: number };
  timesNaive: number;
  peakRssBytes: number | undefined;
  /** Each target on the 1 000-customer burst (the issue's "admin imports 1 000 customers") and on the whole run. */
  targets: { name: string; wanted: string; scope: string; measured: string; met: boolean }[];
  stackExitCode: number | null;
}

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function fxStats(endpoints: StackEndpoints): Promise<FxStats> {
  return fxStatsSchema.parse(await requestJson(`${endpoints.fxiaoke}/__emulator/stats`));
}

async function k3Stats(endpoints: StackEndpoints): Promise<K3Stats> {
  return k3StatsSchema.parse(await requestJson(new URL('/__emulator/stats', endpoints.k3cloud).href));
}

async function savedTimes(endpoints: StackEndpoints, formId: string): Promise<Record<string, number>> {
  return savedSchema.parse(
    await requestJson(new URL(`/__emulator/saved/${formId}?key=${K3_KEY_FIELD}`, endpoints.k3cloud).href),
  );
}

function pending(depths: readonly QueueDepth[], match: RegExp): number {
  return depths
    .filter((q) => match.test(q.name))
    .reduce((sum, q) => sum + q.visible + q.inFlight + q.delayed, 0);
}

interface PhaseSpec {
  name: string;
  apiName: string;
  formId: string;
  queue: RegExp;
  records: { fields: Record<string, unknown>; details?: Record<string, Record<string, unknown>[]> }[];
}

async function runPhase(
  stack: StackProcess,
  endpoints: StackEndpoints,
  spec: PhaseSpec,
  options: BenchOptions,
): Promise<{ figures: PhaseFigures; ids: string[] }> {
  const fxBefore = await fxStats(endpoints);
  const k3Before = await k3Stats(endpoints);
  const dynamoBefore = (await stack.status(endpoints.gateway)).dynamodb?.operations ?? {};
  const cpuBefore = stack.cpuMs();
  const machineBefore = machineCpu();
  options.log(`${spec.name}: importing ${spec.records.length} ${spec.apiName} records…`);
  const startedAt = Date.now();
  const { ids } = idsSchema.parse(
    await requestJson(`${endpoints.fxiaoke}/__emulator/import`, {
      method: 'POST',
      body: { apiName: spec.apiName, records: spec.records },
    }),
  );
  const wanted = new Set(ids);
  let saved: Record<string, number> = {};
  let savedCount = 0;
  let depths: QueueDepth[] = [];
  let dynamoAfter: Record<string, number> = {};
  let lastProgress = Date.now();
  // Queue depths are cheap to read; the saved times (a walk over the form, tens of ms on the stack's main
  // thread, which also runs the gateway) only once every push of the phase is delivered and the queue is
  // empty — walking while pushes still arrive stalled the acknowledgements in flight (measured: waves of
  // eight pushes at ~65 ms instead of ~20 whenever the pipeline caught up with the pushes mid-burst).
  let pushesDone = false;
  for (;;) {
    const status = await stack.status(endpoints.gateway);
    depths = status.queues;
    dynamoAfter = status.dynamodb?.operations ?? {};
    const queued = pending(depths, spec.queue);
    if (queued === 0 && !pushesDone) {
      const pushes = (await fxStats(endpoints)).pushes;
      pushesDone =
        pushes.pending === 0 &&
        pushes.acknowledged + pushes.abandoned >=
          fxBefore.pushes.acknowledged + fxBefore.pushes.abandoned + ids.length;
    }
    if (queued === 0 && pushesDone) {
      saved = await savedTimes(endpoints, spec.formId);
      savedCount = Object.keys(saved).filter((id) => wanted.has(id)).length;
      if (savedCount === ids.length) break;
    }
    if (Date.now() - startedAt > options.timeoutMs) {
      throw new Error(
        `${spec.name}: only ${savedCount}/${ids.length} saved in K3 after ${options.timeoutMs} ms (queue: ${queued} pending)\n${stack.tail()}`,
      );
    }
    if (Date.now() - lastProgress > 5_000) {
      options.log(`  ${queued} in the queue`);
      lastProgress = Date.now();
    }
    await delay(50);
  }
  const doneAt = Date.now();
  const cpuAfter = stack.cpuMs();
  const machineAfter = machineCpu();
  const machineTotal =
    machineBefore && machineAfter
      ? machineAfter.busyMs +
        machineAfter.idleMs +
        machineAfter.stealMs -
        (machineBefore.busyMs + machineBefore.idleMs + machineBefore.stealMs)
      : 0;
  const [fxAfter, k3After, tracesRaw] = await Promise.all([
    fxStats(endpoints),
    k3Stats(endpoints),
    requestJson(`${endpoints.fxiaoke}/__emulator/pushes`),
  ]);
  const traces = tracesSchema
    .parse(tracesRaw)
    .filter((t) => t.apiName === spec.apiName && wanted.has(t.dataId));
  const firstSent = new Map<string, number>();
  for (const trace of traces) {
    const earlier = firstSent.get(trace.dataId);
    if (earlier === undefined || trace.firstSentAtMs < earlier)
      firstSent.set(trace.dataId, trace.firstSentAtMs);
  }
  const latencies = ids.flatMap((id) => {
    const sent = firstSent.get(id);
    const at = saved[id];
    return sent === undefined || at === undefined ? [] : [at - sent];
  });
  const acks = traces.flatMap((t) => (t.ackMs === undefined ? [] : [t.ackMs]));
  const k3Calls = delta(k3Before.calls, k3After.calls);
  const fxCalls = delta(fxBefore.calls, fxAfter.calls);
  const elapsedMs = doneAt - startedAt;
  const figures: PhaseFigures = {
    name: spec.name,
    apiName: spec.apiName,
    records: ids.length,
    saved: savedCount,
    elapsedMs,
    eventsPerSecond: ids.length / (elapsedMs / 1000),
    latencyMs: {
      p50: quantile(latencies, 0.5),
      p95: quantile(latencies, 0.95),
      p99: quantile(latencies, 0.99),
      max: quantile(latencies, 1),
    },
    ackMs: { p50: quantile(acks, 0.5), p99: quantile(acks, 0.99), max: quantile(acks, 1) },
    pushRetries: traces.reduce((sum, t) => sum + t.attempts - 1, 0),
    k3Calls,
    k3CallsPerRecord: total(k3Calls) / ids.length,
    k3Logins: k3After.logins - k3Before.logins,
    fxCalls,
    fxCallsPerRecord: total(fxCalls) / ids.length,
    fxRateLimited: fxAfter.rateLimited - fxBefore.rateLimited,
    dynamoOperations: delta(dynamoBefore, dynamoAfter),
    dynamoOperationsPerEvent: total(delta(dynamoBefore, dynamoAfter)) / ids.length,
    cpuMsPerEvent:
      cpuBefore === undefined || cpuAfter === undefined ? undefined : (cpuAfter - cpuBefore) / ids.length,
    machineBusyPercent:
      machineBefore && machineAfter && machineTotal > 0
        ? (100 * (machineAfter.busyMs - machineBefore.busyMs)) / machineTotal
        : undefined,
    machineStealPercent:
      machineBefore && machineAfter && machineTotal > 0
        ? (100 * (machineAfter.stealMs - machineBefore.stealMs)) / machineTotal
        : undefined,
    writeBacksPending: pending(depths, WRITE_BACK_QUEUE),
  };
  options.log(
    `${spec.name}: ${ids.length} in ${(elapsedMs / 1000).toFixed(1)} s (${figures.eventsPerSecond.toFixed(0)} events/s)`,
  );
  return { figures, ids };
}

/**
 * Run the whole benchmark (see the module comment).
 *
 * @throws {Error} when the stack does not start, or a record does not reach K3 within the timeout.
 */
export async function runBenchmark(options: BenchOptions): Promise<BenchReport> {
  const dataDir = mkdtempSync(join(tmpdir(), 'fxk3-bench-'));
  const settings: Record<string, string> = {
    LOCAL_DATA_DIR: dataDir,
    LOCAL_ENV_FILE: join(dataDir, 'no.env'),
    HOST: '127.0.0.1',
    PORT: '0',
    K3CLOUD_EMULATOR_PORT: '0',
    FXIAOKE_EMULATOR_PORT: '0',
    LOCAL_CONTROL: 'on',
    K3CLOUD_EMULATOR_LATENCY_MS: String(options.latencyMs),
    FXIAOKE_EMULATOR_LATENCY_MS: String(options.latencyMs),
    FXIAOKE_EMULATOR_RATE_LIMIT: '100/20000',
    // Password login (ValidateUser), so logins are counted and comparable with the naive scripts
    // (signature mode never logs in at all).
    K3CLOUD_AUTH_MODE: 'password',
    ...(options.pushConcurrency === undefined
      ? {}
      : { FXIAOKE_EMULATOR_PUSH_CONCURRENCY: String(options.pushConcurrency) }),
  };
  const stack = new StackProcess({
    root,
    dataDir,
    env: settings,
    logFile: join(dataDir, 'stack.log'),
    cpuProfileDir: options.cpuProfileDir,
  });
  let stackExitCode: number | null = null;
  try {
    const startedAt = performance.now();
    options.log(`starting the local stack (data: ${dataDir})…`);
    const endpoints = await stack.ready(60_000);
    const startupMs = performance.now() - startedAt;
    options.log(`ready in ${(startupMs / 1000).toFixed(1)} s`);

    const products = productsSchema
      .parse(await requestJson(`${endpoints.fxiaoke}/__emulator/records/ProductObj`))
      .filter((p) => /^WL000[1-5]$/.test(p.product_code ?? ''))
      .map((p) => p._id);
    if (products.length < 3) throw new Error('the Fxiaoke emulator has fewer than 3 seeded products');

    const run = Date.now().toString(36);
    const customerPhase = (name: string, count: number): PhaseSpec => ({
      name,
      apiName: 'AccountObj',
      formId: 'BD_Customer',
      queue: /account-to-customer\.fifo$/,
      records: Array.from({ length: count }, (_, i) => ({
        fields: { name: `压测导入客户 ${name} ${run} ${String(i).padStart(4, '0')}`, account_level: '2' },
      })),
    });
    const orderPhase = (name: string, count: number, accounts: readonly string[]): PhaseSpec => ({
      name,
      apiName: 'SalesOrderObj',
      formId: 'SAL_SaleOrder',
      queue: /sales-order-to-sale-order\.fifo$/,
      records: Array.from({ length: count }, (_, i) => ({
        fields: { account_id: accounts[i % accounts.length], remark: `压测订单 ${name} ${run} ${i}` },
        details: {
          SalesOrderProductObj: [0, 1, 2].map((line) => ({
            product_id: products[(i + line) % products.length],
            quantity: String(1 + ((i + line) % 9)),
            sales_price: '10.00',
          })),
        },
      })),
    });

    /** Customers, then (unless there are none) orders for them: each phase's figures. */
    const customersThenOrders = async (
      names: [string, string],
      customerCount: number,
      orderCount: number,
    ): Promise<PhaseFigures[]> => {
      const customers = await runPhase(stack, endpoints, customerPhase(names[0], customerCount), options);
      if (orderCount === 0) return [customers.figures];
      const orders = await runPhase(
        stack,
        endpoints,
        orderPhase(names[1], orderCount, customers.ids),
        options,
      );
      return [customers.figures, orders.figures];
    };
    // Warm-up: a few changes of each kind through every path first (V8 compiles each function's code on
    // first use, connections open, each flow's first batches), as on a stack that has been running. Its
    // figures are printed on their own line and kept out of the measured ones and the targets.
    let warmUp: PhaseFigures[] = [];
    if (options.warmUp > 0) {
      const orders = options.orders > 0 ? options.warmUp : 0;
      options.log(`warm-up: ${options.warmUp} customers and ${orders} orders…`);
      warmUp = await customersThenOrders(['warm-up', 'warm-up'], options.warmUp, orders);
    }
    const phases = await customersThenOrders(['customers', 'orders'], options.customers, options.orders);

    options.log(`naive baseline: ${options.naive} records, one at a time (ValidateUser + Save each)…`);
    const naiveRun = await runNaiveBaseline({ url: endpoints.k3cloud, records: options.naive, runId: run });
    if (naiveRun.failed > 0)
      throw new Error(`naive baseline: ${naiveRun.failed} failed (${naiveRun.firstError})`);
    const peakRssBytes = stack.peakRssBytes();
    options.log('stopping the stack…');
    stackExitCode = await stack.stop();

    const events = phases.reduce((sum, p) => sum + p.records, 0);
    const elapsedMs = phases.reduce((sum, p) => sum + p.elapsedMs, 0);
    const eventsPerSecond = events / (elapsedMs / 1000);
    // The session is made during the warm-up: count its records and logins too.
    const logins = [...warmUp, ...phases].reduce((sum, p) => sum + p.k3Logins, 0);
    const loginsPer1000 = (logins * 1000) / (events + warmUp.reduce((sum, p) => sum + p.records, 0));
    const timesNaive = eventsPerSecond / naiveRun.recordsPerSecond;
    const { latenciesMs, ...naive } = naiveRun;
    const cpu = cpus();
    return {
      machine: {
        cpus: cpu.length,
        cpuModel: cpu[0]?.model ?? 'unknown',
        memoryGiB: Math.round(totalmem() / 1024 ** 3),
        node: process.version,
        platform: `${process.platform} ${process.arch}`,
      },
      settings: {
        latencyMs: options.latencyMs,
        fxRateLimit: '100 calls / 20 s per interface',
        k3AuthMode: 'password (ValidateUser)',
        pushConcurrency: options.pushConcurrency ?? 'emulator default',
        freeMemoryGiB: Math.round(freemem() / 1024 ** 3),
      },
      startupMs,
      warmUp,
      phases,
      overall: { events, elapsedMs, eventsPerSecond, loginsPer1000 },
      naive: { ...naive, latencyP50Ms: quantile(latenciesMs, 0.5) },
      timesNaive,
      peakRssBytes,
      targets: targetChecks(phases, naiveRun.recordsPerSecond, warmUp),
      stackExitCode,
    };
  } finally {
    if (stack.child.exitCode === null) await stack.stop();
    if (!options.keepData) rmSync(dataDir, { recursive: true, force: true });
  }
}

/**
 * The targets, on the customer burst and on the whole run (every phase together). Logins count the warm-up
 * too (its records and its logins): the session is made there.
 */
function targetChecks(
  phases: readonly PhaseFigures[],
  naivePerSecond: number,
  warmUp: readonly PhaseFigures[],
): BenchReport['targets'] {
  const warmRecords = warmUp.reduce((sum, p) => sum + p.records, 0);
  const warmLogins = warmUp.reduce((sum, p) => sum + p.k3Logins, 0);
  const scopes: [string, readonly PhaseFigures[]][] = [
    ['customers', phases.slice(0, 1)],
    ['all phases', phases],
  ];
  return scopes.flatMap(([scope, selected]) => {
    const events = selected.reduce((sum, p) => sum + p.records, 0);
    const perSecond = events / (selected.reduce((sum, p) => sum + p.elapsedMs, 0) / 1000);
    const ackP99 = Math.max(...selected.map((p) => p.ackMs.p99));
    const loginsPer1000 =
      ((warmLogins + selected.reduce((sum, p) => sum + p.k3Logins, 0)) * 1000) / (warmRecords + events);
    const times = perSecond / naivePerSecond;
    return [
      {
        name: 'webhook ack p99 / 应答 p99',
        wanted: `< ${TARGETS.ackP99Ms} ms`,
        scope,
        measured: `${fixed(ackP99)} ms`,
        met: ackP99 < TARGETS.ackP99Ms,
      },
      {
        name: 'end to end / 端到端',
        wanted: `≥ ${TARGETS.eventsPerSecond} events/s`,
        scope,
        measured: `${fixed(perSecond)} events/s`,
        met: perSecond >= TARGETS.eventsPerSecond,
      },
      {
        name: 'K3 logins / 登录次数',
        wanted: `≤ ${TARGETS.loginsPer1000} per 1 000 records`,
        scope,
        measured: `${fixed(loginsPer1000, 2)} per 1 000`,
        met: loginsPer1000 <= TARGETS.loginsPer1000,
      },
      {
        name: 'vs naive / 对比朴素脚本',
        wanted: `≥ ${TARGETS.timesNaive}×`,
        scope,
        measured: `${fixed(times)}×`,
        met: times >= TARGETS.timesNaive,
      },
    ];
  });
}

/** The report as text. */
export function formatReport(report: BenchReport): string {
  const m = report.machine;
  const lines: string[] = [];
  lines.push('');
  lines.push('fxiaoke-k3cloud-sync benchmark / 性能基准');
  lines.push(
    `machine: ${m.cpus} × ${m.cpuModel}, ${m.memoryGiB} GiB, ${m.platform}, node ${m.node}; stack started in ${fixed(report.startupMs / 1000)} s`,
  );
  lines.push(
    `settings: emulator latency ${report.settings.latencyMs} ms per call (both), Fxiaoke limit ${report.settings.fxRateLimit}, K3 auth ${report.settings.k3AuthMode}, push concurrency ${report.settings.pushConcurrency}; stack as \`npm start\` runs it (worker threads, data on disk)`,
  );
  lines.push('');
  const header = ['', ...report.phases.map((p) => `${p.name} (${p.apiName})`)];
  const row = (label: string, value: (p: PhaseFigures) => string) => [label, ...report.phases.map(value)];
  lines.push(
    table([
      header,
      row('records / 记录', (p) => `${p.saved}/${p.records} saved`),
      row('events/s end to end / 端到端', (p) => fixed(p.eventsPerSecond)),
      row('elapsed / 用时', (p) => `${fixed(p.elapsedMs / 1000, 2)} s`),
      row(
        'push → ERP saved p50 / p95 / p99',
        (p) =>
          `${fixed(p.latencyMs.p50, 0)} / ${fixed(p.latencyMs.p95, 0)} / ${fixed(p.latencyMs.p99, 0)} ms`,
      ),
      row('webhook ack p50 / p99 / 应答', (p) => `${fixed(p.ackMs.p50)} / ${fixed(p.ackMs.p99)} ms`),
      row('push redeliveries / 重推', (p) => String(p.pushRetries)),
      row('K3 logins per 1 000 records', (p) => fixed((p.k3Logins * 1000) / p.records, 2)),
      row('K3Cloud calls per record', (p) => fixed(p.k3CallsPerRecord, 2)),
      row('Fxiaoke calls per record', (p) => fixed(p.fxCallsPerRecord, 3)),
      row('Fxiaoke rate-limited (14001)', (p) => String(p.fxRateLimited)),
      row('DynamoDB requests per event', (p) => fixed(p.dynamoOperationsPerEvent, 2)),
      row('stack CPU per event (all threads)', (p) => `${fixed(p.cpuMsPerEvent)} ms`),
      row(
        'machine CPU busy / stolen',
        (p) => `${fixed(p.machineBusyPercent, 0)} % / ${fixed(p.machineStealPercent, 1)} %`,
      ),
      row('write-backs still queued / 待回写', (p) => String(p.writeBacksPending)),
    ]),
  );
  lines.push('');
  for (const p of report.phases) {
    lines.push(
      `  ${p.name} calls — K3: ${Object.entries(p.k3Calls)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')}; Fxiaoke: ${Object.entries(p.fxCalls)
        .map(([k, v]) => `${k.replace('/cgi/crm/v2/data/', '')} ${v}`)
        .join(', ')}; DynamoDB: ${Object.entries(p.dynamoOperations)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')}`,
    );
  }
  lines.push('');
  if (report.warmUp.length > 0) {
    lines.push(
      `warm-up on the cold stack, not in the figures above or the targets / 预热（冷启动，不计入上表和目标）: ${report.warmUp
        .map(
          (p) =>
            `${p.records} ${p.apiName}: webhook ack p50 / p99 / max ${fixed(p.ackMs.p50)} / ${fixed(p.ackMs.p99)} / ${fixed(p.ackMs.max)} ms, ${fixed(p.eventsPerSecond)} events/s, K3 logins ${p.k3Logins}`,
        )
        .join('; ')}`,
    );
  }
  lines.push(
    `overall: ${report.overall.events} events in ${fixed(report.overall.elapsedMs / 1000, 2)} s = ${fixed(report.overall.eventsPerSecond)} events/s; peak RSS of the stack ${mib(report.peakRssBytes)}`,
  );
  const n = report.naive;
  lines.push(
    `naive baseline (ValidateUser + Save per record, one at a time; ${n.saved} records — fewer than ours to keep the run short, records/s is what is compared): ${fixed(n.recordsPerSecond)} records/s, ${n.logins} logins, ${n.calls} calls, p50 ${fixed(n.latencyP50Ms)} ms per record`,
  );
  lines.push(`ours ÷ naive = ${fixed(report.timesNaive)}×`);
  lines.push('');
  lines.push(
    table([
      ['target / 目标', 'wanted', 'on', 'measured', ''],
      ...report.targets.map((t) => [t.name, t.wanted, t.scope, t.measured, t.met ? 'met ✓' : 'MISSED ✗']),
    ]),
  );
  lines.push('');
  return lines.join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      customers: { type: 'string', default: '1000' },
      'warm-up': { type: 'string', default: '40' },
      orders: { type: 'string', default: '1000' },
      naive: { type: 'string', default: '200' },
      'latency-ms': { type: 'string', default: '20' },
      'push-concurrency': { type: 'string' },
      'timeout-s': { type: 'string', default: '100' },
      json: { type: 'string' },
      'keep-data': { type: 'boolean', default: false },
      'cpu-prof-dir': { type: 'string' },
    },
  });
  const count = (name: string, text: string | undefined, min: number): number => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < min) {
      process.stderr.write(`--${name} must be an integer ≥ ${min} / --${name} 必须是不小于 ${min} 的整数\n`);
      process.exit(2);
    }
    return n;
  };
  const options: BenchOptions = {
    customers: count('customers', values.customers, 1),
    orders: count('orders', values.orders, 0),
    warmUp: count('warm-up', values['warm-up'], 0),
    naive: count('naive', values.naive, 1),
    latencyMs: count('latency-ms', values['latency-ms'], 0),
    pushConcurrency:
      values['push-concurrency'] === undefined
        ? undefined
        : count('push-concurrency', values['push-concurrency'], 1),
    timeoutMs: count('timeout-s', values['timeout-s'], 1) * 1000,
    keepData: values['keep-data'] ?? false,
    cpuProfileDir: values['cpu-prof-dir'],
    log: (line) => process.stderr.write(`[bench] ${line}\n`),
  };
  const report = await runBenchmark(options);
  process.stdout.write(formatReport(report));
  if (values.json) writeFileSync(values.json, `${JSON.stringify(report, null, 2)}\n`);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((error: unknown) => {
    process.stderr.write(
      `\n基准测试失败 / benchmark failed: ${error instanceof Error ? error.message : String(error)}\n`,
    );
    process.exit(1);
  });
}
