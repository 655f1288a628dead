/**
 * `fxk3 replay` — "fix and resend what failed".
 *
 * Selection (from the sync log; nothing is guessed):
 * - `--record <type>:<id>`: that record, in every flow whose newest attempt for it failed (or its owning
 *   flow when it has no attempt yet);
 * - filter (`--flow`, `--since`, `--code`): the failed index of the sync log in the window; by default only
 *   records whose newest attempt in that flow failed, with `--all` also those whose newest attempt was
 *   skipped;
 * - never a record whose newest attempt succeeded, unless `--force`.
 *
 * What replaying means per flow — always the flow's own entry point, so its idempotency applies (links,
 * look-ups by external key or source bill before any create: a replay never duplicates an ERP record):
 * - account-to-customer, sales-order-to-sale-order, crm-write-back: a fresh change event for the CRM record
 *   into the owning queue (inbox + queue like a push, messageId `replay:<run>:<type>:<id>`); the record is
 *   re-read, so it carries its current data; a write-back is queued again by its source flow;
 * - sale-order-to-delivery-notice: a new delivery-notice request (deduplication id unique to this run);
 * - purchase-order-to-in-stock: the flow runs now, in this process, on request for those bill numbers;
 * - delivery-to-fxiaoke: the source form's cursor is moved back to the failed bill's modify time and the
 *   poll runs now (bills already synced are skipped by their links).
 *
 * `--dlq <flow>` moves dead letters back instead (`../queue-admin.ts`). `--dry-run` prints the plan only.
 */
import { createHash, randomBytes } from 'node:crypto';
import { asSyncError, type SyncError } from '../../lib/errors.ts';
import { buildBillQuery, cellId, cellText, k3In } from '../../lib/mappings/k3-requests.ts';
import { PURCHASE_ORDER_FORM_ID } from '../../lib/mappings/purchase-order-to-in-stock.ts';
import type { RecordRef, SyncLogEntry } from '../../lib/state/index.ts';
import { runDeliveryToFxiaoke } from '../../lib/sync/deliveries.ts';
import { queryRows } from '../../lib/sync/k3-query.ts';
import { deliveryNoticeMessage } from '../../lib/sync/messages.ts';
import { runPurchaseOrderToInStock } from '../../lib/sync/purchase-in-stock.ts';
import type { QueueRole } from '../../lib/sync/queues.ts';
import type { SyncRuntime } from '../../lib/sync/runtime.ts';
import type { RunSummary } from '../../lib/sync/scheduled.ts';
import { routeOf } from '../../lib/sync/webhook.ts';
import type { QueueFlowName, ReplaySelection } from '../args.ts';
import { enqueueChanges, type SyntheticChange } from '../enqueue.ts';
import { CliError, EXIT, failureJson, failureLines } from '../errors.ts';
import { type CliIo, formatTime, renderFields, renderTable, toJson } from '../io.ts';
import { queueInfo, queueNameOfUrl, queueUrlOfArn, redrive } from '../queue-admin.ts';
import type { CliSession } from '../session.ts';

export interface ReplayArgs {
  selection: ReplaySelection;
  force: boolean;
  dryRun: boolean;
  limit: number;
  json: boolean;
}

/** Entries of one record read to find its newest attempt per flow. */
const RECORD_HISTORY = 100;
const FAILED_PAGE = 500;

const ROLE_OF_QUEUE_FLOW: Readonly<Record<QueueFlowName, QueueRole>> = {
  'account-to-customer': 'accountToCustomer',
  'sales-order-to-sale-order': 'salesOrderToSaleOrder',
  'sale-order-to-delivery-notice': 'saleOrderToDeliveryNotice',
  'crm-write-back': 'crmWriteBack',
};

type Decision = 'replay' | 'skip';

interface Candidate {
  source: RecordRef;
  flow: string;
  /** The newest attempt of this record in this flow (undefined: never attempted). */
  newest: SyncLogEntry | undefined;
  /** The failure that selected it (filter mode), else the newest failure known. */
  failure: SyncLogEntry | undefined;
  decision: Decision;
  why: string;
  /** What replaying does (filled by the plan). */
  action: string;
  result: 'queued' | 'already queued' | 'succeeded' | 'failed' | 'skipped' | 'planned' | undefined;
  error: SyncError | undefined;
}

