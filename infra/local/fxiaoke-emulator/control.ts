/**
 * The control endpoint (`/__emulator/…`) and the edit page (`/`): ours, not Fxiaoke's, so it speaks plain
 * JSON with ordinary HTTP statuses. Only served when `controlEnabled` is set.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { z } from 'zod';
import type { Logger } from '../../../lib/log.ts';
import type {
  FxiaokeEditRequest,
  FxiaokeEmulatorStats,
  FxiaokeFaultSpec,
  FxiaokeImportRequest,
  FxiaokePushTrace,
} from './api.ts';
import { EDIT_PAGE_HTML } from './edit-page.ts';
import type { CrmEngine } from './engine.ts';
import { FxiaokeApiError } from './errors.ts';
import { describeObject, type ObjectRegistry, ObjectSpecError } from './metadata.ts';
import type { RecordStore } from './store.ts';

export interface ControlDeps {
  stats(): FxiaokeEmulatorStats;
  resetStats(): void;
  setFaults(spec: FxiaokeFaultSpec): void;
  faults(): FxiaokeFaultSpec;
  setCallbackUrls(urls: string[]): void;
  callbackUrls(): string[];
  edit(request: FxiaokeEditRequest): Promise<{ dataId: string }>;
  importRecords(request: FxiaokeImportRequest): Promise<{ ids: string[] }>;
  pushTraces(): FxiaokePushTrace[];
  finishApproval(apiName: string, id: string, approved: boolean): void;
  engine: CrmEngine;
  registry: ObjectRegistry;
  store: RecordStore;
  recent(): unknown[];
  reset(): void;
  insertRecords(apiName: string, rows: Record<string, unknown>[]): string[];
  maxBodyBytes: number;
  logger: Logger;
}

const triggerSchema = z.object({
  paths: z.array(z.string()).optional(),
  times: z.number().int().nonnegative().optional(),
  probability: z.number().min(0).max(1).optional(),
});

export const faultSpecSchema = z.strictObject({
  latencyMs: z.number().int().nonnegative().optional(),
  systemBusy: triggerSchema.optional(),
  serviceError: triggerSchema.optional(),
  dailyQuotaExceeded: triggerSchema.optional(),
  noQuotaPurchased: z.boolean().optional(),
  perSecondThrottle: triggerSchema.optional(),
  expireTokens: z.boolean().optional(),
  dropResponseAfterCommit: triggerSchema.optional(),
});

const record = z.record(z.string(), z.unknown());
const editSchema = z.object({
  apiName: z.string().min(1),
  id: z.string().min(1).optional(),
  fields: record,
  details: z.record(z.string(), z.array(record)).optional(),
  editor: z.string().min(1).optional(),
});
const importSchema = z.object({
  apiName: z.string().min(1),
  records: z
    .array(z.object({ fields: record, details: z.record(z.string(), z.array(record)).optional() }))
    .max(100_000),
  editor: z.string().min(1).optional(),
});
const approvalSchema = z.object({ apiName: z.string().min(1), id: z.string().min(1), approved: z.boolean() });
const callbacksSchema = z.object({ urls: z.array(z.url()) });
const recordsSchema = z.object({ records: z.array(record).max(100_000) });
const objectsSchema = z.object({ objects: z.array(z.unknown()).min(1) });

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json;charset=UTF-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  res.end(text);
}

async function readJson(req: IncomingMessage, maxBytes: number): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
    size += buffer.length;
    if (size > maxBytes) throw new ControlInputError(`请求体过大 / body exceeds ${maxBytes} bytes`);
    chunks.push(buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return {};
  try {
    return JSON.parse(text);
  } catch {
    throw new ControlInputError('请求体不是 JSON / body is not JSON');
  }
}

class ControlInputError extends Error {}

function parse<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw new ControlInputError(
    `参数不合法 / invalid body: ${result.error.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`).join('; ')}`,
  );
}

/** Serve one control request. Errors in the caller's input become 400 with a bilingual `error`. */
export async function handleControl(
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  deps: ControlDeps,
): Promise<void> {
  const method = req.method ?? 'GET';
  const path = url.pathname;
  try {
    if (path === '/' && method === 'GET') {
      res.writeHead(200, { 'content-type': 'text/html;charset=UTF-8', 'cache-control': 'no-store' });
      res.end(EDIT_PAGE_HTML);
      return;
    }
    if (path === '/__emulator/stats' && method === 'GET') return send(res, 200, deps.stats());
    if (path === '/__emulator/stats/reset' && method === 'POST') {
      deps.resetStats();
      return send(res, 200, { ok: true });
    }
    if (path === '/__emulator/faults') {
      if (method === 'GET') return send(res, 200, deps.faults());
      if (method === 'POST') {
        deps.setFaults(parse(faultSpecSchema, await readJson(req, deps.maxBodyBytes)));
        return send(res, 200, { ok: true, faults: deps.faults() });
      }
    }
    if (path === '/__emulator/callbacks') {
      if (method === 'GET') return send(res, 200, { urls: deps.callbackUrls() });
      if (method === 'POST') {
        deps.setCallbackUrls(parse(callbacksSchema, await readJson(req, deps.maxBodyBytes)).urls);
        return send(res, 200, { urls: deps.callbackUrls() });
      }
    }
    if (path === '/__emulator/edit' && method === 'POST') {
      const request = parse(editSchema, await readJson(req, deps.maxBodyBytes));
      return send(res, 200, await deps.edit(request));
    }
    if (path === '/__emulator/import' && method === 'POST') {
      const request = parse(importSchema, await readJson(req, Math.max(deps.maxBodyBytes, 64 * 1024 * 1024)));
      return send(res, 200, await deps.importRecords(request));
    }
    if (path === '/__emulator/pushes' && method === 'GET') return send(res, 200, deps.pushTraces());
    if (path === '/__emulator/approve' && method === 'POST') {
      const request = parse(approvalSchema, await readJson(req, deps.maxBodyBytes));
      deps.finishApproval(request.apiName, request.id, request.approved);
      return send(res, 200, { ok: true });
    }
    if (path === '/__emulator/reset' && method === 'POST') {
      deps.reset();
      return send(res, 200, { ok: true, records: deps.store.counts() });
    }
    if (path === '/__emulator/requests' && method === 'GET') return send(res, 200, deps.recent());
    if (path === '/__emulator/objects') {
      if (method === 'GET') {
        return send(res, 200, {
          objects: deps.registry.list().map((object) => ({
            ...describeObject(object),
            detail_api_names: object.detailApiNames,
          })),
        });
      }
      if (method === 'POST') {
        const { objects } = parse(objectsSchema, await readJson(req, deps.maxBodyBytes));
        const declared = deps.registry.declare(objects);
        persistDeclarations(deps, declared);
        return send(res, 200, { declared });
      }
    }
    const recordsMatch = /^\/__emulator\/records\/([A-Za-z0-9_]+)$/.exec(path);
    if (recordsMatch?.[1]) {
      const apiName = recordsMatch[1];
      deps.registry.require(apiName);
      if (method === 'GET') {
        const id = url.searchParams.get('id');
        if (id) {
          const found = deps.store.get(apiName, id);
          if (!found) return send(res, 404, { error: `${apiName} ${id} 不存在 / not found` });
          return send(res, 200, { ...found, details: deps.engine.detailsOf(apiName, id) });
        }
        return send(res, 200, deps.engine.list(apiName));
      }
      if (method === 'POST') {
        const { records } = parse(
          recordsSchema,
          await readJson(req, Math.max(deps.maxBodyBytes, 64 * 1024 * 1024)),
        );
        return send(res, 200, { ids: deps.insertRecords(apiName, records) });
      }
    }
    send(res, 404, { error: `没有这个控制接口 / no control endpoint ${method} ${path}` });
  } catch (error) {
    if (error instanceof FxiaokeApiError) {
      return send(res, 400, {
        error: error.message,
        errorCode: error.errorCode,
        errorMessage: error.errorMessage,
        errorDescription: error.errorDescription,
      });
    }
    if (error instanceof ControlInputError || error instanceof ObjectSpecError) {
      return send(res, 400, { error: error.message });
    }
    throw error;
  }
}

/** Keep run-time object declarations across restarts (one JSON file per object in `<dataDir>/objects`). */
function persistDeclarations(deps: ControlDeps, apiNames: readonly string[]): void {
  const dataDir = deps.store.dataDir;
  if (!dataDir) return;
  const dir = join(dataDir, 'objects');
  mkdirSync(dir, { recursive: true });
  for (const apiName of apiNames) {
    const spec = deps.registry.spec(apiName);
    if (spec) writeFileSync(join(dir, `${apiName}.json`), `${JSON.stringify(spec, null, 2)}\n`);
  }
}
