/**
 * `fxk3 status` — "is it working?": one screen an IT admin can read, or one JSON document a script can.
 *
 * 1. Deployment: which one (local sandbox / local real / AWS stage / environment).
 * 2. Settings: the runtime builds (settings from env + SSM, state tables, the mapping config parses); the
 *    K3Cloud and Fxiaoke settings are complete — shown without secrets.
 * 3. Connectivity: K3Cloud answers the Kingdee SDKs' own probe (ExecuteBillQuery on BD_Currency); Fxiaoke
 *    issues/uses the token and answers a one-record query. Failures show the vendor's message verbatim.
 * 4. Queues: depth of every flow queue and of its dead-letter queue (GetQueueAttributes).
 * 5. Failures of the last 24 h by flow and error code (sync log), and how many records are still failing.
 * 6. Cursors of the scheduled flows; the last successful sync of every flow.
 *
 * Exit code 1 when something is unhealthy: a setting or the config is invalid, a system cannot be reached,
 * a queue cannot be read, or a dead-letter queue holds messages. Failed records alone are a warning (they
 * are final business results, listed for action), not an outage.
 */

import { asSyncError, type SyncError } from '../../lib/errors.ts';
import { readFxiaokeConfig } from '../../lib/fxiaoke/config.ts';
import { readK3CloudConfig } from '../../lib/k3cloud/config.ts';
import type { SyncConfig } from '../../lib/mappings/config.ts';
import { createState, readStateConfig, type State, type SyncLogEntry } from '../../lib/state/index.ts';
import { deliveryCursorName } from '../../lib/sync/deliveries.ts';
import type { QueueRole } from '../../lib/sync/queues.ts';
import type { SyncRuntime } from '../../lib/sync/runtime.ts';
import { FLOWS } from '../args.ts';
import { EXIT, failureJson, failureLines } from '../errors.ts';
import { type CliIo, formatAge, formatTime, renderTable, toJson } from '../io.ts';
import { type QueueInfo, queueInfo, queueUrlOfArn } from '../queue-admin.ts';
import type { CliSession } from '../session.ts';
import { QUEUE_ROLES } from '../target.ts';

/** Failures are summarised over this window. */
export const FAILURE_WINDOW_MS = 24 * 3_600_000;
/** The last success is looked for this far back (the sync log keeps 90 days by default). */
const LAST_SUCCESS_WINDOW_MS = 30 * 86_400_000;
/** Bounds on the sync-log reading a status costs. */
const MAX_FAILED_ENTRIES = 5_000;
const MAX_RECORDS_CHECKED = 200;
const LAST_SUCCESS_PAGES = 5;
/** The connectivity probes must answer an operator promptly. */
const PROBE_TIMEOUT_MS = 15_000;

type Level = 'ok' | 'warn' | 'fail' | 'skip';

interface Check {
  id: string;
  title: string;
  level: Level;
  detail: string;
  error?: SyncError | undefined;
}

const FLOW_OF_ROLE: Readonly<Record<QueueRole, string>> = {
  accountToCustomer: 'account-to-customer',
  salesOrderToSaleOrder: 'sales-order-to-sale-order',
  saleOrderToDeliveryNotice: 'sale-order-to-delivery-notice',
  crmWriteBack: 'crm-write-back',
};

const LEVEL_TEXT: Readonly<Record<Level, string>> = {
  ok: '✓ 正常 ok',
  warn: '! 注意 warning',
  fail: '✗ 失败 FAILED',
  skip: '- 未检查 skipped',
};

interface QueueRow {
  flow: string;
  role: QueueRole;
  queue: QueueInfo | undefined;
  deadLetterQueue: QueueInfo | undefined;
  error: SyncError | undefined;
}

interface FailureGroup {
  flow: string;
  code: string;
  attempts: number;
  records: number;
  unresolved: number;
  lastAtMs: number;
  example: { record: string; message: string; remoteMessages: readonly string[] };
}