function isCrmType(type: string): boolean {
  return /Obj$|__c$/.test(type);
}

function refOf(type: string, id: string): RecordRef {
  return { system: isCrmType(type) ? 'crm' : 'erp', type, id };
}

function recordText(ref: RecordRef): string {
  return `${ref.type}:${ref.id}`;
}

/** The flow that consumes a CRM object's change events (undefined: none enabled). */
function owningFlow(runtime: SyncRuntime, apiName: string): string | undefined {
  const role = routeOf(runtime.config, apiName);
  return role === 'accountToCustomer'
    ? 'account-to-customer'
    : role === 'salesOrderToSaleOrder'
      ? 'sales-order-to-sale-order'
      : undefined;
}

/** FIFO ids: ≤ 128 safe characters, else a hash. */
function fifoId(text: string): string {
  return text.length <= 128 && /^[A-Za-z0-9!-~]+$/.test(text)
    ? text
    : `h:${createHash('sha256').update(text).digest('hex')}`;
}

/** A run id: unique per replay (part of every messageId and deduplication id it creates). */
export function newReplayRunId(nowMs: number): string {
  return `${nowMs.toString(36)}-${randomBytes(3).toString('hex')}`;
}

function decide(
  newest: SyncLogEntry | undefined,
  force: boolean,
  all: boolean,
  explicit: boolean,
): { decision: Decision; why: string } {
  if (newest === undefined) {
    return { decision: 'replay', why: '尚无尝试 / no attempt yet' };
  }
  if (newest.outcome === 'failed') {
    return {
      decision: 'replay',
      why: `最近一次尝试失败 / newest attempt failed (${formatTime(newest.atMs)})`,
    };
  }
  if (newest.outcome === 'succeeded') {
    return force
      ? { decision: 'replay', why: '最近一次尝试成功，--force / newest attempt succeeded, --force' }
      : {
          decision: 'skip',
          why: `最近一次尝试已成功（${formatTime(newest.atMs)}），加 --force 才重放 / newest attempt succeeded (${formatTime(newest.atMs)}); use --force to replay anyway`,
        };
  }
  return all || explicit || force
    ? { decision: 'replay', why: `最近一次尝试被跳过 / newest attempt skipped: ${newest.reason ?? ''}` }
    : {
        decision: 'skip',
        why: `最近一次尝试被跳过（${newest.reason ?? ''}），加 --all 才重放 / newest attempt was skipped (${newest.reason ?? ''}); use --all to include it`,
      };
}

async function historyByFlow(runtime: SyncRuntime, ref: RecordRef): Promise<Map<string, SyncLogEntry[]>> {
  const page = await runtime.state.syncLog.listByRecord(ref, { limit: RECORD_HISTORY, newestFirst: true });
  const byFlow = new Map<string, SyncLogEntry[]>();
  for (const entry of page.entries) byFlow.set(entry.flow, [...(byFlow.get(entry.flow) ?? []), entry]);
  return byFlow;
}

async function selectByRecords(
  runtime: SyncRuntime,
  records: readonly { type: string; id: string }[],
  force: boolean,
): Promise<Candidate[]> {
  const candidates: Candidate[] = [];
  for (const selector of records) {
    const source = refOf(selector.type, selector.id);
    const history = await historyByFlow(runtime, source);
    const failedFlows = [...history].filter(([, entries]) => entries[0]?.outcome === 'failed');
    if (failedFlows.length > 0) {
      for (const [flow, entries] of failedFlows) {
        candidates.push(
          candidate(source, flow, entries[0], entries[0], decide(entries[0], force, true, true)),
        );
      }
      continue;
    }
    // Nothing failing: the owning flow (CRM records), or the flow of the newest attempt.
    const newestOverall = [...history.values()]
      .map((entries) => entries[0])
      .sort((a, b) => (b?.atMs ?? 0) - (a?.atMs ?? 0))[0];
    const flow =
      (source.system === 'crm' ? owningFlow(runtime, source.type) : undefined) ?? newestOverall?.flow;
    if (flow === undefined) {
      candidates.push({
        ...candidate(source, '—', undefined, undefined, { decision: 'skip', why: '' }),
        result: 'failed',
        error: new CliError(
          `没有处理 ${source.type} 的已启用流程，也没有它的同步记录 / no enabled flow handles ${source.type} and the sync log has no attempt for it`,
          { kind: 'invalid-input', fault: 'caller', code: 'CLI_NO_FLOW_FOR_RECORD' },
        ),
      });
      continue;
    }
    const newest = history.get(flow)?.[0];
    candidates.push(candidate(source, flow, newest, undefined, decide(newest, force, true, true)));
  }
  return candidates;
}

