/**
 * Command-line parsing: four commands, few flags, every mistake answered with a bilingual sentence in the
 * operator's terms (the flag, what was expected, what was given) and exit code 2 — before anything is read
 * or written anywhere.
 */
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { UsageError } from './errors.ts';

export const COMMANDS = ['status', 'dry-run', 'replay', 'backfill', 'help'] as const;
export type CommandName = (typeof COMMANDS)[number];

/** The flows, by the names the sync log and docs/sync.md use. */
export const FLOWS = [
  'account-to-customer',
  'sales-order-to-sale-order',
  'sale-order-to-delivery-notice',
  'purchase-order-to-in-stock',
  'delivery-to-fxiaoke',
  'crm-write-back',
] as const;
export type FlowName = (typeof FLOWS)[number];

/** Flows with an SQS queue (and a dead-letter queue). */
export const QUEUE_FLOWS = [
  'account-to-customer',
  'sales-order-to-sale-order',
  'sale-order-to-delivery-notice',
  'crm-write-back',
] as const;
export type QueueFlowName = (typeof QUEUE_FLOWS)[number];

/** CRM objects a dry run can render (the objects the CRM → ERP flows consume). */
export const DRY_RUN_OBJECTS = ['AccountObj', 'SalesOrderObj', 'SalesOrderProductObj'] as const;
/** CRM objects a backfill can load (a line is loaded with its order). */
export const BACKFILL_OBJECTS = ['AccountObj', 'SalesOrderObj'] as const;

export interface GlobalOptions {
  json: boolean;
  verbose: boolean;
  /** AWS stage (deployed stack). */
  stage: string | undefined;
  region: string | undefined;
  /** Insist on the local stack (`npm start`). */
  local: boolean;
}

export interface RecordSelector {
  /** CRM apiName (AccountObj) or ERP formId (PUR_PurchaseOrder), as the sync log names sources. */
  type: string;
  id: string;
}

export type ReplaySelection =
  | { kind: 'records'; records: RecordSelector[] }
  | { kind: 'filter'; flow: FlowName | undefined; sinceMs: number; code: string | undefined; all: boolean }
  | { kind: 'dlq'; flow: QueueFlowName };

export type ParsedCommand =
  | { command: 'help'; topic: CommandName | undefined; global: GlobalOptions }
  | { command: 'status'; global: GlobalOptions }
  | { command: 'dry-run'; global: GlobalOptions; apiName: string; id: string }
  | {
      command: 'replay';
      global: GlobalOptions;
      selection: ReplaySelection;
      force: boolean;
      dryRun: boolean;
      limit: number;
    }
  | {
      command: 'backfill';
      global: GlobalOptions;
      apiName: string;
      sinceMs: number | undefined;
      limit: number | undefined;
      after: string | undefined;
      runId: string | undefined;
      dryRun: boolean;
    };

/** Default cap on records replayed or messages redriven per run (`--limit`). */
export const DEFAULT_REPLAY_LIMIT = 1_000;
/** Replay by filter without `--since`: the last 24 hours. */
export const DEFAULT_REPLAY_WINDOW_MS = 24 * 3_600_000;