interface CursorRow {
  name: string;
  watermarkMs: number | undefined;
  id: string | undefined;
  updatedAtMs: number | undefined;
  advances: number | undefined;
}

interface LastSuccess {
  flow: string;
  atMs: number | undefined;
  record: string | undefined;
  lastAttempt: { atMs: number; outcome: string } | undefined;
}

async function timed<T>(work: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  const value = await work();
  return { value, ms: Math.round(performance.now() - started) };
}

function enabledFlows(config: SyncConfig): string[] {
  return Object.entries(config.flows)
    .filter(([, flow]) => flow?.enabled)
    .map(([id]) => id);
}

async function settingsChecks(
  runtime: SyncRuntime | undefined,
  buildError: SyncError | undefined,
): Promise<Check[]> {
  const checks: Check[] = [];
  if (!runtime) {
    checks.push({
      id: 'settings',
      title: '设置与映射配置 Settings & mapping config',
      level: 'fail',
      detail: '运行时无法构建 / the runtime cannot be built',
      error: buildError,
    });
    for (const [id, title] of [
      ['k3cloud', '金蝶 K3Cloud'],
      ['fxiaoke', '纷享 Fxiaoke'],
    ] as const) {
      checks.push({ id, title, level: 'skip', detail: '设置无效，未检查 / not checked: settings invalid' });
    }
    return checks;
  }
  const config = runtime.config;
  const source = runtime.settings.configSsmParameter
    ? `ssm:${runtime.settings.configSsmParameter}`
    : (runtime.settings.configPath ?? '—');
  checks.push({
    id: 'settings',
    title: '设置与映射配置 Settings & mapping config',
    level: 'ok',
    detail: `${source} · 启用的流程 enabled flows: ${enabledFlows(config).join(', ') || '—'}${runtime.settings.sandbox ? ' · SYNC_SANDBOX' : ''}`,
  });

  // K3Cloud: the settings, then the SDKs' own probe query.
  try {
    const k3Config = readK3CloudConfig(runtime.env, { sandbox: runtime.settings.sandbox });
    const k3 = runtime.k3();
    const where = `${k3Config.serverUrl} · 账套 acct ${k3Config.acctId} · 用户 user ${k3Config.username} · ${k3Config.authMode}`;
    try {
      // Kingdee's SDKs check their login with exactly this query (docs k3cloud-webapi.md §2.7).
      const probe = await timed(() =>
        k3.executeBillQuery(
          { formId: 'BD_Currency', fieldKeys: ['FCODE'], filterString: "FNUMBER='PRE001'", limit: 1 },
          { timeoutMs: PROBE_TIMEOUT_MS },
        ),
      );
      checks.push({ id: 'k3cloud', title: '金蝶 K3Cloud', level: 'ok', detail: `${where} · ${probe.ms} ms` });
    } catch (error) {
      checks.push({
        id: 'k3cloud',
        title: '金蝶 K3Cloud',
        level: 'fail',
        detail: where,
        error: asSyncError(error),
      });
    }
  } catch (error) {
    checks.push({
      id: 'k3cloud',
      title: '金蝶 K3Cloud',
      level: 'fail',
      detail: '设置无效 / settings invalid',
      error: asSyncError(error),
    });
  }

  // Fxiaoke: the settings, the token, one cheap query.
  try {
    const fxConfig = readFxiaokeConfig(runtime.env, { sandbox: runtime.settings.sandbox });
    const fx = runtime.fx();
    const where = `${fxConfig.baseUrl} · appId ${fxConfig.appId} · 企业 ea ${fxConfig.enterpriseAccount} · ${fxConfig.authFlow}`;
    try {
      const probe = await timed(() => fx.query('AccountObj', { limit: 1, fieldProjection: ['_id'] }));
      checks.push({ id: 'fxiaoke', title: '纷享 Fxiaoke', level: 'ok', detail: `${where} · ${probe.ms} ms` });
    } catch (error) {
      checks.push({
        id: 'fxiaoke',
        title: '纷享 Fxiaoke',
        level: 'fail',
        detail: where,
        error: asSyncError(error),
      });
    }
  } catch (error) {
    checks.push({
      id: 'fxiaoke',
      title: '纷享 Fxiaoke',
      level: 'fail',
      detail: '设置无效 / settings invalid',
      error: asSyncError(error),
    });
  }
  return checks;
}

