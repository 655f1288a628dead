/**
 * Messages between the invoker (main thread) and a function's worker thread. Events and results travel as
 * JSON text, which is what Lambda does with them too (a result that JSON cannot express is lost the same way).
 */
import { z } from 'zod';

export const workerDataSchema = z.object({
  modulePath: z.string(),
  exportName: z.string(),
  functionName: z.string(),
  memoryMb: z.number(),
  region: z.string(),
  accountId: z.string(),
  nice: z.number().int().min(0).max(19).default(0),
});

export type WorkerData = z.output<typeof workerDataSchema>;

const errorPayloadSchema = z.object({
  errorType: z.string(),
  errorMessage: z.string(),
  trace: z.array(z.string()),
});

export const toWorkerSchema = z.object({
  type: z.literal('invoke'),
  id: z.number(),
  requestId: z.string(),
  deadlineMs: z.number(),
  event: z.string(),
});

export type ToWorker = z.output<typeof toWorkerSchema>;

export const fromWorkerSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('ready') }),
  z.object({ type: z.literal('init-error'), error: errorPayloadSchema }),
  z.object({ type: z.literal('result'), id: z.number(), value: z.string() }),
  z.object({ type: z.literal('failure'), id: z.number(), error: errorPayloadSchema }),
]);

export type FromWorker = z.output<typeof fromWorkerSchema>;