const GLOBAL_OPTIONS = {
  json: { type: 'boolean' },
  verbose: { type: 'boolean', short: 'v' },
  stage: { type: 'string' },
  region: { type: 'string' },
  local: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

const REPLAY_OPTIONS = {
  ...GLOBAL_OPTIONS,
  record: { type: 'string', multiple: true },
  flow: { type: 'string' },
  since: { type: 'string' },
  code: { type: 'string' },
  all: { type: 'boolean' },
  force: { type: 'boolean' },
  'dry-run': { type: 'boolean' },
  dlq: { type: 'string' },
  limit: { type: 'string' },
} as const;

const BACKFILL_OPTIONS = {
  ...GLOBAL_OPTIONS,
  since: { type: 'string' },
  limit: { type: 'string' },
  after: { type: 'string' },
  run: { type: 'string' },
  'dry-run': { type: 'boolean' },
} as const;

const STAGE = /^[A-Za-z0-9-]{1,32}$/;
const REGION = /^[a-z]{2}(-[a-z]+)+-\d{1,2}$/;
const API_NAME = /^[A-Za-z][A-Za-z0-9_]{0,127}$/;
const RUN_ID = /^[A-Za-z0-9_.-]{1,64}$/;
const ERROR_CODE = /^[A-Za-z0-9_.:-]{1,128}$/;

function isCommand(value: string): value is CommandName {
  return (COMMANDS as readonly string[]).includes(value);
}

function oneOf<T extends string>(value: string, allowed: readonly T[], flag: string, command: string): T {
  const found = allowed.find((candidate) => candidate === value);
  if (found === undefined) {
    throw new UsageError(
      `${flag} 的取值无效："${value}"，应为 ${allowed.join(' | ')} / invalid ${flag} "${value}": expected one of ${allowed.join(', ')}`,
      command,
    );
  }
  return found;
}

function positiveInt(value: string, flag: string, command: string, max = 1_000_000): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < 1 || n > max) {
    throw new UsageError(
      `${flag} 应为 1–${max} 之间的整数，实际为 "${value}" / ${flag} must be a whole number from 1 to ${max}, got "${value}"`,
      command,
    );
  }
  return n;
}

/**
 * An instant from the command line: `2026-11-20` (midnight in this computer's time zone),
 * `2026-11-20T08:00`, `2026-11-20T08:00:00+08:00` / `…Z`, or a duration back from now: `24h`, `7d`, `30m`.
 *
 * @throws {UsageError} for anything else.
 */
export function parseInstant(value: string, flag: string, command: string, nowMs: number): number {
  const relative = /^(\d{1,6})(m|h|d)$/.exec(value);
  if (relative) {
    const unitMs = { m: 60_000, h: 3_600_000, d: 86_400_000 }[
      relative[2] === 'm' ? 'm' : relative[2] === 'h' ? 'h' : 'd'
    ];
    return nowMs - Number(relative[1]) * unitMs;
  }
  const dateOnly = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  const ms = dateOnly
    ? new Date(Number(dateOnly[1]), Number(dateOnly[2]) - 1, Number(dateOnly[3])).getTime()
    : /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/.test(value)
      ? Date.parse(value)
      : Number.NaN;
  const check = dateOnly ? new Date(ms) : undefined;
  if (
    !Number.isFinite(ms) ||
    (check &&
      dateOnly &&
      (check.getMonth() + 1 !== Number(dateOnly[2]) || check.getDate() !== Number(dateOnly[3])))
  ) {
    throw new UsageError(
      `${flag} 应为日期（2026-11-20）、时间（2026-11-20T08:00+08:00）或时长（24h、7d），实际为 "${value}" / ${flag} must be a date (2026-11-20), a time (2026-11-20T08:00+08:00) or a duration back from now (24h, 7d), got "${value}"`,
      command,
    );
  }
  if (ms > nowMs) {
    throw new UsageError(`${flag} 不能晚于现在 / ${flag} is in the future: "${value}"`, command);
  }
  return ms;
}

/** `AccountObj:5f9c…` → {type, id}. */
function parseRecord(value: string, command: string): RecordSelector {
  const colon = value.indexOf(':');
  const type = colon > 0 ? value.slice(0, colon) : '';
  const id = colon > 0 ? value.slice(colon + 1) : '';
  if (!API_NAME.test(type) || id.trim() === '' || id.length > 256 || /\s/.test(id)) {
    throw new UsageError(
      `--record 应为 <对象>:<id>，例如 AccountObj:5f9cd4e6e4400e0001217faa，实际为 "${value}" / --record must be <object>:<id>, e.g. AccountObj:5f9cd4e6e4400e0001217faa, got "${value}"`,
      command,
    );
  }
  return { type, id };
}