function candidate(
  source: RecordRef,
  flow: string,
  newest: SyncLogEntry | undefined,
  failure: SyncLogEntry | undefined,
  verdict: { decision: Decision; why: string },
): Candidate {
  return {
    source,
    flow,
    newest,
    failure,
    decision: verdict.decision,
    why: verdict.why,
    action: '',
    result: undefined,
    error: undefined,
  };
}

async function selectByFilter(
  runtime: SyncRuntime,
  selection: Extract<ReplaySelection, { kind: 'filter' }>,
  args: ReplayArgs,
  nowMs: number,
): Promise<{ candidates: Candidate[]; truncated: boolean }> {
  const picked = new Map<string, SyncLogEntry>();
  let cursor: string | undefined;
  let truncated = false;
  do {
    const page = await runtime.state.syncLog.listFailed({
      fromMs: selection.sinceMs,
      toMs: nowMs,
      limit: FAILED_PAGE,
      ...(selection.flow ? { flow: selection.flow } : {}),
      ...(cursor ? { cursor } : {}),
    });
    for (const entry of page.entries) {
      if (selection.code !== undefined && entry.error?.code.toLowerCase() !== selection.code.toLowerCase())
        continue;
      const key = `${entry.flow}\u0000${recordText(entry.source)}`;
      // Newest first: the first failure seen per (flow, record) is its latest one in the window.
      if (!picked.has(key)) {
        if (picked.size >= args.limit) {
          truncated = true;
          break;
        }
        picked.set(key, entry);
      }
    }
    cursor = truncated ? undefined : page.cursor;
  } while (cursor);
  const histories = new Map<string, Map<string, SyncLogEntry[]>>();
  const candidates: Candidate[] = [];
  for (const failure of picked.values()) {
    const key = recordText(failure.source);
    let history = histories.get(key);
    if (!history) {
      history = await historyByFlow(runtime, failure.source);
      histories.set(key, history);
    }
    const newest = history.get(failure.flow)?.[0] ?? failure;
    candidates.push(
      candidate(
        failure.source,
        failure.flow,
        newest,
        failure,
        decide(newest, args.force, selection.all, false),
      ),
    );
  }
  return { candidates, truncated };
}

interface Plan {
  changes: Map<QueueRole, { change: SyntheticChange; candidates: Candidate[] }[]>;
  notices: { orderId: string; version: number; candidate: Candidate }[];
  purchaseOrders: { fid: string; candidate: Candidate }[];
  deliveries: Map<string, { fromMs: number; candidates: Candidate[] }>;
}

