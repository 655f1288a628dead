/**
 * Public contract of the Fxiaoke emulator: what tests, the local stack and the benchmark rely on.
 * The implementation lives next to this file; `startFxiaokeEmulator` is exported from `./server.ts`.
 *
 * The control endpoint (when enabled) speaks the same types as JSON under `<origin>/__emulator/`:
 *   GET  /__emulator/stats                   → FxiaokeEmulatorStats   (POST /__emulator/stats/reset zeroes it)
 *   POST /__emulator/faults                  ← FxiaokeFaultSpec (replaces active faults; `{}` clears; GET reads)
 *   POST /__emulator/callbacks               ← {urls: string[]} (replaces the push targets; GET reads)
 *   POST /__emulator/edit                    ← {apiName, id?, fields, details?} "a salesperson edits a
 *                                              record" (creates when id is absent) → {dataId}; sends the push
 *   POST /__emulator/import                  ← FxiaokeImportRequest "an admin imports records" → {ids};
 *                                              one change push per record
 *   GET  /__emulator/pushes                  → FxiaokePushTrace[] (delivery history since the last stats reset)
 *   GET  /__emulator/records/<apiName>       → stored records
 *   POST /__emulator/records/<apiName>       ← {records: [...]} bulk insert, no push → {ids}
 *   GET  /__emulator/objects                 → describes of every object
 *   POST /__emulator/objects                 ← {objects: [ObjectSpec…]} declare custom objects → {declared}
 *   GET  /__emulator/requests                → the last API requests (path, errorCode, ms)
 *   POST /__emulator/approve                 ← {apiName, id, approved} finish an approval flow (sends the push)
 *   POST /__emulator/reset                   → drop all data and re-seed
 *   GET  /                                   → a small HTML page to edit a customer / an order by hand
 */
import type { Logger } from '../../../lib/log.ts';

export interface FxiaokeEmulatorIdentity {
  appId: string;
  appSecret: string;
  permanentCode: string;
  /** The CRM admin's openUserId accepted in legacy calls (`FSUID_…`). */
  openUserId: string;
  aesKey: string;
  enterpriseAccount: string;
}

export interface FxiaokeEmulatorOptions {
  /** Default `127.0.0.1`. */
  host?: string;
  /** Default 8091; 0 picks a free port (tests). */
  port?: number;
  /** Default: the FXIAOKE_* variables with sandbox defaults (`readFxiaokeConfig(env, {sandbox:true})`). */
  identity?: FxiaokeEmulatorIdentity;
  /** Numeric enterprise id (ei) put in pushes and records. Default 590163. */
  tenantId?: number;
  dataDir?: string;
  /** Seed demo data (customers, contacts, products) when the store is empty. Default true. */
  seed?: boolean;
  /** Added to every response. Default 0. */
  latencyMs?: number;
  /** Per-interface (per path) limit; answered with 14001 when exceeded. Default 100 calls / 20 s; false = off. */
  rateLimit?: { calls: number; windowMs: number } | false;
  /** Serve `/__emulator/…` and the edit page. Default false. */
  controlEnabled?: boolean;
  /** Change-push targets (the webhook URLs). */
  callbackUrls?: string[];
  /** Delays before redelivery attempts 1, 2, …; the push gives up after the last. Default [2000, 10000, 60000]. */
  pushRetryDelaysMs?: number[];
  /** Time source for token ages, record times, push timestamps; default Date.now. */
  clock?: () => number;
  /** Request bodies above this size get 32000. Default 5 MiB. */
  maxBodyBytes?: number;
  logger?: Logger;
  /** Token endpoints' own limit, per path (spec §2.1: 10 calls/min); answered with 14001. false = off. */
  tokenRateLimit?: { calls: number; windowMs: number } | false;
  /**
   * A token call arriving while another token call is still being answered (spec §2.1: "must not be called
   * concurrently"): `reject` (default) answers 14001; `allow` serves it.
   */
  concurrentTokenCalls?: 'reject' | 'allow';
  /** `?thirdTraceId=` on current-convention calls: `require` (default), `require-unique` or `ignore`. */
  thirdTraceId?: 'require' | 'require-unique' | 'ignore';
  /** Open API calls per day (resets 00:00 GMT+8); beyond it → 30002. Default: unlimited. */
  dailyQuota?: number;
  /** More objects declared as data (custom objects `object_…__c`); see `metadata.ts` for the shape. */
  objects?: unknown[];
  /**
   * Objects with an approval flow on create: a create without `triggerApprovalFlow: false` starts
   * `under_review` and locked until `POST /__emulator/approve`. Default: none.
   */
  approvalFlowObjects?: string[];
  /** Existing detail rows omitted from an update's `details`: deleted (`replace`, default) or kept (`merge`). */
  detailUpdateMode?: 'replace' | 'merge';
  /** Pushes delivered at the same time. Default 8. */
  pushConcurrency?: number;
  /** A callback that has not answered within this time counts as failed. Default 3000. */
  pushTimeoutMs?: number;
  /**
   * `eventType` sent per kind of change; `false` sends no push for that kind. Default
   * `{create:'add', update:'update', invalid:'invalid', recover:'recover', delete:'delete'}`.
   */
  pushEventTypes?: Partial<Record<'create' | 'update' | 'invalid' | 'recover' | 'delete', string | false>>;
}