function checkId(id: string, what: string, command: string): string {
  if (id.trim() === '' || id.length > 256 || /\s/.test(id)) {
    throw new UsageError(`${what} 无效："${id}" / invalid ${what} "${id}"`, command);
  }
  return id;
}

type Values = Record<string, string | boolean | (string | boolean)[] | undefined>;

function globalsOf(values: Values, command: string): GlobalOptions {
  const str = (key: string) => (typeof values[key] === 'string' ? String(values[key]) : undefined);
  const stage = str('stage');
  const region = str('region');
  if (stage !== undefined && !STAGE.test(stage)) {
    throw new UsageError(
      `--stage 应为 1–32 个字母、数字或连字符，实际为 "${stage}" / --stage must be 1–32 letters, digits or hyphens, got "${stage}"`,
      command,
    );
  }
  if (region !== undefined && !REGION.test(region)) {
    throw new UsageError(
      `--region 应为 AWS 区域，例如 ap-east-1，实际为 "${region}" / --region must be an AWS region such as ap-east-1, got "${region}"`,
      command,
    );
  }
  if (region !== undefined && stage === undefined) {
    throw new UsageError('--region 需要与 --stage 一起使用 / --region only goes with --stage', command);
  }
  if (values.local === true && stage !== undefined) {
    throw new UsageError(
      '--local 与 --stage 不能同时使用 / use either --local or --stage, not both',
      command,
    );
  }
  return {
    json: values.json === true,
    verbose: values.verbose === true,
    stage,
    region,
    local: values.local === true,
  };
}

function parse(
  argv: readonly string[],
  options: ParseArgsConfig['options'],
  command: string,
): { values: Values; positionals: string[] } {
  try {
    const { values, positionals } = parseArgs({
      args: [...argv],
      options,
      strict: true,
      allowPositionals: true,
      allowNegative: false,
    });
    return { values, positionals };
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    throw new UsageError(`参数有误 / invalid arguments: ${detail}`, command);
  }
}

/**
 * Parse the arguments after `fxk3`.
 *
 * @param nowMs the current time, for `--since 24h`.
 * @throws {UsageError} naming the problem (exit code 2).
 */