async function queueRows(session: CliSession): Promise<QueueRow[]> {
  const { sqs, queueUrls } = session.target;
  return await Promise.all(
    QUEUE_ROLES.map(async (role): Promise<QueueRow> => {
      const flow = FLOW_OF_ROLE[role];
      const url = queueUrls[role];
      if (url === undefined)
        return { flow, role, queue: undefined, deadLetterQueue: undefined, error: undefined };
      try {
        const queue = await queueInfo(sqs, url);
        const deadLetterQueue = queue.deadLetter
          ? await queueInfo(sqs, await queueUrlOfArn(sqs, queue.deadLetter.arn))
          : undefined;
        return { flow, role, queue, deadLetterQueue, error: undefined };
      } catch (error) {
        return { flow, role, queue: undefined, deadLetterQueue: undefined, error: asSyncError(error) };
      }
    }),
  );
}

async function failureGroups(
  state: State,
  nowMs: number,
): Promise<{ groups: FailureGroup[]; truncated: boolean }> {
  const entries: SyncLogEntry[] = [];
  let cursor: string | undefined;
  do {
    const page = await state.syncLog.listFailed({
      fromMs: nowMs - FAILURE_WINDOW_MS,
      toMs: nowMs,
      limit: 500,
      ...(cursor ? { cursor } : {}),
    });
    entries.push(...page.entries);
    cursor = page.cursor;
  } while (cursor && entries.length < MAX_FAILED_ENTRIES);
  const recordKey = (entry: SyncLogEntry) => `${entry.source.type}:${entry.source.id}`;
  // Is the record still failing? Its newest attempt decides (checked for a bounded number of records).
  const stillFailing = new Map<string, boolean>();
  for (const entry of entries) {
    const key = recordKey(entry);
    if (stillFailing.has(key) || stillFailing.size >= MAX_RECORDS_CHECKED) continue;
    const newest = await state.syncLog.latestForRecord(entry.source);
    stillFailing.set(key, newest === undefined || newest.outcome === 'failed');
  }
  const groups = new Map<string, FailureGroup & { recordSet: Set<string> }>();
  for (const entry of entries) {
    const code = entry.error?.code ?? '—';
    const id = `${entry.flow}\u0000${code}`;
    const group = groups.get(id) ?? {
      flow: entry.flow,
      code,
      attempts: 0,
      records: 0,
      unresolved: 0,
      lastAtMs: 0,
      example: {
        record: recordKey(entry),
        message: entry.error?.message ?? entry.reason ?? '',
        remoteMessages: entry.error?.remoteMessages ?? [],
      },
      recordSet: new Set<string>(),
    };
    group.attempts += 1;
    group.lastAtMs = Math.max(group.lastAtMs, entry.atMs);
    const key = recordKey(entry);
    if (!group.recordSet.has(key)) {
      group.recordSet.add(key);
      group.records += 1;
      if (stillFailing.get(key) ?? true) group.unresolved += 1;
    }
    groups.set(id, group);
  }
  return {
    groups: [...groups.values()]
      .map(({ recordSet: _, ...group }) => group)
      .sort((a, b) => b.attempts - a.attempts),
    truncated: cursor !== undefined,
  };
}

