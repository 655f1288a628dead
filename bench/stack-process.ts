/**
 * The local stack exactly as `npm start` runs it — `node --import tsx infra/local/start.ts` in its own process,
 * sandbox emulators, worker threads, data on disk — in a temporary data directory with free ports, driven
 * only through its public endpoints (the webhook is fed by the Fxiaoke emulator; the emulators' and the
 * runtime's control endpoints are read for the figures).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';

const stateSchema = z.object({
  pid: z.number(),
  ready: z.boolean(),
  endpoints: z.object({
    gateway: z.string(),
    webhook: z.string(),
    k3cloud: z.string(),
    fxiaoke: z.string(),
  }),
});
export type StackEndpoints = z.output<typeof stateSchema>['endpoints'];

const statusSchema = z.object({
  ready: z.boolean(),
  queues: z.array(
    z.object({ name: z.string(), visible: z.number(), inFlight: z.number(), delayed: z.number() }),
  ),
  dynamodb: z.object({ operations: z.record(z.string(), z.number()) }).optional(),
});
export type StackStatus = z.output<typeof statusSchema>;
export type QueueDepth = z.output<typeof statusSchema>['queues'][number];

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A JSON request to one of our own control endpoints; non-2xx answers throw with the body. */
export async function requestJson(url: string, init?: { method?: string; body?: unknown }): Promise<unknown> {
  const response = await fetch(url, {
    method: init?.method ?? 'GET',
    ...(init?.body === undefined
      ? {}
      : { body: JSON.stringify(init.body), headers: { 'content-type': 'application/json' } }),
  });
  const text = await response.text();
  if (!response.ok) {
    throw new Error(`${init?.method ?? 'GET'} ${url} → HTTP ${response.status}: ${text.slice(0, 500)}`);
  }
  return JSON.parse(text);
}

export interface StackProcessOptions {
  root: string;
  dataDir: string;
  /** Added to (and overriding) the inherited environment. */
  env: Record<string, string>;
  /** The stack's stdout and stderr go here (a pipe the bench would have to drain costs CPU). */
  logFile: string;
  /** Write V8 CPU profiles of every thread of the stack here (`--cpu-prof`). */
  cpuProfileDir?: string | undefined;
}

/** Machine-wide CPU time so far (all cores; ms): busy (user+nice+system+irq+softirq), idle, stolen by the host. */
export function machineCpu(): { busyMs: number; idleMs: number; stealMs: number } | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
    const [user, nice, system, idle, iowait, irq, softirq, steal] = line
      .trim()
      .split(/\s+/)
      .slice(1)
      .map(Number);
    const ticks = [user, nice, system, idle, iowait, irq, softirq, steal];
    if (ticks.some((n) => n === undefined || !Number.isFinite(n))) return undefined;
    const ms = (n: number | undefined) => (n ?? 0) * 10;
    return {
      busyMs: ms(user) + ms(nice) + ms(system) + ms(irq) + ms(softirq),
      idleMs: ms(idle) + ms(iowait),
      stealMs: ms(steal),
    };
  } catch {
    return undefined;
  }
}

/** One run of the local stack as a child process. */
export class StackProcess {
  readonly child: ChildProcess;
  readonly #dataDir: string;
  readonly #logFile: string;
  readonly #exited: Promise<number | null>;

  constructor(options: StackProcessOptions) {
    const env: Record<string, string | undefined> = { ...process.env, ...options.env };
    // Sandbox mode whatever the developer's shell says.
    delete env.K3CLOUD_SERVER_URL;
    delete env.FXIAOKE_BASE_URL;
    const log = openSync(options.logFile, 'a');
    const profile = options.cpuProfileDir ? ['--cpu-prof', `--cpu-prof-dir=${options.cpuProfileDir}`] : [];
    this.child = spawn(process.execPath, [...profile, '--import', 'tsx', 'infra/local/start.ts'], {
      cwd: options.root,
      env,
      stdio: ['ignore', log, log],
    });
    closeSync(log);
    this.#dataDir = options.dataDir;
    this.#logFile = options.logFile;
    this.#exited = new Promise((resolve) => this.child.once('exit', (code) => resolve(code)));
  }

  get pid(): number {
    return this.child.pid ?? 0;
  }

  /** The end of the stack's output (for error messages). */
  tail(chars = 3_000): string {
    try {
      return readFileSync(this.#logFile, 'utf8').slice(-chars);
    } catch {
      return '';
    }
  }

  /** Wait until every function is loaded; resolves with the endpoints from `local-stack.json`. */
  async ready(timeoutMs: number): Promise<StackEndpoints> {
    const deadline = Date.now() + timeoutMs;
    const file = join(this.#dataDir, 'local-stack.json');
    for (;;) {
      if (this.child.exitCode !== null) {
        throw new Error(`the local stack exited early (code ${this.child.exitCode}):\n${this.tail()}`);
      }
      if (existsSync(file)) {
        try {
          const state = stateSchema.safeParse(JSON.parse(readFileSync(file, 'utf8')));
          if (state.success && state.data.ready) return state.data.endpoints;
        } catch {
          // written while we read it: try again
        }
      }
      if (Date.now() > deadline)
        throw new Error(`the local stack was not ready in ${timeoutMs} ms:\n${this.tail()}`);
      await delay(50);
    }
  }

  /** Queue depths and the embedded DynamoDB's operation counts (`GET /__local/status`). */
  async status(gateway: string): Promise<StackStatus> {
    return statusSchema.parse(await requestJson(`${gateway}/__local/status`));
  }

  /** Peak resident set size of the whole stack (main thread, function threads, DynamoDB thread), bytes. */
  peakRssBytes(): number | undefined {
    try {
      const status = readFileSync(`/proc/${this.pid}/status`, 'utf8');
      const kb = /^VmHWM:\s+(\d+)\s+kB/m.exec(status)?.[1];
      return kb === undefined ? undefined : Number(kb) * 1024;
    } catch {
      return undefined;
    }
  }

  /** CPU time the whole stack has used so far (user + system, all threads), ms; undefined off Linux. */
  cpuMs(): number | undefined {
    try {
      const stat = readFileSync(`/proc/${this.pid}/stat`, 'utf8');
      // Fields after the command name (which may contain spaces): utime and stime are the 12th and 13th.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const ticks = Number(fields[11]) + Number(fields[12]);
      // The kernel's USER_HZ is 100 on every Linux this runs on.
      return Number.isFinite(ticks) ? ticks * 10 : undefined;
    } catch {
      return undefined;
    }
  }

  /** SIGTERM (as Ctrl-C does) and wait for the clean stop; SIGKILL after `graceMs`. */
  async stop(graceMs = 30_000): Promise<number | null> {
    if (this.child.exitCode === null) this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    const code = await this.#exited;
    clearTimeout(timer);
    return code;
  }
}
