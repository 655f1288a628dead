/**
 * `fxk3 backfill <apiName>` — the initial load: "load the 3 000 customers we already have".
 *
 * Primary course:
 * 1. Find the flow that owns the object (`routeOf`, the webhook's own routing) — a disabled flow is an error.
 * 2. Page through the CRM records by `_id` keyset (`queryPages`, Fxiaoke's documented deep paging: no
 *    10 000-offset cap), 100 per call, through the Fxiaoke client's shared rate limiter — the same budget
 *    the flows use, so a 3 000-record load (30 calls) never trips 14001.
 * 3. Per page, one synthetic change event per record, recorded and queued exactly like a push
 *    (`../enqueue.ts`); messageId `backfill:<run>:<apiName>:<_id>`, so re-running the same backfill
 *    enqueues nothing twice.
 * 4. After each page the position is stored in the coordination table (cursor `backfill.<apiName>.<run>`)
 *    and printed: an interrupted backfill continues where it stopped (the same `--run`), or from `--after`.
 *
 * The flows then do what they do for every event: re-read the record (coalesced, ~1 call per 100), look it
 * up in K3 by its external key before creating — a record already in the ERP is linked, not duplicated.
 */
import type { Filter } from '../../lib/fxiaoke/query.ts';
import type { QueueRole } from '../../lib/sync/queues.ts';
import { routeOf } from '../../lib/sync/webhook.ts';
import { enqueueChanges } from '../enqueue.ts';
import { CliError, EXIT } from '../errors.ts';
import { type CliIo, renderFields, toJson } from '../io.ts';
import type { CliSession } from '../session.ts';

export interface BackfillArgs {
  apiName: string;
  sinceMs: number | undefined;
  limit: number | undefined;
  after: string | undefined;
  runId: string | undefined;
  dryRun: boolean;
  json: boolean;
}

/** Fxiaoke's page size (spec §4.1: limit ≤ 100). */
const PAGE_SIZE = 100;

const FLOW_OF_ROLE: Readonly<Partial<Record<QueueRole, string>>> = {
  accountToCustomer: 'account-to-customer',
  salesOrderToSaleOrder: 'sales-order-to-sale-order',
};

/** `all`, or `since-20261120` (the day of `--since` in this computer's time zone, as the operator typed it). */
export function defaultRunId(sinceMs: number | undefined): string {
  if (sinceMs === undefined) return 'all';
  const day = new Date(sinceMs);
  const two = (n: number) => String(n).padStart(2, '0');
  return `since-${day.getFullYear()}${two(day.getMonth() + 1)}${two(day.getDate())}`;
}

/** The coordination-table cursor holding a backfill run's position. */
export function backfillCursorName(apiName: string, runId: string): string {
  return `backfill.${apiName}.${runId}`;
}

/**
 * Run the backfill (module comment).
 *
 * @returns exit code 0 when every page was handled.
 * @throws {SyncError} when Fxiaoke, the inbox or SQS fails — after printing where to resume.
 */