export interface FxiaokeFaultTrigger {
  /** Paths such as `/cgi/crm/v2/data/get`; default: every CRM data path. */
  paths?: string[];
  times?: number;
  probability?: number;
}

export interface FxiaokeFaultSpec {
  latencyMs?: number;
  /** errorCode -1 系统繁忙 */
  systemBusy?: FxiaokeFaultTrigger;
  /** errorCode 50009 服务异常 */
  serviceError?: FxiaokeFaultTrigger;
  /** errorCode 30002 当天访问频次超限 */
  dailyQuotaExceeded?: FxiaokeFaultTrigger;
  /** errorCode 30003 没有购买 openapi 配额 (every call) */
  noQuotaPurchased?: boolean;
  /** errorCode 30004 秒频次超限 */
  perSecondThrottle?: FxiaokeFaultTrigger;
  /** Invalidate every issued token: the next call with one answers 20016. */
  expireTokens?: boolean;
  /** Execute (and commit) the write, then destroy the socket without answering. */
  dropResponseAfterCommit?: FxiaokeFaultTrigger;
}

export interface FxiaokeEmulatorStats {
  /** Requests per path, including failed ones. */
  calls: Record<string, number>;
  /** New tokens issued (a reused token does not count). */
  tokensIssued: number;
  /** Token endpoint calls. */
  tokenCalls: number;
  /** Change pushes attempted / acknowledged with success / abandoned after the last retry. */
  pushes: { sent: number; acknowledged: number; abandoned: number; pending: number };
  /** Calls refused by the per-interface rate limit (14001). */
  rateLimited: number;
  records: Record<string, number>;
  /** Token calls refused by the token limit or for concurrency (14001). */
  tokenCallsRefused?: number;
  /** Faults fired, by name (`systemBusy`, `expireTokens`, …). */
  faultsFired?: Record<string, number>;
}

export interface FxiaokeEditRequest {
  apiName: string;
  /** Update this record; create a new one when absent. */
  id?: string;
  fields: Record<string, unknown>;
  /** Detail rows by detail apiName (e.g. SalesOrderProductObj) — replace the record's rows. */
  details?: Record<string, Record<string, unknown>[]>;
  /** Employee id of the editing salesperson. Default `1001`. */
  editor?: string;
}

/** "An admin imports records" (导入): every record is created as the UI would and sends its own push. */
export interface FxiaokeImportRequest {
  apiName: string;
  records: { fields: Record<string, unknown>; details?: Record<string, Record<string, unknown>[]> }[];
  /** Employee id of the importing user. Default `1000` (the CRM admin). */
  editor?: string;
}

/** The delivery history of one change push (one messageId to one callback URL). */
export interface FxiaokePushTrace {
  messageId: string;
  apiName: string;
  dataId: string;
  url: string;
  /** When the first delivery attempt started (the emulator's clock, epoch ms). */
  firstSentAtMs: number;
  /** When the successful reply arrived (epoch ms); absent while unacknowledged. */
  acknowledgedAtMs?: number;
  /** Duration of the acknowledged attempt, request sent → reply received (ms, monotonic). */
  ackMs?: number;
  attempts: number;
  abandoned?: boolean;
}

export interface FxiaokeEmulator {
  /** Origin without a trailing slash, e.g. `http://127.0.0.1:8091`. */
  readonly url: string;
  readonly port: number;
  /** The corpId the legacy token call returns (`FSCID_…`). */
  readonly corpId: string;
  stats(): FxiaokeEmulatorStats;
  resetStats(): void;
  setFaults(spec: FxiaokeFaultSpec): void;
  setCallbackUrls(urls: string[]): void;
  /** "A salesperson edits a record": create/update through the UI path, then send the change push. */
  edit(request: FxiaokeEditRequest): Promise<{ dataId: string }>;
  /**
   * "An admin imports records": each is created through the UI path (validated, workflows run) and sends
   * its change push; all are created before this resolves, the pushes go out asynchronously. Returns the
   * ids in input order.
   *
   * @throws {FxiaokeApiError} for the first invalid record; the records before it stay created.
   */
  importRecords(request: FxiaokeImportRequest): Promise<{ ids: string[] }>;
  /** Delivery traces of change pushes since the last stats reset (at most the last 100 000). */
  pushTraces(): FxiaokePushTrace[];
  /** A stored record by id (with `details` when it is a master), or undefined. */
  getRecord(apiName: string, id: string): Promise<Record<string, unknown> | undefined>;
  listRecords(apiName: string): Promise<Record<string, unknown>[]>;
  /** Bulk insert (validated like create; no push, no rate limit) — for seeding large tests. Returns the ids. */
  insertRecords(apiName: string, records: Record<string, unknown>[]): Promise<string[]>;
  /** Resolves when no push is waiting for delivery or redelivery. */
  pushesSettled(): Promise<void>;
  close(): Promise<void>;
}