function plan(runtime: SyncRuntime, candidates: readonly Candidate[], runId: string): Plan {
  const result: Plan = { changes: new Map(), notices: [], purchaseOrders: [], deliveries: new Map() };
  const changeOf = new Map<string, { change: SyntheticChange; candidates: Candidate[] }>();
  for (const item of candidates) {
    if (item.decision !== 'replay' || item.error) continue;
    const { source } = item;
    switch (item.flow) {
      case 'account-to-customer':
      case 'sales-order-to-sale-order':
      case 'crm-write-back': {
        const role = source.system === 'crm' ? routeOf(runtime.config, source.type) : undefined;
        if (role === undefined) {
          item.error = new CliError(
            `没有处理 ${source.type} 的已启用流程 / no enabled flow handles ${source.type}`,
            { kind: 'config', fault: 'ours', code: 'CLI_FLOW_DISABLED' },
          );
          continue;
        }
        const key = recordText(source);
        let entry = changeOf.get(key);
        if (!entry) {
          entry = {
            change: {
              apiName: source.type,
              dataId: source.id,
              messageId: `replay:${runId}:${source.type}:${source.id}`,
            },
            candidates: [],
          };
          changeOf.set(key, entry);
          result.changes.set(role, [...(result.changes.get(role) ?? []), entry]);
        }
        entry.candidates.push(item);
        item.action = `变更事件入队 queue a change event → ${role}${item.flow === 'crm-write-back' ? ' (回写由来源流程重新排队 / the write-back is queued again by its source flow)' : ''}`;
        break;
      }
      case 'sale-order-to-delivery-notice':
        result.notices.push({
          orderId: source.id,
          version: item.newest?.sourceVersion ?? item.failure?.sourceVersion ?? 0,
          candidate: item,
        });
        item.action = '下推请求入队 queue a delivery-notice request → saleOrderToDeliveryNotice';
        break;
      case 'purchase-order-to-in-stock':
        result.purchaseOrders.push({ fid: source.id, candidate: item });
        item.action = '立即按单号运行 run the flow now for its bill number';
        break;
      case 'delivery-to-fxiaoke': {
        const modifiedMs = item.newest?.sourceVersion ?? item.failure?.sourceVersion;
        if (modifiedMs === undefined) {
          item.error = new CliError(
            '同步日志中没有该单据的修改时间，无法回退游标 / the sync log has no modify time for this bill; the cursor cannot be moved back',
            { kind: 'invalid-input', fault: 'ours', code: 'CLI_NO_SOURCE_VERSION' },
          );
          continue;
        }
        const entry = result.deliveries.get(source.type) ?? { fromMs: modifiedMs, candidates: [] };
        entry.fromMs = Math.min(entry.fromMs, modifiedMs);
        entry.candidates.push(item);
        result.deliveries.set(source.type, entry);
        item.action = `游标 delivery-to-fxiaoke.${source.type} 回退到 ${formatTime(modifiedMs)} 并立即轮询 / cursor moved back to the bill, then poll now`;
        break;
      }
      default:
        item.error = new CliError(`无法重放流程 ${item.flow} / cannot replay flow ${item.flow}`, {
          kind: 'invalid-input',
          fault: 'caller',
          code: 'CLI_UNKNOWN_FLOW',
        });
    }
  }
  return result;
}

