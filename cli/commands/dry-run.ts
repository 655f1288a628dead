/**
 * `fxk3 dry-run <apiName> <id>` — "what will it send?": the flow's own queue processor runs over a runtime
 * that reads everything and writes nothing (`../dry-run-runtime.ts`), and the K3Cloud requests it would have
 * sent are printed, with the verdict (create, adopt, update which ERP record, skip, or the error).
 */
import type { CrmRecord } from '../../lib/fxiaoke/records.ts';
import type { BatchContext, QueueRecord, RecordReport } from '../../lib/sync/batch.ts';
import { processAccountChanges } from '../../lib/sync/customers.ts';
import type { ChangeMessage } from '../../lib/sync/messages.ts';
import { processSalesOrderChanges } from '../../lib/sync/sales-orders.ts';
import { routeOf } from '../../lib/sync/webhook.ts';
import { type DryRunRuntime, dryRunRuntime, type Placeholders } from '../dry-run-runtime.ts';
import { CliError, EXIT, failureJson, failureLines } from '../errors.ts';
import { type CliIo, renderFields, toJson } from '../io.ts';
import type { CliSession } from '../session.ts';

export interface DryRunArgs {
  apiName: string;
  id: string;
  json: boolean;
}

type Verdict = 'create' | 'adopt' | 'update' | 'skip' | 'fail';

const VERDICT_TEXT: Readonly<Record<Verdict, string>> = {
  create: '将新建 would CREATE',
  adopt: '将关联并更新已有记录 would ADOPT (found by external key) and UPDATE',
  update: '将更新 would UPDATE',
  skip: '将跳过 would SKIP',
  fail: '将失败 would FAIL',
};

function verdictOf(report: RecordReport): Verdict {
  const { outcome, reason } = report.result;
  if (outcome === 'failed') return 'fail';
  if (outcome === 'skipped') return 'skip';
  // The order flow suffixes its customer dependency's reason (`created (needed by a sales order)`).
  if (reason?.startsWith('created')) return 'create';
  if (reason?.startsWith('adopted existing ERP record')) return 'adopt';
  return 'update';
}

function describeRecord(record: CrmRecord | undefined): string {
  if (!record) return '—';
  const parts = [
    record.name ? `«${record.name}»` : undefined,
    record.version === undefined ? undefined : `version ${record.version}`,
    record.life_status ? `life_status ${record.life_status}` : undefined,
  ].filter((part) => part !== undefined);
  return parts.join(' · ');
}

/**
 * Run the dry run and print it.
 *
 * @returns exit code: 1 when the record would fail or does not exist, else 0.
 * @throws {SyncError} when the runtime cannot be built or a read fails (classified, exit 1).
 */
export async function dryRunCommand(args: DryRunArgs, session: CliSession, io: CliIo): Promise<number> {
  const runtime = await session.runtime();
  const route = routeOf(runtime.config, args.apiName);
  if (route === undefined) {
    const flow = args.apiName === 'AccountObj' ? 'flows.accountToCustomer' : 'flows.salesOrderToSaleOrder';
    throw new CliError(
      `映射配置中没有启用处理 ${args.apiName} 的流程（${flow}.enabled）/ no enabled flow of the mapping config handles ${args.apiName} (${flow}.enabled)`,
      { kind: 'config', fault: 'ours', code: 'CLI_FLOW_DISABLED' },
    );
  }
  const dry = dryRunRuntime(runtime, session.target.dynamo, session.target.sqs);
  try {
    const now = session.clock();
    const messageId = `dry-run:${now}`;
    const record: QueueRecord<ChangeMessage> = {
      sqsMessageId: messageId,
      receiptHandle: messageId,
      body: {
        kind: 'change',
        messageId,
        apiName: args.apiName,
        dataId: args.id,
        eventType: 'dry-run',
        receivedAtMs: now,
        via: 'dry-run',
      },
      receiveCount: 1,
      groupId: `${args.apiName}:${args.id}`,
    };
    const ctx: BatchContext = {
      runtime: dry.runtime,
      logger: session.logger,
      maxReceiveCount: runtime.settings.maxReceiveCount,
    };
    const reports =
      route === 'accountToCustomer'
        ? await processAccountChanges([record], ctx)
        : await processSalesOrderChanges([record], ctx);
    return print(args, reports, dry, session, io);
  } finally {
    await dry.close();
  }
}

