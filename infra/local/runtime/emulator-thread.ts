/**
 * One vendor emulator (K3Cloud or Fxiaoke) on a thread of its own, started by `emulator-host.ts` in sandbox
 * mode. The emulators stand in for systems on other machines; on the stack's main thread they shared one
 * event loop with the HTTP gateway and the queues, so every emulated K3Cloud call and every change push the
 * emulator sent waited for, and delayed, the webhook's acknowledgements.
 *
 * Messages from the host: `{ type: 'callbacks', urls }` (where the Fxiaoke emulator pushes), `'close'`.
 * To the host: `listening` with the URL, or `failed`; `log` lines; `closed`.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { z } from 'zod';
import { createLogger } from '../../../lib/log.ts';
import type { FxiaokeEmulator, FxiaokeEmulatorOptions } from '../fxiaoke-emulator/api.ts';
import { startFxiaokeEmulator } from '../fxiaoke-emulator/server.ts';
import type { K3CloudEmulator, K3CloudEmulatorOptions } from '../k3cloud-emulator/api.ts';
import { startK3CloudEmulator } from '../k3cloud-emulator/server.ts';

const port = parentPort;
if (!port) throw new Error('emulator-thread.ts must run in a worker thread');
const data = z
  .discriminatedUnion('kind', [
    // The options were built by the host from its settings and typed there; they cross as structured clones.
    z.object({ kind: z.literal('k3cloud'), options: z.custom<K3CloudEmulatorOptions>() }),
    z.object({ kind: z.literal('fxiaoke'), options: z.custom<FxiaokeEmulatorOptions>() }),
  ])
  .parse(workerData);

// Lines are formatted (level from LOG_LEVEL, secrets redacted) here and written by the host's logger.
const logger = createLogger({ write: (line) => port.postMessage({ type: 'log', line }) });

let emulator: K3CloudEmulator | FxiaokeEmulator;
try {
  emulator =
    data.kind === 'k3cloud'
      ? await startK3CloudEmulator({ ...data.options, logger })
      : await startFxiaokeEmulator({ ...data.options, logger });
  port.postMessage({ type: 'listening', url: emulator.url });
} catch (error) {
  port.postMessage({ type: 'failed', message: error instanceof Error ? error.message : String(error) });
  process.exit(1);
}

const fromHost = z.union([
  z.literal('close'),
  z.object({ type: z.literal('callbacks'), urls: z.array(z.string()) }),
]);
port.on('message', (raw: unknown) => {
  const message = fromHost.safeParse(raw);
  if (!message.success) return;
  if (message.data === 'close') {
    // The emulator's close() flushes its data and, for Fxiaoke, keeps the pushes not yet delivered.
    emulator.close().then(
      () => port.postMessage({ type: 'closed' }),
      (error: unknown) => port.postMessage({ type: 'closed', error: String(error) }),
    );
    return;
  }
  if ('setCallbackUrls' in emulator) emulator.setCallbackUrls(message.data.urls);
});
