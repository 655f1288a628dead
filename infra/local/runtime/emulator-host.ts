/**
 * Start a vendor emulator on its own thread (`emulator-thread.ts`): what the local stack needs of it — its
 * URL, where the Fxiaoke emulator pushes, and a clean stop that keeps its data and undelivered pushes.
 * Everything else (seeding, demo edits, stats) goes over the emulator's HTTP control API, as before.
 */
import { Worker } from 'node:worker_threads';
import { z } from 'zod';
import { type Logger, type LogLevel, silentLogger } from '../../../lib/log.ts';
import type { FxiaokeEmulatorOptions } from '../fxiaoke-emulator/api.ts';
import type { K3CloudEmulatorOptions } from '../k3cloud-emulator/api.ts';
import { LocalRuntimeError } from './errors.ts';
import { workerExecArgv } from './worker-exec-argv.ts';

/** Emulator options that can cross to a thread: no clock or logger (the thread makes its own logger). */
export type ThreadEmulatorSpec =
  | { kind: 'k3cloud'; options: Omit<K3CloudEmulatorOptions, 'clock' | 'logger'> }
  | { kind: 'fxiaoke'; options: Omit<FxiaokeEmulatorOptions, 'clock' | 'logger'> };

export interface ThreadEmulator {
  readonly url: string;
  /** Where the Fxiaoke emulator sends its change pushes (ignored by the K3Cloud emulator). */
  setCallbackUrls(urls: string[]): void;
  /** Stop the emulator (data flushed, undelivered pushes kept) and end its thread. */
  close(): Promise<void>;
}

const fromThread = z.discriminatedUnion('type', [
  z.object({ type: z.literal('listening'), url: z.string() }),
  z.object({ type: z.literal('failed'), message: z.string() }),
  z.object({ type: z.literal('log'), line: z.string() }),
  z.object({ type: z.literal('closed'), error: z.string().optional() }),
]);

const LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

/** Write one line the thread formatted through the host's logger (its sink, base fields and redaction). */
function relay(logger: Logger, line: string): void {
  let record: unknown;
  try {
    record = JSON.parse(line);
  } catch {
    logger.warn('local.emulator.log_unreadable', { line: line.slice(0, 500) });
    return;
  }
  const { level, event, time: _time, ...fields } = (record ?? {}) as Record<string, unknown>;
  const known = LEVELS.find((l) => l === level) ?? 'info';
  logger[known](typeof event === 'string' ? event : 'local.emulator.log', fields);
}

/**
 * Start the emulator on a new thread and wait until it listens.
 *
 * @throws {LocalRuntimeError} `LOCAL_SETTINGS_INVALID` when it cannot start (a busy port, a data directory
 *   that cannot be written), with the emulator's own message.
 */
export async function startEmulatorThread(
  spec: ThreadEmulatorSpec,
  logger: Logger = silentLogger,
): Promise<ThreadEmulator> {
  const worker = new Worker(new URL('./emulator-thread.ts', import.meta.url), {
    workerData: spec,
    execArgv: workerExecArgv(),
  });
  const name = spec.kind === 'k3cloud' ? 'K3Cloud' : 'Fxiaoke';
  let closedWaiter: ((error: string | undefined) => void) | undefined;
  const started = new Promise<string>((resolve, reject) => {
    worker.on('message', (raw: unknown) => {
      const message = fromThread.safeParse(raw);
      if (!message.success) return;
      const m = message.data;
      if (m.type === 'log') relay(logger, m.line);
      else if (m.type === 'listening') resolve(m.url);
      else if (m.type === 'failed') reject(new Error(m.message));
      else closedWaiter?.(m.error);
    });
    worker.once('error', reject);
    worker.once('exit', (code) => {
      reject(new Error(`the ${name} emulator thread exited with code ${code}`));
      closedWaiter?.(undefined);
    });
  });
  let url: string;
  try {
    url = await started;
  } catch (error) {
    await worker.terminate();
    throw new LocalRuntimeError(
      `${name} 模拟器无法启动 / the ${name} emulator cannot start: ${error instanceof Error ? error.message : String(error)}`,
      'LOCAL_SETTINGS_INVALID',
      { cause: error },
    );
  }
  let closing: Promise<void> | undefined;
  // After start, a thread that dies (an uncaught exception in the emulator) leaves the sandbox without that
  // system: say so loudly rather than let every call to it fail unexplained.
  worker.on('error', (error) => logger.error('local.emulator.crashed', { emulator: name, error }));
  worker.once('exit', (code) => {
    if (!closing) logger.error('local.emulator.exited', { emulator: name, code });
  });
  return {
    url,
    setCallbackUrls(urls) {
      worker.postMessage({ type: 'callbacks', urls });
    },
    close() {
      closing ??= (async () => {
        const error = await new Promise<string | undefined>((resolve) => {
          closedWaiter = resolve;
          worker.postMessage('close');
        });
        await worker.terminate();
        if (error) throw new Error(`the ${name} emulator did not close cleanly: ${error}`);
      })();
      return closing;
    },
  };
}
