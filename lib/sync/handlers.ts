/**
 * The Lambda handler shapes, built once per function module: the one place where a failure becomes an HTTP
 * reply, an SQS retry decision, or a failed scheduled run. `functions/*.ts` only pick the flow.
 *
 * Cold start: the runtime (settings, mapping config, clients) is built on the first invocation; a bad
 * setting or config fails it with every problem named (the exact config path of a bad key), in the log
 * line `sync.runtime.failed` — for the webhook as a 500 (Fxiaoke redelivers once it is fixed), for queues
 * as a failed batch (SQS retries, then the DLQ keeps the messages for a redrive).
 */
import type {
  APIGatewayProxyEventV2,
  APIGatewayProxyStructuredResultV2,
  Context,
  SQSBatchResponse,
  SQSEvent,
} from 'aws-lambda';
import { z } from 'zod';
import { asSyncError, ConfigError, InvalidInputError } from '../errors.ts';
import { processQueueBatch, type QueueBatchOptions } from './batch.ts';
import { getRuntime, runtimeLogger, type SyncRuntime } from './runtime.ts';
import type { RunSummary } from './scheduled.ts';
import { handleWebhook, jsonReply } from './webhook.ts';

/** Time kept back from the Lambda deadline to answer cleanly (report the batch, log, return). */
const DEADLINE_MARGIN_MS = 10_000;

async function runtimeFor(fn: string): Promise<SyncRuntime> {
  try {
    return await getRuntime();
  } catch (error) {
    const failure = asSyncError(error);
    runtimeLogger().error('sync.runtime.failed', {
      fn,
      error: failure,
      ...(error instanceof ConfigError ? { problems: error.problems } : {}),
    });
    throw failure;
  }
}

/** Longest the init phase spends warming up (Lambda allows 10 s of init; a slow start must not fail it). */
const WARM_UP_BUDGET_MS = 3_000;

/**
 * Build the runtime during the init phase (top-level await in the function module) instead of inside the
 * first invocation, and open the DynamoDB connection with one read, so the first pushes after a cold
 * start are answered as fast as the rest. Only inside a Lambda container (`AWS_LAMBDA_FUNCTION_NAME` set,
 * as Lambda and the local stack do): a test importing the module builds nothing. Never throws and never
 * waits longer than {@link WARM_UP_BUDGET_MS}: a runtime that cannot be built is reported, as always, by
 * the first invocation.
 */
export async function warmUp(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  if (!env.AWS_LAMBDA_FUNCTION_NAME) return;
  const work = (async () => {
    const runtime = await getRuntime();
    // Any key: a miss still resolves the credentials and opens the keep-alive connection.
    await runtime.state.inbox.get('fxk3-warm-up');
  })().catch(() => {});
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    work,
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, WARM_UP_BUDGET_MS);
    }),
  ]);
  clearTimeout(timer);
}

/** The webhook's handler (API Gateway HTTP API, payload 2.0). Never throws. */
export function webhookHandler(): (
  event: APIGatewayProxyEventV2,
) => Promise<APIGatewayProxyStructuredResultV2> {
  return async (event) => {
    let runtime: SyncRuntime;
    try {
      runtime = await runtimeFor('fxiaoke-webhook');
    } catch (error) {
      const failure = asSyncError(error);
      return failure.kind === 'config'
        ? jsonReply(
            500,
            'WEBHOOK_MISCONFIGURED',
            '接收端配置错误 / receiver misconfigured (see the function log)',
          )
        : jsonReply(
            503,
            'WEBHOOK_UNAVAILABLE',
            '暂时无法接收，请稍后重推 / temporarily unavailable; please redeliver',
          );
    }
    return await handleWebhook(event, runtime);
  };
}

/** An SQS-triggered flow (FIFO queue, `ReportBatchItemFailures`). */
export function queueHandler<T>(
  fn: string,
  options: QueueBatchOptions<T>,
): (event: SQSEvent, context?: Context) => Promise<SQSBatchResponse> {
  return async (event, context) => {
    const runtime = await runtimeFor(fn);
    const remaining = context?.getRemainingTimeInMillis?.();
    const signal =
      remaining === undefined
        ? undefined
        : AbortSignal.timeout(Math.max(1_000, remaining - DEADLINE_MARGIN_MS));
    return await processQueueBatch(event, runtime, options, signal);
  };
}

const requestSchema = z.strictObject({
  billNos: z
    .array(z.string().trim().min(1).max(80))
    .min(1, 'give at least one bill number')
    .max(200, 'at most 200 bill numbers per request'),
});

/** What a scheduled function receives: an EventBridge schedule event, or a direct invoke with bill numbers. */
export type ScheduledInput = { kind: 'schedule' } | { kind: 'request'; billNos: string[] };

/**
 * Tell an EventBridge scheduled event from a direct invoke `{"billNos": [...]}`.
 *
 * @throws {InvalidInputError} for anything else, naming what is wrong.
 */
export function parseScheduledInput(event: unknown): ScheduledInput {
  if (typeof event === 'object' && event !== null && 'source' in event && 'detail-type' in event) {
    return { kind: 'schedule' };
  }
  const parsed = requestSchema.safeParse(event);
  if (!parsed.success) {
    throw new InvalidInputError(
      `请求格式不对：应为 {"billNos": ["CGDD000001", …]} / invalid request: expected {"billNos": ["CGDD000001", …]} (${parsed.error.issues
        .map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`)
        .join('; ')})`,
      'RUN_REQUEST_INVALID',
    );
  }
  return { kind: 'request', billNos: parsed.data.billNos };
}

/**
 * A scheduled flow (EventBridge), optionally also invokable with `{billNos}`. Per-record failures are in
 * the summary and the sync log; the handler throws only when the run as a whole failed (so the function's
 * error metric and alarm see it) or the request is invalid.
 */
export function scheduledHandler(
  fn: string,
  run: (runtime: SyncRuntime, input: ScheduledInput, deadlineMs: number | undefined) => Promise<RunSummary>,
  options: { acceptsRequests: boolean },
): (event: unknown, context?: Context) => Promise<RunSummary> {
  return async (event, context) => {
    const input = parseScheduledInput(event);
    if (input.kind === 'request' && !options.acceptsRequests) {
      throw new InvalidInputError(
        `${fn} 只按计划运行 / ${fn} only runs on its schedule`,
        'RUN_REQUEST_INVALID',
      );
    }
    const runtime = await runtimeFor(fn);
    const remaining = context?.getRemainingTimeInMillis?.();
    const deadlineMs =
      remaining === undefined ? undefined : runtime.clock() + remaining - DEADLINE_MARGIN_MS * 3;
    try {
      return await run(runtime, input, deadlineMs);
    } catch (error) {
      const failure = asSyncError(error);
      runtime.logger.error('sync.run.failed', { fn, error: failure });
      throw failure;
    }
  };
}
