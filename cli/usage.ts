/**
 * Help texts, Chinese then English, one per command (docs/cli.md has the long form).
 */
import type { CommandName } from './args.ts';

const STACK_OPTIONS = `连接哪个部署 / Which deployment:
  (默认 default)        运行中的本地运行时（npm start），或环境变量指定的表和队列
                        the running local stack (npm start), or tables/queues named by environment variables
  --local               只用本地运行时 / the local stack only
  --stage <stage>       AWS 中已部署的 stage（表名、队列、SSM 前缀按 serverless.yml 推导）
                        a deployed AWS stage (tables, queues, SSM prefix derived from serverless.yml)
  --region <region>     与 --stage 一起用；默认 AWS_REGION / with --stage; default AWS_REGION

通用选项 / Common options:
  --json                输出一个 JSON 文档（供脚本使用）/ print one JSON document (for scripts)
  -v, --verbose         在 stderr 输出同步代码的日志 / the sync's log lines on stderr
  -h, --help            帮助 / help`;

const GENERAL = `fxk3 — 纷享销客 ⇄ 金蝶云星空 同步运维工具 / operator CLI of fxiaoke-k3cloud-sync

用法 / Usage:  npx fxk3 <命令 command> [选项 options]      （或 / or  npm run fxk3 -- <command> …）

命令 / Commands:
  status                       是否正常？设置、连通性、队列、失败、游标 / is it working? settings, connectivity,
                               queues, failures, cursors
  dry-run <apiName> <id>       将发送什么？渲染金蝶请求但不发送 / what would it send? renders the K3Cloud requests
  replay …                     修正后重发失败的记录或死信 / resend failed records or dead letters after a fix
  backfill <apiName> …         首次加载已有的 CRM 记录 / initial load of existing CRM records
  help <command>               命令帮助 / help on a command

${STACK_OPTIONS}

退出码 / Exit codes: 0 正常 ok · 1 不健康或失败 unhealthy or failed · 2 参数错误 bad arguments`;

const USAGE: Readonly<Record<Exclude<CommandName, 'help'>, string>> = {
  status: `用法 / Usage:  npx fxk3 status [--json] [--local | --stage <stage> [--region <region>]]

运行模式、设置是否有效（不显示密钥）、金蝶与纷享的连通性（原文显示错误）、队列与死信队列深度、
最近 24 小时按流程和错误代码统计的失败、定时流程的游标、各流程最近一次成功同步。
Mode, settings validity (never secrets), K3Cloud and Fxiaoke connectivity (vendor messages verbatim), queue
and DLQ depths, failures of the last 24 h by flow and error code, cursors of the scheduled flows, the last
successful sync per flow.

退出码 1：设置无效、连不上、或死信队列中有消息 / exit code 1: bad settings, unreachable, or dead letters.

${STACK_OPTIONS}`,
  'dry-run': `用法 / Usage:  npx fxk3 dry-run <AccountObj | SalesOrderObj | SalesOrderProductObj> <id> [--json]

重新读取记录（含明细），只读地解析引用（链接、按外部键查金蝶、物料），运行映射，打印将发送的金蝶请求
（Save 的 Model 与 NeedUpDateFields，以及随后的 UnAudit/Submit/Audit/Allocate），说明是新建还是更新哪条
金蝶记录，或该记录会因何失败。不写入任何同步状态（链接、认领、同步日志、收件箱、快照、队列）。
Re-reads the record (with details), resolves references read-only (links, K3 lookups by external key,
materials), runs the mapping and prints the exact K3Cloud requests that would be sent (Save with its Model and
NeedUpDateFields, then UnAudit/Submit/Audit/Allocate), whether it would create or update which ERP record, or
the error it would fail with. Writes no sync state (no link, claim, sync-log entry, inbox entry, snapshot or
queue message).

退出码 1：该记录会失败或不存在 / exit code 1: the record would fail or does not exist.

${STACK_OPTIONS}`,
  replay: `用法 / Usage:
  npx fxk3 replay --record <对象 object>:<id> [--record …] [--force] [--dry-run]
  npx fxk3 replay [--flow <flow>] [--since <时间 time>] [--code <错误代码 code>] [--all] [--force] [--dry-run] [--limit N]
  npx fxk3 replay --dlq <flow> [--dry-run] [--limit N]

按记录或按筛选（同步日志的失败索引）把失败的记录重新送入其流程；默认只选最近一次尝试失败的记录
（--all：窗口内失败过、之后未成功的全部记录）；最近一次尝试成功的记录只有加 --force 才重放。
--dlq：把某流程死信队列中的消息移回其队列（保留 FIFO 组，每次重放使用新的去重 ID；流水线的幂等保证
不会产生重复的金蝶记录）。--dry-run 只列出将重放的内容。
Re-sends failed records into their flow, by record or by filter (the sync log's failed index); by default
only records whose newest attempt failed (--all: every record that failed in the window and has not
succeeded since); a record whose newest attempt succeeded only with --force. --dlq moves a flow's
dead-letter messages back to its queue (FIFO groups kept, a fresh deduplication id per replay run; the
pipeline's idempotency guarantees no duplicate ERP record). --dry-run lists what would be replayed.

流程 flows: account-to-customer, sales-order-to-sale-order, sale-order-to-delivery-notice,
            purchase-order-to-in-stock, delivery-to-fxiaoke, crm-write-back
时间 time: 2026-11-20（本机时区零点 / local midnight）, 2026-11-20T08:00+08:00, 24h, 7d（默认 default 24h）

${STACK_OPTIONS}`,
  backfill: `用法 / Usage:  npx fxk3 backfill <AccountObj | SalesOrderObj> [--since <时间 time>] [--limit N]
                                    [--after <游标 cursor>] [--run <名称 name>] [--dry-run]

按 _id 键集分页读取已有的 CRM 记录（在纷享的调用频率限制内），为每条记录向其流程的队列放入一个变更事件
（与 webhook 相同的格式）；流程会先按外部键查找，已在金蝶中的记录会被关联而不是重复创建。
可续传：进度保存在协调表中，同名 --run 再次运行会从上次位置继续；--after 指定游标。
--since 只加载该时间之后修改过的记录。
Pages through existing CRM records by _id (inside Fxiaoke's rate limit) and puts one change event per record
on its flow's queue (the webhook's message shape); the flows look records up by external key first, so
records already in the ERP are linked, not duplicated. Resumable: progress is kept in the coordination table
and a re-run with the same --run continues where it stopped; --after gives the cursor explicitly. --since
loads only records modified since then.

${STACK_OPTIONS}`,
};

/** The help text of a command, or the general one. */
export function usageText(command?: string): string {
  return command !== undefined && hasUsage(command) ? USAGE[command] : GENERAL;
}

function hasUsage(command: string): command is keyof typeof USAGE {
  return Object.hasOwn(USAGE, command);
}

/** The first block of a command's help (its usage lines), for argument errors. */
export function usageSynopsis(command?: string): string {
  const text = usageText(command);
  const synopsis = text.split('\n\n')[0] ?? text;
  return command !== undefined && hasUsage(command)
    ? `${synopsis}\n更多 / more: npx fxk3 help ${command}`
    : `${text.split('\n\n').slice(0, 3).join('\n\n')}\n更多 / more: npx fxk3 help`;
}
