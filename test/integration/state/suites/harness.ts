/**
 * Shared plumbing of the state suites: one engine per test file, the tables created once, a context the
 * suites read lazily (describe bodies run before the `before` hook), and a virtual clock for tests where
 * time matters.
 */
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { StateTableNames } from '../../../../lib/state/tables.ts';
import {
  createTestTables,
  type DynamoEngine,
  dynamoLocalSkipReason,
  type StartedDynamo,
  startDynamo,
} from '../../../support/dynamodb.ts';

export interface StateTestContext {
  readonly engine: DynamoEngine;
  readonly dynamo: StartedDynamo;
  readonly tables: StateTableNames;
}

export type StateSuite = (ctx: StateTestContext) => void;

/** Run every suite against one engine, started once for the whole file. */
export function runStateSuites(engine: DynamoEngine, suites: readonly StateSuite[]): void {
  const skip = engine === 'dynamodb-local' ? dynamoLocalSkipReason() : undefined;
  let dynamo: StartedDynamo | undefined;
  let tables: StateTableNames | undefined;
  const ctx: StateTestContext = {
    engine,
    get dynamo() {
      if (!dynamo) throw new Error('engine not started');
      return dynamo;
    },
    get tables() {
      if (!tables) throw new Error('tables not created');
      return tables;
    },
  };
  if (skip) {
    // A skipped test (not just a skipped suite) so the reason also shows in the runner's `# skipped` total.
    describe(`state on ${engine}`, () => {
      it(`every state suite (${suites.length} suites)`, { skip }, () => {});
    });
    return;
  }
  describe(`state on ${engine}`, () => {
    before(async () => {
      dynamo = await startDynamo({ engine });
      tables = await createTestTables(dynamo.client);
    });
    after(async () => {
      await dynamo?.close();
    });
    for (const suite of suites) suite(ctx);
  });
}

/** A short unique id, so tests sharing the tables never touch each other's items. */
export function uniqueId(label: string): string {
  return `${label}-${randomBytes(5).toString('hex')}`;
}

/**
 * Where the test clocks start: 23 November, 04:00 UTC, of next year — always ahead of the real time.
 * The items' TTL attribute (`purgeAtSec`) is derived from the injected clock, and DynamoDB Local really
 * deletes items whose TTL lies in the real past: a fixed start date (2026-11-23) made the credential tests
 * fail on DynamoDB Local two weeks later, items vanishing right after a successful write.
 */
export const TEST_CLOCK_START_MS = Date.UTC(new Date().getUTCFullYear() + 1, 10, 23, 4, 0, 0);

/** A clock the test moves by hand. */
export class ManualClock {
  now: number;

  constructor(start = TEST_CLOCK_START_MS) {
    this.now = start;
  }

  readonly clock = (): number => this.now;

  advance(ms: number): void {
    this.now += ms;
  }
}

/** Real time allowed for in-flight I/O between two virtual-time steps (generous: CI machines are slow). */
const STALL_LIMIT_MS = 30_000;

/**
 * Virtual time for many concurrent tasks: `sleep` parks a task; {@link VirtualTime.run} advances the clock
 * to the earliest wake-up only when every unfinished task is parked, so each task sees time move exactly as
 * it would with real timers — without waiting, and deterministically.
 */
export class VirtualTime {
  now: number;
  readonly #timers: { atMs: number; resolve: () => void }[] = [];

  constructor(start = TEST_CLOCK_START_MS) {
    this.now = start;
  }

  readonly clock = (): number => this.now;

  readonly sleep = (ms: number): Promise<void> =>
    new Promise<void>((resolve) => {
      this.#timers.push({ atMs: this.now + ms, resolve });
    });

  /** Run `tasks` to completion; rejects with the first task error after all have settled. */
  async run<T>(tasks: readonly (() => Promise<T>)[]): Promise<T[]> {
    let settled = 0;
    const promises = tasks.map((task) =>
      task().finally(() => {
        settled += 1;
      }),
    );
    const all = Promise.allSettled(promises);
    while (settled < tasks.length) {
      // Let in-flight I/O finish until every unfinished task is parked in sleep().
      const waitingSince = Date.now();
      while (settled + this.#timers.length < tasks.length) {
        if (Date.now() - waitingSince > STALL_LIMIT_MS) {
          // A task that never sleeps nor finishes (a busy loop) must fail the test, not hang it.
          throw new Error(`VirtualTime: tasks made no progress for ${STALL_LIMIT_MS} ms of real time`);
        }
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
      if (settled >= tasks.length) break;
      this.#timers.sort((a, b) => a.atMs - b.atMs);
      const next = this.#timers[0];
      if (!next) continue;
      this.now = Math.max(this.now, next.atMs);
      const due = this.#timers.filter((t) => t.atMs <= this.now);
      this.#timers.splice(0, due.length);
      for (const timer of due) timer.resolve();
    }
    const results = await all;
    return results.map((result) => {
      if (result.status === 'rejected') throw result.reason;
      return result.value;
    });
  }
}