async function cursorRows(state: State, config: SyncConfig | undefined): Promise<CursorRow[]> {
  const forms = config?.flows.deliveryToFxiaoke?.sourceForms ?? ['SAL_OUTSTOCK'];
  const names = ['purchase-order-to-in-stock', ...forms.map((form) => deliveryCursorName(form))];
  return await Promise.all(
    names.map(async (name) => {
      const cursor = await state.cursors.get(name);
      return {
        name,
        watermarkMs: cursor?.watermark.modifiedAtMs,
        id: cursor?.watermark.id,
        updatedAtMs: cursor?.updatedAtMs,
        advances: cursor?.advances,
      };
    }),
  );
}

async function lastSuccesses(state: State, nowMs: number): Promise<LastSuccess[]> {
  return await Promise.all(
    FLOWS.map(async (flow): Promise<LastSuccess> => {
      let cursor: string | undefined;
      let lastAttempt: LastSuccess['lastAttempt'];
      for (let page = 0; page < LAST_SUCCESS_PAGES; page += 1) {
        const result = await state.syncLog.listByFlow(flow, {
          fromMs: nowMs - LAST_SUCCESS_WINDOW_MS,
          toMs: nowMs,
          newestFirst: true,
          limit: 100,
          ...(cursor ? { cursor } : {}),
        });
        const first = result.entries[0];
        if (lastAttempt === undefined && first) lastAttempt = { atMs: first.atMs, outcome: first.outcome };
        const success = result.entries.find((entry) => entry.outcome === 'succeeded');
        if (success) {
          return {
            flow,
            atMs: success.atMs,
            record: `${success.source.type}:${success.source.id}`,
            lastAttempt,
          };
        }
        cursor = result.cursor;
        if (!cursor) break;
      }
      return { flow, atMs: undefined, record: undefined, lastAttempt };
    }),
  );
}

/**
 * Run every check and print the report.
 *
 * @returns exit code 0 when healthy, 1 otherwise.
 */
