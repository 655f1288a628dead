import { appendFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { isMainThread, threadId, workerData } from 'node:worker_threads';
if (process.env.ELD_PROBE) {
  const h = monitorEventLoopDelay({ resolution: 2 });
  h.enable();
  const wd = workerData as { kind?: string; functionKey?: string; key?: string } | undefined;
  const name = isMainThread ? 'main' : `${threadId}:${wd?.kind ?? wd?.functionKey ?? wd?.key ?? process.env.AWS_LAMBDA_FUNCTION_NAME ?? '?'}`;
  setInterval(() => {
    appendFileSync(process.env.ELD_PROBE as string, `${JSON.stringify({ n: name, t: Date.now(), max: +(h.max / 1e6).toFixed(1), p99: +(h.percentile(99) / 1e6).toFixed(1) })}\n`);
    h.reset();
  }, 250).unref();
}