function print(
  args: DryRunArgs,
  reports: readonly RecordReport[],
  dry: DryRunRuntime,
  session: CliSession,
  io: CliIo,
): number {
  const placeholders: Placeholders = dry.k3.placeholders;
  const read = dry.reads.get(`${args.apiName}:${args.id}`);
  const record = read?.found ? read.record : undefined;
  const notFound = reports.some(
    (report) => report.result.outcome === 'skipped' && (report.result.reason ?? '').startsWith('not-found'),
  );
  const failed = reports.some((report) => report.result.outcome === 'failed');
  const results = reports.map((report) => {
    const result = report.result;
    return {
      flow: result.flow,
      source: result.source,
      verdict: verdictOf(report),
      outcome: result.outcome,
      reason: result.reason,
      sourceVersion: result.sourceVersion,
      target: placeholders.reveal(result.target),
      operations: result.operations ?? [],
      ...(result.error ? { error: failureJson(result.error) } : {}),
    };
  });
  const requests = dry.k3.requests.map((request) => ({
    ...request,
    data: placeholders.reveal(request.data),
  }));
  const queued = dry.queues.messages.map((message) => placeholders.reveal(message));
  const exit = failed || notFound ? EXIT.failed : EXIT.ok;

  if (args.json) {
    io.stdout(
      `${toJson({
        command: 'dry-run',
        deployment: { kind: session.target.kind, label: session.target.label },
        record: {
          apiName: args.apiName,
          id: args.id,
          found: read?.found ?? false,
          ...(record
            ? {
                name: record.name ?? undefined,
                version: record.version,
                lifeStatus: record.life_status ?? undefined,
              }
            : {}),
        },
        results,
        k3Requests: requests,
        queued,
        wrote: 'nothing',
      })}\n`,
    );
    return exit;
  }

  const lines: string[] = [];
  lines.push(`预演 Dry run — ${session.target.label}`);
  lines.push(
    renderFields([
      ['纷享记录 CRM record', `${args.apiName} ${args.id}`],
      [
        '',
        read?.found === false || notFound
          ? '不存在或不可见 / not found or not visible'
          : describeRecord(record),
      ],
    ]),
  );
  for (const result of results) {
    lines.push('');
    const target = result.target;
    const targetText =
      typeof target === 'object' && target !== null
        ? [
            Reflect.get(target, 'type'),
            Reflect.get(target, 'number'),
            Array.isArray(Reflect.get(target, 'ids'))
              ? `(FID ${String(Reflect.get(target, 'ids'))})`
              : undefined,
          ]
            .filter((part) => part !== undefined)
            .join(' ')
        : '';
    lines.push(
      renderFields([
        ['流程 Flow', `${result.flow} — ${result.source.type} ${result.source.id}`],
        [
          '结论 Verdict',
          `${VERDICT_TEXT[result.verdict]}${targetText ? ` ${targetText}` : ''}${result.verdict === 'skip' && result.reason ? `: ${result.reason}` : ''}`,
        ],
        ...(result.operations.length > 0
          ? ([['金蝶操作 K3 operations', result.operations.join(' → ')]] as const)
          : []),
      ]),
    );
    const report = reports.find(
      (r) => r.result.flow === result.flow && r.result.source.id === result.source.id,
    );
    if (report?.result.error) lines.push(...failureLines(report.result.error, '  '));
  }
  lines.push('');
  if (requests.length === 0) {
    lines.push('金蝶请求 K3Cloud requests: 无 / none would be sent');
  } else {
    lines.push(
      `金蝶请求 K3Cloud requests (${requests.length}), 按发送顺序 / in the order they would be sent:`,
    );
    requests.forEach((request, index) => {
      lines.push('');
      lines.push(`[${index + 1}] ${request.operation} ${request.formId}    POST ${request.url}`);
      lines.push(toJson(request.data));
    });
  }
  if (queued.length > 0) {
    lines.push('');
    lines.push('随后入队 Then queued:');
    for (const message of dry.queues.messages) {
      lines.push(`  ${message.queue}: ${JSON.stringify(placeholders.reveal(message.body))}`);
    }
  }
  lines.push('');
  lines.push(
    '未写入任何内容：没有链接、认领、同步日志、收件箱、快照或队列消息 / nothing was written: no link, claim, sync-log entry, inbox entry, snapshot or queue message',
  );
  io.stdout(`${lines.join('\n')}\n`);
  return exit;
}