export async function statusCommand(
  args: { json: boolean },
  session: CliSession,
  io: CliIo,
): Promise<number> {
  const now = session.clock();
  const target = session.target;
  const checks: Check[] = [];
  if (target.local && !target.local.ready) {
    checks.push({
      id: 'local-stack',
      title: '本地运行时 Local stack',
      level: 'warn',
      detail: '函数仍在加载 / functions are still loading',
    });
  }

  let runtime: SyncRuntime | undefined;
  let buildError: SyncError | undefined;
  try {
    runtime = await session.runtime();
  } catch (error) {
    buildError = asSyncError(error);
  }
  checks.push(...(await settingsChecks(runtime, buildError)));

  // Queues.
  const queues = await queueRows(session);
  const queueProblems = queues.filter((row) => row.error !== undefined);
  const deadLetters = queues.reduce(
    (sum, row) =>
      sum +
      (row.deadLetterQueue
        ? row.deadLetterQueue.visible + row.deadLetterQueue.inFlight + row.deadLetterQueue.delayed
        : 0),
    0,
  );
  const missing = queues
    .filter((row) => row.queue === undefined && row.error === undefined)
    .map((row) => row.flow);
  checks.push({
    id: 'queues',
    title: '队列 Queues',
    level:
      queueProblems.length > 0 || deadLetters > 0
        ? 'fail'
        : missing.length === QUEUE_ROLES.length
          ? 'warn'
          : 'ok',
    detail:
      queueProblems.length > 0
        ? `${queueProblems.length} 个队列无法读取 / ${queueProblems.length} queue(s) cannot be read`
        : deadLetters > 0
          ? `死信队列中有 ${deadLetters} 条消息：查看同步日志，修正后用 fxk3 replay --dlq <flow> 重新投递 / ${deadLetters} message(s) in dead-letter queues: read the sync log, fix the cause, then fxk3 replay --dlq <flow>`
          : missing.length > 0
            ? `未配置的队列 / queues not configured: ${missing.join(', ')}`
            : '死信队列为空 / dead-letter queues empty',
    error: queueProblems[0]?.error,
  });

  // State: the runtime's stores, or built from the wiring when the runtime itself cannot be built.
  let state: State | undefined = runtime?.state;
  let stateError: SyncError | undefined;
  if (!state) {
    try {
      state = createState({
        client: target.dynamo,
        ...readStateConfig(target.runtimeEnv),
        clock: session.clock,
      });
    } catch (error) {
      stateError = asSyncError(error);
    }
  }
  let failures: { groups: FailureGroup[]; truncated: boolean } | undefined;
  let cursors: CursorRow[] = [];
  let successes: LastSuccess[] = [];
  if (state) {
    try {
      failures = await failureGroups(state, now);
      cursors = await cursorRows(state, runtime?.config);
      successes = await lastSuccesses(state, now);
    } catch (error) {
      stateError = asSyncError(error);
    }
  }
  if (stateError) {
    checks.push({
      id: 'state',
      title: '状态表 State tables',
      level: 'fail',
      detail: '无法读取同步日志或游标 / cannot read the sync log or cursors',
      error: stateError,
    });
  } else if (failures) {
    const unresolved = failures.groups.reduce((sum, group) => sum + group.unresolved, 0);
    const attempts = failures.groups.reduce((sum, group) => sum + group.attempts, 0);
    checks.push({
      id: 'failures',
      title: '最近 24 小时的失败 Failures (24 h)',
      level: unresolved > 0 ? 'warn' : 'ok',
      detail:
        attempts === 0
          ? '无 / none'
          : `${attempts} 次失败，${unresolved} 条记录仍失败：修正后 fxk3 replay --since 24h / ${attempts} failed attempt(s), ${unresolved} record(s) still failing: fix, then fxk3 replay --since 24h`,
    });
  }

  const healthy = !checks.some((check) => check.level === 'fail');
  const exit = healthy ? EXIT.ok : EXIT.failed;

  if (args.json) {
    io.stdout(
      `${toJson({
        command: 'status',
        healthy,
        checkedAt: new Date(now).toISOString(),
        deployment: {
          kind: target.kind,
          label: target.label,
          stage: target.stage,
          region: target.region,
          ...(target.local ? { local: target.local } : {}),
        },
        checks: checks.map((check) => ({
          id: check.id,
          title: check.title,
          level: check.level,
          detail: check.detail,
          ...(check.error ? { error: failureJson(check.error) } : {}),
        })),
        queues: queues.map((row) => ({
          flow: row.flow,
          queue: row.queue ? depthJson(row.queue) : undefined,
          deadLetterQueue: row.deadLetterQueue ? depthJson(row.deadLetterQueue) : undefined,
          ...(row.error ? { error: failureJson(row.error) } : {}),
        })),
        failures: failures
          ? {
              windowHours: FAILURE_WINDOW_MS / 3_600_000,
              truncated: failures.truncated,
              groups: failures.groups,
            }
          : undefined,
        cursors: cursors.map((cursor) => ({
          ...cursor,
          watermark:
            cursor.watermarkMs === undefined ? undefined : new Date(cursor.watermarkMs).toISOString(),
        })),
        lastSuccess: successes.map((success) => ({
          ...success,
          at: success.atMs === undefined ? undefined : new Date(success.atMs).toISOString(),
        })),
      })}\n`,
    );
    return exit;
  }

  const lines: string[] = [];
  lines.push(`fxk3 status — ${target.label}`);
  lines.push(`检查时间 Checked at ${formatTime(now)}`);
  lines.push('');
  lines.push(
    renderTable(
      ['检查 Check', '结果 Result', '说明 Detail'],
      checks.map((check) => [check.title, LEVEL_TEXT[check.level], check.detail]),
    ),
  );
  for (const check of checks) {
    if (check.error && check.level === 'fail') {
      lines.push('');
      lines.push(`${check.title}:`);
      lines.push(...failureLines(check.error, '  '));
    }
  }
  lines.push('');
  lines.push('队列深度 Queue depths (可见 visible / 处理中 in flight / 延迟 delayed)');
  lines.push(
    renderTable(
      ['流程 Flow', '队列 Queue', '深度 Depth', '死信 DLQ'],
      queues.map((row) => [
        row.flow,
        row.queue?.name ?? (row.error ? '✗ 无法读取 unreadable' : '未配置 not configured'),
        row.queue ? `${row.queue.visible} / ${row.queue.inFlight} / ${row.queue.delayed}` : '—',
        row.deadLetterQueue
          ? `${row.deadLetterQueue.visible + row.deadLetterQueue.inFlight + row.deadLetterQueue.delayed}${row.deadLetterQueue.visible + row.deadLetterQueue.inFlight > 0 ? ' ✗' : ''}`
          : '—',
      ]),
    ),
  );
  if (failures) {
    lines.push('');
    lines.push('最近 24 小时的失败 Failures in the last 24 h (按流程和错误代码 by flow and error code)');
    if (failures.groups.length === 0) {
      lines.push('无 / none');
    } else {
      lines.push(
        renderTable(
          [
            '流程 Flow',
            '错误代码 Code',
            '次数 Attempts',
            '记录 Records',
            '仍失败 Still failing',
            '最近 Last',
          ],
          failures.groups.map((group) => [
            group.flow,
            group.code,
            String(group.attempts),
            String(group.records),
            String(group.unresolved),
            formatAge(group.lastAtMs, now),
          ]),
        ),
      );
      for (const group of failures.groups.slice(0, 5)) {
        lines.push(
          // The first lines carry the record and the problem (a mapping error lists its problems below).
          `  ${group.flow} ${group.code} — ${group.example.record}: ${group.example.message.split('\n').slice(0, 2).join(' ').slice(0, 400)}`,
        );
        for (const remote of group.example.remoteMessages.slice(0, 3))
          lines.push(`      原文 verbatim: ${remote}`);
      }
    }
  }
  if (cursors.length > 0) {
    lines.push('');
    lines.push('定时流程游标 Cursors of the scheduled flows');
    lines.push(
      renderTable(
        ['游标 Cursor', '水位 Watermark', 'FID', '更新于 Updated'],
        cursors.map((cursor) => [
          cursor.name,
          cursor.watermarkMs === undefined ? '尚未运行 never ran' : formatTime(cursor.watermarkMs),
          cursor.id ?? '—',
          cursor.updatedAtMs === undefined ? '—' : formatAge(cursor.updatedAtMs, now),
        ]),
      ),
    );
  }
  if (successes.length > 0) {
    lines.push('');
    lines.push('最近一次成功同步 Last successful sync (30 天内 within 30 days)');
    lines.push(
      renderTable(
        ['流程 Flow', '最近成功 Last success', '记录 Record', '最近尝试 Last attempt'],
        successes.map((success) => [
          success.flow,
          success.atMs === undefined ? '—' : `${formatTime(success.atMs)} (${formatAge(success.atMs, now)})`,
          success.record ?? '—',
          success.lastAttempt
            ? `${success.lastAttempt.outcome} ${formatAge(success.lastAttempt.atMs, now)}`
            : '—',
        ]),
      ),
    );
  }
  lines.push('');
  const problems = checks.filter((check) => check.level === 'fail').length;
  lines.push(
    healthy
      ? '总体 Overall: ✓ 健康 healthy'
      : `总体 Overall: ✗ 不健康 unhealthy — ${problems} 项失败 / ${problems} check(s) failed`,
  );
  io.stdout(`${lines.join('\n')}\n`);
  return exit;
}

function depthJson(queue: QueueInfo) {
  return { name: queue.name, visible: queue.visible, inFlight: queue.inFlight, delayed: queue.delayed };
}