async function execute(
  runtime: SyncRuntime,
  work: Plan,
  runId: string,
  io: CliIo,
  nowMs: number,
): Promise<RunSummary[]> {
  const runs: RunSummary[] = [];
  for (const [role, entries] of work.changes) {
    try {
      const result = await enqueueChanges(
        runtime,
        role,
        entries.map((entry) => entry.change),
        'replay',
      );
      const queued = new Set(result.queued);
      for (const entry of entries) {
        for (const item of entry.candidates)
          item.result = queued.has(entry.change.messageId) ? 'queued' : 'already queued';
      }
    } catch (error) {
      for (const entry of entries)
        for (const item of entry.candidates) {
          item.result = 'failed';
          item.error = asSyncError(error);
        }
    }
  }
  if (work.notices.length > 0) {
    try {
      await runtime.queues.send(
        'saleOrderToDeliveryNotice',
        work.notices.map((notice) => ({
          ...deliveryNoticeMessage({
            kind: 'delivery-notice',
            orderId: notice.orderId,
            orderVersion: notice.version,
            requestedAtMs: nowMs,
          }),
          deduplicationId: fifoId(`replay:${runId}:notice:${notice.orderId}`),
        })),
      );
      for (const notice of work.notices) notice.candidate.result = 'queued';
    } catch (error) {
      for (const notice of work.notices) {
        notice.candidate.result = 'failed';
        notice.candidate.error = asSyncError(error);
      }
    }
  }
  if (work.purchaseOrders.length > 0) {
    const startedAtMs = runtime.clock();
    try {
      const billNos = await purchaseOrderNumbers(
        runtime,
        work.purchaseOrders.map((p) => p.fid),
      );
      const known = work.purchaseOrders.filter((p) => billNos.has(p.fid));
      for (const p of work.purchaseOrders) {
        if (!billNos.has(p.fid)) {
          p.candidate.result = 'failed';
          p.candidate.error = new CliError(
            `金蝶中找不到采购订单 FID ${p.fid} / purchase order FID ${p.fid} not found in K3Cloud`,
            { kind: 'not-found', fault: 'theirs', code: 'CLI_PURCHASE_ORDER_NOT_FOUND' },
          );
        } else {
          p.candidate.action = `${p.candidate.action} (${billNos.get(p.fid)})`;
        }
      }
      if (known.length > 0) {
        io.stderr(`运行 running purchase-order-to-in-stock for ${known.length} bill(s)…\n`);
        runs.push(
          await runPurchaseOrderToInStock(runtime, {
            billNos: [...new Set(known.map((p) => billNos.get(p.fid) ?? ''))],
          }),
        );
        await settleFromSyncLog(
          runtime,
          known.map((p) => p.candidate),
          startedAtMs,
        );
      }
    } catch (error) {
      for (const p of work.purchaseOrders) {
        p.candidate.result = 'failed';
        p.candidate.error = asSyncError(error);
      }
    }
  }
  if (work.deliveries.size > 0) {
    const startedAtMs = runtime.clock();
    const candidates = [...work.deliveries.values()].flatMap((entry) => entry.candidates);
    try {
      for (const [formId, entry] of work.deliveries) {
        const name = `delivery-to-fxiaoke.${formId}`;
        const stored = await runtime.state.cursors.get(name);
        // Only ever backwards: a watermark already before the bill stays (the poll reaches the bill anyway).
        if (stored === undefined || stored.watermark.modifiedAtMs >= entry.fromMs) {
          await runtime.state.cursors.reset(
            name,
            { modifiedAtMs: Math.max(0, entry.fromMs - 1_000), id: '0' },
            { runId: `replay-${runId}` },
          );
        }
      }
      io.stderr('运行 running delivery-to-fxiaoke…\n');
      runs.push(await runDeliveryToFxiaoke(runtime));
      await settleFromSyncLog(runtime, candidates, startedAtMs);
    } catch (error) {
      for (const item of candidates) {
        item.result = 'failed';
        item.error = asSyncError(error);
      }
    }
  }
  return runs;
}

/**
 * The outcome of an in-process run per candidate: its newest sync-log entry written since the run started
 * (none: the run did not touch it — not eligible any more, or already done).
 */
async function settleFromSyncLog(
  runtime: SyncRuntime,
  candidates: readonly Candidate[],
  sinceMs: number,
): Promise<void> {
  for (const item of candidates) {
    const newest = (await historyByFlow(runtime, item.source)).get(item.flow)?.[0];
    if (newest === undefined || newest.atMs < sinceMs) {
      item.result = 'skipped';
      item.why = `${item.why}; 本次运行未处理它 / this run did not touch it`;
    } else if (newest.outcome === 'failed') {
      item.result = 'failed';
      item.error = new CliError(newest.error?.message ?? newest.reason ?? 'failed', {
        kind: 'business',
        fault: 'theirs',
        code: newest.error?.code ?? 'CLI_REPLAY_FAILED',
        remoteMessages: newest.error?.remoteMessages ?? [],
      });
    } else {
      item.result = newest.outcome === 'succeeded' ? 'succeeded' : 'skipped';
      if (newest.reason) item.why = `${item.why}; ${newest.reason}`;
    }
  }
}

/** Purchase order FID → bill number (one K3 query). */
async function purchaseOrderNumbers(
  runtime: SyncRuntime,
  fids: readonly string[],
): Promise<Map<string, string>> {
  const ids = [...new Set(fids.map(Number).filter((n) => Number.isInteger(n) && n > 0))];
  const out = new Map<string, string>();
  if (ids.length === 0) return out;
  const query = buildBillQuery(PURCHASE_ORDER_FORM_ID, ['FID', 'FBillNo'], k3In('FID', ids), { limit: 2000 });
  for (const row of await queryRows(runtime.k3(), query)) {
    const billNo = cellText(row, 'FBillNo');
    if (billNo !== undefined) out.set(String(cellId(row, 'FID', PURCHASE_ORDER_FORM_ID)), billNo);
  }
  return out;
}

