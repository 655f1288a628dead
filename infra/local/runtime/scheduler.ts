/**
 * EventBridge schedules for the scheduled functions, with the runtime clock:
 *
 * - each `schedule` event of serverless.yml fires on its rate (counted from the stack's start, as a new
 *   rule's rate is counted from its creation) or cron (UTC);
 * - the event is EventBridge's "Scheduled Event" shape (`version`, `id`, `detail-type`, `source`
 *   `aws.events`, `account`, `time` = the scheduled minute, `region`, `resources` = the rule ARN,
 *   `detail: {}`), or the constant `input` when serverless.yml gives one;
 * - a failed run is retried as an asynchronous invocation is (Lambda Developer Guide, "Asynchronous
 *   invocation": two more attempts, one minute then two minutes later; `maximumRetryAttempts` lowers it);
 * - a function never overlaps itself: a tick that finds the previous run (or its retries) still going is
 *   skipped and logged — locally, one run at a time is what the ERP polling flows need (their cursors make
 *   the next run pick up whatever the skipped one would have read).
 */
import { randomUUID } from 'node:crypto';
import { type Logger, silentLogger } from '../../../lib/log.ts';
import type { RuntimeClock, TimerHandle } from './clock.ts';
import type { FunctionInvoker, InvokeResult } from './lambda/invoker.ts';
import { nextFireTime } from './schedule-expression.ts';
import type { ScheduleTrigger } from './serverless/stack-definition.ts';

/** Lambda's asynchronous retry delays: 1 minute before the 2nd attempt, 2 minutes before the 3rd. */
export const ASYNC_RETRY_DELAYS_MS = [60_000, 120_000] as const;

export interface ScheduledFunction {
  invoker: FunctionInvoker;
  schedules: readonly ScheduleTrigger[];
  /** 0–2 (serverless.yml `maximumRetryAttempts`, default 2). */
  maximumRetryAttempts: number;
}

export interface ScheduleRunReport {
  functionName: string;
  /** Which schedule fired (its location in serverless.yml), or `manual`. */
  scheduleId: string;
  scheduledAtMs: number;
  attempt: number;
  outcome: 'succeeded' | 'failed' | 'skipped';
  result: InvokeResult | undefined;
}

export interface SchedulerOptions {
  functions: readonly ScheduledFunction[];
  clock: RuntimeClock;
  region: string;
  accountId: string;
  logger?: Logger;
  onRun?: (report: ScheduleRunReport) => void;
}

/** EventBridge's scheduled-event payload for a rule firing at `atMs`. */
export function scheduledEvent(
  ruleArn: string,
  atMs: number,
  region: string,
  accountId: string,
): Record<string, unknown> {
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': 'Scheduled Event',
    source: 'aws.events',
    account: accountId,
    time: new Date(Math.floor(atMs / 60_000) * 60_000).toISOString().replace('.000Z', 'Z'),
    region,
    resources: [ruleArn],
    detail: {},
  };
}

interface FunctionState {
  entry: ScheduledFunction;
  /** A run (or its pending retries) is under way. */
  busy: boolean;
  current: Promise<void> | undefined;
  timers: TimerHandle[];
  retryTimer: TimerHandle | undefined;
}

export class Scheduler {
  readonly #options: SchedulerOptions;
  readonly #logger: Logger;
  readonly #states = new Map<string, FunctionState>();
  #anchorMs = 0;
  #stopped = false;