export async function backfillCommand(args: BackfillArgs, session: CliSession, io: CliIo): Promise<number> {
  const runtime = await session.runtime();
  const role = routeOf(runtime.config, args.apiName);
  const flow = role === undefined ? undefined : FLOW_OF_ROLE[role];
  if (role === undefined || flow === undefined) {
    const key = args.apiName === 'AccountObj' ? 'flows.accountToCustomer' : 'flows.salesOrderToSaleOrder';
    throw new CliError(
      `映射配置中没有启用处理 ${args.apiName} 的流程（${key}.enabled）/ no enabled flow of the mapping config handles ${args.apiName} (${key}.enabled)`,
      { kind: 'config', fault: 'ours', code: 'CLI_FLOW_DISABLED' },
    );
  }
  // Queue URL first: a missing queue should stop us before the first CRM call.
  runtime.queues.url(role);
  const runId = args.runId ?? defaultRunId(args.sinceMs);
  const cursorName = backfillCursorName(args.apiName, runId);
  const cursors = runtime.state.cursors;
  let startAfter = args.after;
  if (startAfter === undefined) {
    startAfter = (await cursors.get(cursorName))?.watermark.id || undefined;
  } else if (!args.dryRun) {
    // An explicit position replaces the stored one, so the next resume follows this run.
    await cursors.reset(cursorName, { modifiedAtMs: 0, id: startAfter }, { runId });
  }
  const progress = (text: string) => {
    io.stderr(`${text}\n`);
  };
  progress(
    `回填 Backfill ${args.apiName} → ${flow} · run "${runId}"${args.dryRun ? ' · 预演 dry run' : ''} · ${
      startAfter === undefined
        ? '从头开始 / from the beginning'
        : `从 ${startAfter} 之后继续 / resuming after ${startAfter}${args.after === undefined ? ' (已保存的进度 saved progress)' : ''}`
    }${args.sinceMs === undefined ? '' : ` · 修改于 modified since ${new Date(args.sinceMs).toISOString()}`}`,
  );

  const filters: Filter[] =
    args.sinceMs === undefined
      ? []
      : [{ field: 'last_modified_time', operator: 'GTE', values: [args.sinceMs] }];
  let considered = 0;
  let queued = 0;
  let alreadyQueued = 0;
  let pages = 0;
  let lastId = startAfter;
  let complete = true;
  const fx = runtime.fx();
  try {
    for await (const page of fx.queryPages(args.apiName, {
      keyset: 'id',
      pageSize: PAGE_SIZE,
      filters,
      fieldProjection: ['_id', 'last_modified_time'],
      ...(startAfter === undefined ? {} : { after: { keyset: 'id', afterId: startAfter } }),
    })) {
      const room = args.limit === undefined ? page.records.length : args.limit - considered;
      const records = page.records.slice(0, Math.max(0, room));
      if (records.length === 0) {
        complete = false;
        break;
      }
      if (!args.dryRun) {
        const result = await enqueueChanges(
          runtime,
          role,
          records.map((record) => ({
            apiName: args.apiName,
            dataId: record._id,
            messageId: `backfill:${runId}:${args.apiName}:${record._id}`,
            changedAtMs: record.last_modified_time,
          })),
          'backfill',
        );
        queued += result.queued.length;
        alreadyQueued += result.alreadyQueued.length;
      }
      considered += records.length;
      pages += 1;
      lastId = records.at(-1)?._id ?? lastId;
      if (!args.dryRun && lastId !== undefined) {
        await cursors.advance(cursorName, { modifiedAtMs: 0, id: lastId }, { runId });
      }
      progress(
        `  第 ${pages} 页 page ${pages}: ${args.dryRun ? `将入队 would queue ${considered}` : `已入队 queued ${queued}, 已在队列 already queued ${alreadyQueued}`} · 续传 resume: --run ${runId} --after ${lastId}`,
      );
      if (args.limit !== undefined && considered >= args.limit) {
        complete = false;
        break;
      }
    }
  } catch (error) {
    progress(
      `✗ 回填中断 / backfill interrupted after ${considered} record(s)${
        lastId === undefined
          ? ''
          : `; 续传 resume with: npx fxk3 backfill ${args.apiName} --run ${runId} --after ${lastId}`
      }`,
    );
    throw error;
  }

  const summary = {
    command: 'backfill',
    apiName: args.apiName,
    flow,
    queue: runtime.queues.url(role),
    runId,
    dryRun: args.dryRun,
    since: args.sinceMs === undefined ? undefined : new Date(args.sinceMs).toISOString(),
    considered,
    queued,
    alreadyQueued,
    pages,
    complete,
    cursor: lastId,
    resume: lastId === undefined ? undefined : `--run ${runId} --after ${lastId}`,
  };
  if (args.json) {
    io.stdout(`${toJson(summary)}\n`);
    return EXIT.ok;
  }
  io.stdout(
    `${renderFields([
      [
        '回填 Backfill',
        `${args.apiName} → ${flow} (run "${runId}")${args.dryRun ? ' — 预演，未入队 dry run, nothing queued' : ''}`,
      ],
      ['记录 Records', String(considered)],
      ...(args.dryRun
        ? []
        : ([
            ['已入队 Queued', String(queued)],
            ['已在队列 Already queued (this run, earlier)', String(alreadyQueued)],
          ] satisfies [string, string][])),
      ['页 Pages', String(pages)],
      [
        '进度 Progress',
        complete
          ? '已读完全部记录 / every record read'
          : `达到 --limit，继续 / --limit reached; continue with: npx fxk3 backfill ${args.apiName} --run ${runId}`,
      ],
      ['游标 Cursor', lastId ?? '—'],
    ])}\n`,
  );
  if (!args.dryRun && queued > 0) {
    io.stdout(
      '流程会重新读取每条记录，先按外部键在金蝶中查找再决定新建或关联；用 npx fxk3 status 查看队列与失败 / the flows re-read each record and look it up in K3 by its external key before creating or linking; watch queues and failures with npx fxk3 status\n',
    );
  }
  return EXIT.ok;
}