/**
 * Run the replay (module comment).
 *
 * @returns exit code 0 when everything selected was replayed (or nothing needed it), 1 when something
 *   could not be.
 */
export async function replayCommand(args: ReplayArgs, session: CliSession, io: CliIo): Promise<number> {
  if (args.selection.kind === 'dlq') return await redriveCommand(args.selection.flow, args, session, io);
  const runtime = await session.runtime();
  const now = session.clock();
  const runId = newReplayRunId(now);
  let candidates: Candidate[];
  let truncated = false;
  if (args.selection.kind === 'records') {
    candidates = await selectByRecords(runtime, args.selection.records, args.force);
  } else {
    const selected = await selectByFilter(runtime, args.selection, args, now);
    candidates = selected.candidates;
    truncated = selected.truncated;
  }
  const work = plan(runtime, candidates, runId);
  let runs: RunSummary[] = [];
  if (args.dryRun) {
    for (const item of candidates) if (item.decision === 'replay' && !item.error) item.result = 'planned';
  } else {
    runs = await execute(runtime, work, runId, io, now);
  }
  for (const item of candidates)
    if (item.decision === 'skip' && item.result === undefined) item.result = 'skipped';
  const failed = candidates.filter((item) => item.result === 'failed' || item.error !== undefined);
  const exit = failed.length > 0 ? EXIT.failed : EXIT.ok;

  if (args.json) {
    io.stdout(
      `${toJson({
        command: 'replay',
        runId,
        dryRun: args.dryRun,
        selection: args.selection,
        truncated,
        items: candidates.map((item) => ({
          record: item.source,
          flow: item.flow,
          decision: item.decision,
          why: item.why,
          action: item.action || undefined,
          result: item.result,
          lastError: item.failure?.error ?? item.newest?.error,
          ...(item.error ? { error: failureJson(item.error) } : {}),
        })),
        runs,
      })}\n`,
    );
    return exit;
  }
  const lines: string[] = [];
  lines.push(
    `重放 Replay — ${session.target.label} · run ${runId}${args.dryRun ? ' · 预演，未执行 dry run, nothing sent' : ''}`,
  );
  if (candidates.length === 0) {
    lines.push('没有需要重放的记录 / nothing to replay');
  } else {
    lines.push(
      renderTable(
        ['记录 Record', '流程 Flow', '上次错误 Last error', '结果 Result', '说明 Why'],
        candidates.map((item) => [
          recordText(item.source),
          item.flow,
          (item.failure?.error ?? item.newest?.error)?.code ?? '—',
          resultText(item),
          item.why,
        ]),
      ),
    );
    for (const item of candidates.filter((c) => c.action && c.decision === 'replay')) {
      lines.push(`  ${recordText(item.source)}: ${item.action}`);
    }
    for (const item of failed) {
      if (item.error) {
        lines.push('');
        lines.push(`${recordText(item.source)} (${item.flow}):`);
        lines.push(...failureLines(item.error, '  '));
      }
    }
  }
  if (truncated)
    lines.push(
      `只取了前 ${args.limit} 条；用 --limit 调整 / only the first ${args.limit} taken; see --limit`,
    );
  const queued = candidates.filter((item) => item.result === 'queued').length;
  if (queued > 0) {
    lines.push('');
    lines.push(
      `${queued} 条已入队，流程将重新读取并同步；用 npx fxk3 status 或同步日志查看结果 / ${queued} queued: the flows re-read and sync them; follow up with npx fxk3 status or the sync log`,
    );
  }
  io.stdout(`${lines.join('\n')}\n`);
  return exit;
}

