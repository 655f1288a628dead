/**
 * Fault injection, switchable at run time (control endpoint `POST /__emulator/faults` or
 * `K3CloudEmulator.setFaults`). Off by default; a new spec replaces the old one.
 */
import { z } from 'zod';
import type { K3FaultSpec, K3FaultTrigger } from './api.ts';

export const FAULT_KINDS = [
  'connectionReset',
  'http500',
  'responseError',
  'msgCode14',
  'msgCode13',
  'dropResponseAfterCommit',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

const triggerSchema = z
  .object({
    operations: z.array(z.string()).optional(),
    formIds: z.array(z.string()).optional(),
    times: z.number().int().positive().optional(),
    probability: z.number().min(0).max(1).optional(),
  })
  .strict();

/** Validates a fault spec received as JSON (unknown keys are refused so a typo is not silently ignored). */
export const faultSpecSchema = z
  .object({
    latencyMs: z.number().int().min(0).max(600_000).optional(),
    http500: triggerSchema.optional(),
    connectionReset: triggerSchema.optional(),
    msgCode14: triggerSchema.optional(),
    msgCode13: triggerSchema.optional(),
    dropResponseAfterCommit: triggerSchema.optional(),
    responseError: triggerSchema.optional(),
  })
  .strict();

export class FaultState {
  #spec: K3FaultSpec = {};
  readonly #remaining = new Map<FaultKind, number>();
  readonly #fired = new Map<string, number>();
  readonly #random: () => number;

  constructor(random: () => number = Math.random) {
    this.#random = random;
  }

  /** Replace the active faults (`{}` clears them). */
  set(spec: K3FaultSpec): void {
    this.#spec = { ...spec };
    this.#remaining.clear();
    for (const kind of FAULT_KINDS) {
      const times = spec[kind]?.times;
      if (times !== undefined) this.#remaining.set(kind, times);
    }
  }

  get spec(): K3FaultSpec {
    return this.#spec;
  }

  get extraLatencyMs(): number {
    return this.#spec.latencyMs ?? 0;
  }

  /** Whether fault `kind` fires for this request (and count it when it does). */
  fires(kind: FaultKind, operation: string, formId: string | undefined): boolean {
    const trigger: K3FaultTrigger | undefined = this.#spec[kind];
    if (!trigger) return false;
    if (
      trigger.operations &&
      !trigger.operations.some((op) => op.toLowerCase() === operation.toLowerCase())
    ) {
      return false;
    }
    if (trigger.formIds && !trigger.formIds.some((f) => f.toLowerCase() === (formId ?? '').toLowerCase())) {
      return false;
    }
    const remaining = this.#remaining.get(kind);
    if (remaining !== undefined && remaining <= 0) return false;
    if (trigger.probability !== undefined && this.#random() >= trigger.probability) return false;
    if (remaining !== undefined) this.#remaining.set(kind, remaining - 1);
    this.#fired.set(kind, (this.#fired.get(kind) ?? 0) + 1);
    return true;
  }

  /** Count a latency fault (reported in stats like the others). */
  countLatency(): void {
    this.#fired.set('latency', (this.#fired.get('latency') ?? 0) + 1);
  }

  fired(): Record<string, number> {
    return Object.fromEntries(this.#fired);
  }

  resetCounts(): void {
    this.#fired.clear();
  }
}
