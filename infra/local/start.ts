/**
 * `npm start` — until the local stack (issue #6) lands, this starts both emulators side by side, with their
 * data under `.data/`, so a newcomer can call them from any client. Each runs as its own child process,
 * exactly as `npm run emulator:k3cloud` / `npm run emulator:fxiaoke` would.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));

const children: ChildProcess[] = [
  ['k3cloud-emulator', { K3CLOUD_EMULATOR_DATA_DIR: '.data/k3cloud-emulator' }],
  ['fxiaoke-emulator', { FXIAOKE_EMULATOR_DATA_DIR: '.data/fxiaoke-emulator' }],
].map(([name, env]) =>
  spawn(process.execPath, ['--import', 'tsx', `infra/local/${name}/main.ts`], {
    cwd: root,
    env: { ...process.env, ...(env as Record<string, string>) },
    stdio: 'inherit',
  }),
);

process.stdout.write(
  '沙箱模式：两个模拟器已启动，Ctrl-C 停止 / Sandbox mode: both emulators are starting; Ctrl-C stops them.\n',
);

let stopping = false;
function stop(signal: NodeJS.Signals): void {
  if (stopping) return;
  stopping = true;
  for (const child of children) child.kill(signal);
}
process.on('SIGINT', () => stop('SIGINT'));
process.on('SIGTERM', () => stop('SIGTERM'));
for (const child of children) {
  child.on('exit', (code) => {
    if (!stopping) {
      process.stderr.write(`一个模拟器退出 / an emulator exited (code ${code}); stopping the other.\n`);
      stop('SIGTERM');
    }
    if (children.every((c) => c.exitCode !== null || c.signalCode !== null)) process.exit(code ?? 0);
  });
}