function resultText(item: Candidate): string {
  switch (item.result) {
    case 'queued':
      return '已入队 queued';
    case 'already queued':
      return '已在队列 already queued';
    case 'succeeded':
      return '✓ 成功 succeeded';
    case 'failed':
      return '✗ 失败 failed';
    case 'planned':
      return '将重放 would replay';
    case 'skipped':
      return '不重放 not replayed';
    default:
      return item.error ? '✗ 失败 failed' : '—';
  }
}

async function redriveCommand(
  flow: QueueFlowName,
  args: ReplayArgs,
  session: CliSession,
  io: CliIo,
): Promise<number> {
  const role = ROLE_OF_QUEUE_FLOW[flow];
  const mainUrl = session.target.queueUrls[role];
  if (mainUrl === undefined) {
    throw new CliError(`流程 ${flow} 的队列未配置 / the queue of ${flow} is not configured`, {
      kind: 'config',
      fault: 'ours',
      code: 'CLI_QUEUE_NOT_CONFIGURED',
    });
  }
  const sqs = session.target.sqs;
  const main = await queueInfo(sqs, mainUrl);
  if (!main.deadLetter) {
    throw new CliError(
      `队列 ${main.name} 没有死信队列（RedrivePolicy）/ queue ${main.name} has no dead-letter queue (RedrivePolicy)`,
      {
        kind: 'config',
        fault: 'ours',
        code: 'CLI_NO_DLQ',
      },
    );
  }
  const dlqUrl = await queueUrlOfArn(sqs, main.deadLetter.arn);
  const runId = newReplayRunId(session.clock());
  const result = await redrive(sqs, {
    from: dlqUrl,
    to: mainUrl,
    runId,
    limit: args.limit,
    dryRun: args.dryRun,
    waitSeconds: session.target.receiveWaitSeconds,
    onBatch: (moved) => io.stderr(`  已移回 moved back ${moved}\n`),
  });
  if (args.json) {
    io.stdout(
      `${toJson({
        command: 'replay',
        mode: 'dlq',
        flow,
        runId,
        dryRun: args.dryRun,
        from: queueNameOfUrl(dlqUrl),
        to: main.name,
        moved: result.moved,
        messages: result.messages.map((m) => ({ ...m, body: parseBody(m.body) })),
      })}\n`,
    );
    return EXIT.ok;
  }
  const lines: string[] = [];
  lines.push(
    renderFields([
      [
        '死信重投 DLQ redrive',
        `${queueNameOfUrl(dlqUrl)} → ${main.name}${args.dryRun ? ' — 预演，仅列出 dry run, listed only' : ''}`,
      ],
      ['消息 Messages', String(result.messages.length)],
      ...(args.dryRun ? [] : ([['已移回 Moved back', String(result.moved)]] satisfies [string, string][])),
      ['run', runId],
    ]),
  );
  if (result.messages.length > 0) {
    lines.push('');
    lines.push(
      renderTable(
        ['消息 Message', '组 Group', '接收次数 Receives', '发送于 Sent', '内容 Body'],
        result.messages.map((m) => [
          m.messageId,
          m.groupId ?? '—',
          m.receiveCount === undefined ? '—' : String(m.receiveCount),
          formatTime(m.sentAtMs),
          summarizeBody(m.body),
        ]),
      ),
    );
  }
  io.stdout(`${lines.join('\n')}\n`);
  return EXIT.ok;
}

function parseBody(body: string): unknown {
  try {
    return JSON.parse(body);
  } catch {
    return body;
  }
}

function summarizeBody(body: string): string {
  const parsed = parseBody(body);
  if (typeof parsed !== 'object' || parsed === null) return body.slice(0, 80);
  const kind = Reflect.get(parsed, 'kind');
  if (kind === 'change')
    return `change ${String(Reflect.get(parsed, 'apiName'))}:${String(Reflect.get(parsed, 'dataId'))}`;
  if (kind === 'delivery-notice')
    return `delivery-notice SalesOrderObj:${String(Reflect.get(parsed, 'orderId'))}`;
  if (kind === 'write-back')
    return `write-back ${String(Reflect.get(parsed, 'apiName'))}:${String(Reflect.get(parsed, 'id'))}`;
  return body.slice(0, 80);
}
