/**
 * The local control endpoint, on the gateway's port under `/__local/` (served only on loopback unless
 * `LOCAL_CONTROL=on`). API Gateway has nothing like it; it replaces the AWS console and CLI locally:
 *
 *   GET  /__local/status                   → mode, endpoints, functions, queue depths, next scheduled runs
 *   POST /__local/functions/<key>/invoke   ← an event (JSON, default `{}`) → the invocation's result
 *                                            (like `aws lambda invoke`, e.g. purchaseOrderToInStock on request)
 *   POST /__local/schedules/<key>/run      → run a scheduled function now, as its schedule would
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ExtraHandler } from './http-gateway.ts';
import type { LocalStack } from './stack.ts';

const PREFIX = '/__local/';

function reply(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body, null, 2);
  response.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  response.end(text);
}

/** The `/__local/` handler for the gateway; `getStack` is read per request (the stack exists once started). */
export function controlHandler(getStack: () => LocalStack | undefined): ExtraHandler {
  return async (request: IncomingMessage, response: ServerResponse, body: Buffer): Promise<boolean> => {
    const path = (request.url ?? '/').split('?')[0] ?? '/';
    if (!path.startsWith(PREFIX)) return false;
    const stack = getStack();
    if (!stack) {
      reply(response, 503, { error: '本地运行时尚未就绪 / the local stack is not ready yet' });
      return true;
    }
    const method = request.method ?? 'GET';
    const parts = path
      .slice(PREFIX.length)
      .split('/')
      .filter((p) => p !== '');
    if (method === 'GET' && parts.length === 1 && parts[0] === 'status') {
      reply(response, 200, status(stack));
      return true;
    }
    if (method === 'POST' && parts.length === 3 && (parts[0] === 'functions' || parts[0] === 'schedules')) {
      const key = decodeURIComponent(parts[1] ?? '');
      const invoker = stack.invokers.get(key);
      if (!invoker) {
        reply(response, 404, {
          error: `没有函数 ${key} / no function ${key}`,
          functions: [...stack.invokers.keys()],
        });
        return true;
      }
      if (parts[0] === 'functions' && parts[2] === 'invoke') {
        let event: unknown = {};
        if (body.length > 0) {
          try {
            event = JSON.parse(body.toString('utf8'));
          } catch {
            reply(response, 400, { error: '事件必须是 JSON / the event must be JSON' });
            return true;
          }
        }
        const result = await invoker.invoke(event);
        reply(response, result.ok ? 200 : 502, result);
        return true;
      }
      if (parts[0] === 'schedules' && parts[2] === 'run') {
        const run = stack.scheduler.runNow(invoker.functionName);
        if (!run) {
          reply(response, 404, { error: `${key} 没有定时任务 / ${key} has no schedule` });
          return true;
        }
        const report = await run;
        reply(response, report.outcome === 'failed' ? 502 : 200, report);
        return true;
      }
    }
    reply(response, 404, { error: `未知的控制请求 / unknown control request ${method} ${path}` });
    return true;
  };
}

function status(stack: LocalStack): Record<string, unknown> {
  return {
    ready: stack.isReady,
    mode: stack.mode,
    endpoints: stack.endpoints,
    configPath: stack.configPath,
    functions: stack.definition.functions.map((fn) => ({
      key: fn.key,
      name: fn.name,
      handler: fn.handler,
      inFlight: stack.invokers.get(fn.key)?.inFlight ?? 0,
      ...(stack.initErrors.has(fn.key) ? { initError: stack.initErrors.get(fn.key) } : {}),
      events: [
        ...fn.httpRoutes.map((r) => `httpApi ${r.routeKey}`),
        ...fn.sqsTriggers.map((t) => `sqs ${t.queueName}`),
        ...fn.schedules.map((s) => `schedule ${s.expression.text}`),
      ],
    })),
    queues: stack.queues.listQueues().map((q) => ({ name: q.name, ...stack.queues.counts(q.name) })),
    dynamodb: { operations: stack.dynamoOperations() },
    schedules: stack.scheduler.nextRuns().map((r) => ({
      ...r,
      nextAt: r.nextAtMs === undefined ? null : new Date(r.nextAtMs).toISOString(),
    })),
  };
}