  constructor(options: SchedulerOptions) {
    this.#options = options;
    this.#logger = options.logger ?? silentLogger;
    for (const entry of options.functions) {
      this.#states.set(entry.invoker.functionName, {
        entry,
        busy: false,
        current: undefined,
        timers: [],
        retryTimer: undefined,
      });
    }
  }

  /** When each enabled schedule fires next (epoch ms), for the banner and the status endpoint. */
  nextRuns(): {
    functionName: string;
    scheduleId: string;
    expression: string;
    nextAtMs: number | undefined;
  }[] {
    const now = this.#options.clock.now();
    const anchor = this.#anchorMs || now;
    return [...this.#states.values()].flatMap((state) =>
      state.entry.schedules
        .filter((s) => s.enabled)
        .map((s) => ({
          functionName: state.entry.invoker.functionName,
          scheduleId: s.id,
          expression: s.expression.text,
          nextAtMs: nextFireTime(s.expression, now, anchor),
        })),
    );
  }

  start(): void {
    this.#anchorMs = this.#options.clock.now();
    for (const state of this.#states.values()) {
      state.entry.schedules.forEach((schedule, index) => {
        if (schedule.enabled) this.#arm(state, schedule, index, this.#anchorMs);
      });
    }
  }

  /**
   * Run a function now, as its schedule would (the control endpoint's "run now"); skipped when it is
   * already running.
   */
  runNow(functionName: string): Promise<ScheduleRunReport> | undefined {
    const state = this.#states.get(functionName);
    if (!state || this.#stopped) return undefined;
    const now = this.#options.clock.now();
    const schedule = state.entry.schedules[0];
    return this.#fire(state, 'manual', schedule?.input, now);
  }

  /** Stop firing; wait up to `graceMs` for runs in progress (pending retries are dropped). */
  async stop(graceMs: number): Promise<void> {
    this.#stopped = true;
    const running: Promise<void>[] = [];
    for (const state of this.#states.values()) {
      for (const timer of state.timers) timer.cancel();
      state.retryTimer?.cancel();
      if (state.current) running.push(state.current);
    }
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(running),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, graceMs);
      }),
    ]);
    clearTimeout(timer);
  }

  #ruleArn(state: FunctionState, index: number): string {
    const { region, accountId } = this.#options;
    return `arn:aws:events:${region}:${accountId}:rule/${state.entry.invoker.functionName}-schedule-${index + 1}`;
  }

  #arm(state: FunctionState, schedule: ScheduleTrigger, index: number, afterMs: number): void {
    if (this.#stopped) return;
    const { clock } = this.#options;
    const at = nextFireTime(schedule.expression, afterMs, this.#anchorMs);
    if (at === undefined) {
      this.#logger.warn('local.schedule.never', {
        function: state.entry.invoker.functionName,
        schedule: schedule.id,
      });
      return;
    }
    const timer = clock.setTimer(() => {
      state.timers = state.timers.filter((t) => t !== timer);
      void this.#fire(state, schedule.id, schedule.input, at, this.#ruleArn(state, index));
      this.#arm(state, schedule, index, at);
    }, at - clock.now());
    state.timers.push(timer);
  }

  #fire(
    state: FunctionState,
    scheduleId: string,
    input: unknown,
    atMs: number,
    ruleArn = this.#ruleArn(state, 0),
  ): Promise<ScheduleRunReport> {
    const functionName = state.entry.invoker.functionName;
    if (state.busy) {
      const report: ScheduleRunReport = {
        functionName,
        scheduleId,
        scheduledAtMs: atMs,
        attempt: 0,
        outcome: 'skipped',
        result: undefined,
      };
      this.#logger.warn('local.schedule.skipped', {
        function: functionName,
        schedule: scheduleId,
        reason: 'the previous run is still going / 上一次运行尚未结束',
      });
      this.#options.onRun?.(report);
      return Promise.resolve(report);
    }
    state.busy = true;
    // One event for every attempt, as Lambda retries an asynchronous invocation with the same event.
    const event =
      input !== undefined
        ? input
        : scheduledEvent(ruleArn, atMs, this.#options.region, this.#options.accountId);
    return new Promise<ScheduleRunReport>((resolveFirst) => {
      const attempt = async (n: number): Promise<void> => {
        const result = await state.entry.invoker.invoke(event);
        const report: ScheduleRunReport = {
          functionName,
          scheduleId,
          scheduledAtMs: atMs,
          attempt: n,
          outcome: result.ok ? 'succeeded' : 'failed',
          result,
        };
        const fields = {
          function: functionName,
          schedule: scheduleId,
          attempt: n,
          requestId: result.requestId,
          ms: result.durationMs,
        };
        if (result.ok) this.#logger.info('local.schedule.run', { ...fields, outcome: 'succeeded' });
        else this.#logger.error('local.schedule.run', { ...fields, outcome: 'failed', error: result.error });
        this.#options.onRun?.(report);
        if (n === 1) resolveFirst(report);
        const delay = ASYNC_RETRY_DELAYS_MS[n - 1];
        if (!result.ok && n <= state.entry.maximumRetryAttempts && delay !== undefined && !this.#stopped) {
          state.current = undefined;
          state.retryTimer = this.#options.clock.setTimer(() => {
            state.retryTimer = undefined;
            state.current = attempt(n + 1);
          }, delay);
          return;
        }
        state.busy = false;
        state.current = undefined;
      };
      state.current = attempt(1);
    });
  }
}