export function parseCommandLine(argv: readonly string[], nowMs: number): ParsedCommand {
  const [first, ...rest] = argv;
  if (first === undefined || first === '--help' || first === '-h') {
    return { command: 'help', topic: undefined, global: globalsOf({}, 'help') };
  }
  if (!isCommand(first)) {
    throw new UsageError(
      first.startsWith('-')
        ? `请先写命令，再写选项 / put the command first, then its options (got "${first}")`
        : `未知命令 "${first}"，可用命令：status、dry-run、replay、backfill / unknown command "${first}"; commands: status, dry-run, replay, backfill`,
    );
  }
  const command = first;
  if (command === 'help') {
    const topic = rest[0];
    return {
      command: 'help',
      topic: topic !== undefined && isCommand(topic) ? topic : undefined,
      global: globalsOf({}, 'help'),
    };
  }
  const optionSet =
    command === 'replay' ? REPLAY_OPTIONS : command === 'backfill' ? BACKFILL_OPTIONS : GLOBAL_OPTIONS;
  const { values, positionals } = parse(rest, optionSet, command);
  const global = globalsOf(values, command);
  if (values.help === true) return { command: 'help', topic: command, global };
  const str = (key: string) => (typeof values[key] === 'string' ? String(values[key]) : undefined);
  const extra = (allowed: number) => {
    if (positionals.length > allowed) {
      throw new UsageError(
        `多余的参数：${positionals.slice(allowed).join(' ')} / unexpected argument(s): ${positionals.slice(allowed).join(' ')}`,
        command,
      );
    }
  };

  switch (command) {
    case 'status':
      extra(0);
      return { command, global };

    case 'dry-run': {
      extra(2);
      const [apiName, id] = positionals;
      if (apiName === undefined || id === undefined) {
        throw new UsageError(
          '需要对象和记录 id，例如 fxk3 dry-run AccountObj 5f9cd4e6e4400e0001217faa / give the object and the record id, e.g. fxk3 dry-run AccountObj 5f9cd4e6e4400e0001217faa',
          command,
        );
      }
      return {
        command,
        global,
        apiName: oneOf(apiName, DRY_RUN_OBJECTS, '<apiName>', command),
        id: checkId(id, 'id', command),
      };
    }

    case 'replay': {
      extra(0);
      const records = Array.isArray(values.record) ? values.record.map(String) : [];
      const flow = str('flow');
      const since = str('since');
      const code = str('code');
      const dlq = str('dlq');
      const limit =
        str('limit') === undefined
          ? DEFAULT_REPLAY_LIMIT
          : positiveInt(str('limit') ?? '', '--limit', command);
      const filterGiven =
        flow !== undefined || since !== undefined || code !== undefined || values.all === true;
      const modes = [records.length > 0, filterGiven, dlq !== undefined].filter(Boolean).length;
      if (modes === 0) {
        throw new UsageError(
          '请选择重放什么：--record <对象>:<id>、--flow/--since（按失败记录筛选）或 --dlq <流程> / choose what to replay: --record <object>:<id>, --flow/--since (failed records by filter), or --dlq <flow>',
          command,
        );
      }
      if (modes > 1) {
        throw new UsageError(
          '--record、--flow/--since/--code/--all 与 --dlq 只能选一种 / use only one of --record, --flow/--since/--code/--all, or --dlq',
          command,
        );
      }
      let selection: ReplaySelection;
      if (records.length > 0) {
        selection = { kind: 'records', records: records.map((r) => parseRecord(r, command)) };
      } else if (dlq !== undefined) {
        if (values.force === true) {
          throw new UsageError('--force 不适用于 --dlq / --force does not apply to --dlq', command);
        }
        selection = { kind: 'dlq', flow: oneOf(dlq, QUEUE_FLOWS, '--dlq', command) };
      } else {
        if (code !== undefined && !ERROR_CODE.test(code)) {
          throw new UsageError(`--code 无效："${code}" / invalid --code "${code}"`, command);
        }
        selection = {
          kind: 'filter',
          flow: flow === undefined ? undefined : oneOf(flow, FLOWS, '--flow', command),
          sinceMs:
            since === undefined
              ? nowMs - DEFAULT_REPLAY_WINDOW_MS
              : parseInstant(since, '--since', command, nowMs),
          code,
          all: values.all === true,
        };
      }
      return {
        command,
        global,
        selection,
        force: values.force === true,
        dryRun: values['dry-run'] === true,
        limit,
      };
    }

    case 'backfill': {
      extra(1);
      const [apiName] = positionals;
      if (apiName === undefined) {
        throw new UsageError(
          '需要对象，例如 fxk3 backfill AccountObj / give the object, e.g. fxk3 backfill AccountObj',
          command,
        );
      }
      if (apiName === 'SalesOrderProductObj') {
        throw new UsageError(
          '订单产品随订单一起加载，请使用 fxk3 backfill SalesOrderObj / order lines are loaded with their orders: use fxk3 backfill SalesOrderObj',
          command,
        );
      }
      const runId = str('run');
      if (runId !== undefined && !RUN_ID.test(runId)) {
        throw new UsageError(
          `--run 应为 1–64 个字母、数字、_ . -，实际为 "${runId}" / --run must be 1–64 letters, digits, _ . -, got "${runId}"`,
          command,
        );
      }
      const after = str('after');
      return {
        command,
        global,
        apiName: oneOf(apiName, BACKFILL_OBJECTS, '<apiName>', command),
        sinceMs:
          str('since') === undefined
            ? undefined
            : parseInstant(str('since') ?? '', '--since', command, nowMs),
        limit: str('limit') === undefined ? undefined : positiveInt(str('limit') ?? '', '--limit', command),
        after: after === undefined ? undefined : checkId(after, '--after', command),
        runId,
        dryRun: values['dry-run'] === true,
      };
    }
  }
}
