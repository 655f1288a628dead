/**
 * The Fxiaoke (纷享销客) Open API v2 client: tokens, CRM data (get / query / paging / batched re-reads /
 * master-detail / create / update / invalid / describe), one error model, client-side rate limiting.
 *
 * How a call goes:
 * 1. wait for the per-interface budget (`RateLimiter`, bucket `fxiaoke:<path>`; 100 calls / 20 s by default);
 * 2. take the shared token from the `CredentialStore` (single-flight issue/renewal, see `token.ts`);
 * 3. POST JSON to `<base><path>?thirdTraceId=<uuid>` with the credential in the body (legacy) or headers
 *    (oauth2), through one keep-alive undici pool per client with explicit timeouts;
 * 4. read `errorCode` (HTTP status is not meaningful, spec §1.2) and classify failures (`errors.ts`);
 * 5. on a session error (20016 / 11014): invalidate that token, get a new one, retry once — safe for writes
 *    too, because an authentication refusal happens before anything is executed;
 * 6. reads that failed transiently are retried a few times with backoff; writes never are.
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { type Dispatcher, Pool } from 'undici';
import type { z } from 'zod';
import type { Clock, CredentialStore } from '../credentials.ts';
import { InMemoryCredentialStore, systemClock } from '../credentials.ts';
import type { ErrorKind } from '../errors.ts';
import { InvalidInputError, SyncError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { registerSecret, silentLogger } from '../log.ts';
import type { RateLimiter, Sleep } from '../rate-limit.ts';
import { realSleep, SlidingWindowRateLimiter } from '../rate-limit.ts';
import type { FxiaokeConfig } from './config.ts';
import type { FieldDescribe } from './envelopes.ts';
import {
  createResultSchema,
  describeResultSchema,
  envelopeSchema,
  getResultSchema,
  objectListResultSchema,
  queryResultSchema,
  updateResultSchema,
} from './envelopes.ts';
import type { FxiaokeOperation } from './errors.ts';
import {
  FxiaokeError,
  fxiaokeErrorFromEnvelope,
  fxiaokeErrorFromHttp,
  fxiaokeErrorFromTransport,
} from './errors.ts';
import type { Filter, QueryOptions } from './query.ts';
import { buildSearchQueryInfo, chunk, QUERY_MAX_LIMIT } from './query.ts';
import type { CrmRecord, CrmRecordWithDetails } from './records.ts';
import { readCrmFirstId } from './records.ts';
import type { FxiaokeCredential } from './token.ts';
import {
  authenticate,
  credentialFromTokenResponse,
  fxiaokeCredentialKey,
  fxiaokeCredentialSchema,
  TOKEN_ENDPOINT_LIMIT,
  tokenRequest,
} from './token.ts';

/** The settings the client needs (a subset of {@link FxiaokeConfig}). */
export type FxiaokeClientSettings = Pick<
  FxiaokeConfig,
  'baseUrl' | 'authFlow' | 'appId' | 'appSecret' | 'permanentCode' | 'openUserId' | 'rateLimit' | 'timeoutMs'
>;

/** Reported after every HTTP call (token calls included), e.g. for the benchmark. */
export interface FxiaokeCallInfo {
  path: string;
  /** Wall-clock duration of the HTTP exchange (rate-limit waiting excluded). */
  durationMs: number;
  outcome: 'ok' | ErrorKind;
  errorCode?: number;
}

export interface FxiaokeClientOptions {
  /** Shared token store; default a process-local single-flight store. Lambda: the DynamoDB store. */
  credentialStore?: CredentialStore<FxiaokeCredential>;
  /** Per-interface limiter; default an in-memory sliding window of `settings.rateLimit`. */
  rateLimiter?: RateLimiter;
  /** Limiter for the token endpoint; default 10 calls / 60 s (Fxiaoke's token endpoint limit). */
  tokenRateLimiter?: RateLimiter;
  /** Time source for token ages and quota reset times; default `Date.now`. */
  clock?: Clock;
  /** Used by the default limiters and the read-retry backoff; default a real timer. */
  sleep?: Sleep;
  logger?: Logger;
  onCall?: (info: FxiaokeCallInfo) => void;
  /** HTTP dispatcher; default one keep-alive `Pool` for the base URL's origin (closed by {@link FxiaokeClient.close}). */
  dispatcher?: Dispatcher;
  /** How many times a transiently failed read is retried (with 250 ms × 4ⁿ backoff); default 2. */
  readRetries?: number;
  /** `thirdTraceId` generator; default `crypto.randomUUID` (RFC 4122 v4, as Fxiaoke asks). */
  newTraceId?: () => string;
  /**
   * `errorCode`s that mean "no such record" on `get`; default {@link DEFAULT_NOT_FOUND_ERROR_CODES}.
   * Fxiaoke does not document one (spec §4.2: UNKNOWN); a `get` answered with errorCode 0 and no `data` is
   * always read as not-found.
   */
  notFoundErrorCodes?: readonly number[];
  /** Defaults for `triggerWorkFlow` / `triggerApprovalFlow` on writes; unset = Fxiaoke's default (true). */
  writeDefaults?: WriteFlowOptions;
}

/** Flags of create/update that decide which CRM automation a write sets off. */
export interface WriteFlowOptions {
  /**
   * Fxiaoke default true. Pass false for writes that come from the ERP, so workflow post-actions (including
   * an APL change-push function hung on a workflow) do not echo the change back as a new event.
   */
  triggerWorkFlow?: boolean;
  /** Fxiaoke default true. */
  triggerApprovalFlow?: boolean;
}

export interface WriteOptionInfo {
  skipFuncValidate?: boolean;
  isDuplicateSearch?: boolean;
  useValidationRule?: boolean;
}

/** Detail rows by detail apiName, e.g. `{ SalesOrderProductObj: [{ product_id, quantity }] }`. */
export type DetailRows = Readonly<Record<string, readonly Readonly<Record<string, unknown>>[]>>;

export interface CreateOptions extends WriteFlowOptions {
  details?: DetailRows;
  optionInfo?: WriteOptionInfo;
  /** Honour `create_time` in the payload (Fxiaoke default false). */
  hasSpecifyTime?: boolean;
  /** Honour `created_by` in the payload (Fxiaoke default false). */
  hasSpecifyCreatedBy?: boolean;
  /** Ask Fxiaoke to return the created detail ids (shape undocumented: returned raw). */
  includeDetailIds?: boolean;
}

export interface UpdateOptions extends WriteFlowOptions {
  /** Detail rows: rows with `_id` are updated; rows without are assumed to be created (spec §4.4, INFER). */
  details?: DetailRows;
  optionInfo?: WriteOptionInfo;
  /** Allow modifying locked data. */
  skipDataStatusValidate?: boolean;
}

export interface CreateResult {
  dataId: string;
  /** Whatever Fxiaoke returned about created details when `includeDetailIds` was set. */
  detailIds?: unknown;
}

export interface QueryResult {
  records: CrmRecord[];
  /** Only with `withTotal: true`; Fxiaoke answers 0 otherwise. */
  total: number | undefined;
  offset: number;
  limit: number;
}

/** Where a paged read stopped; pass it back as `after` to continue (it is plain JSON — store it). */
export type QueryCursor =
  | { keyset: 'id'; afterId: string }
  | { keyset: 'modified'; afterModifiedMs: number; afterId: string };

export interface PagedQueryOptions {
  /** AND-ed with the keyset condition. */
  filters?: readonly Filter[];
  fieldProjection?: readonly string[];
  /** 1–100, default 100. */
  pageSize?: number;
  /**
   * `id` (default): `_id` ascending, `_id > last` — Fxiaoke's documented deep-paging method, for full scans.
   * `modified`: (`last_modified_time`, `_id`) ascending, for polling changes; a record changed during the
   * scan can be returned again later (harmless for a sync: it is re-read anyway).
   */
  keyset?: 'id' | 'modified';
  /** Continue after this position (from a previous page's `cursor`). For polling from a watermark `t`, pass `{keyset: 'modified', afterModifiedMs: t, afterId: ''}`. */
  after?: QueryCursor;
}

export interface QueryPage {
  records: CrmRecord[];
  /** Position after the last record of this page. */
  cursor: QueryCursor;
}

/** How detail rows point at their master: detail apiName + its master-detail (lookup) field. */
export interface DetailSpec {
  apiName: string;
  masterField: string;
}

/**
 * Detail objects of the preset masters this project syncs, with the master-detail field that points at the
 * master. `order_id` (订单产品 → 销售订单) is Fxiaoke's preset field name; `payment_id` and
 * `delivery_note_id` are the names our emulator uses and are [unverified] against a live tenant — check
 * them with `describe` and pass explicit specs if your tenant differs.
 */
export const PRESET_DETAIL_SPECS: Readonly<Record<string, readonly DetailSpec[]>> = {
  SalesOrderObj: [{ apiName: 'SalesOrderProductObj', masterField: 'order_id' }],
  PaymentObj: [{ apiName: 'OrderPaymentObj', masterField: 'payment_id' }],
  DeliveryNoteObj: [{ apiName: 'DeliveryNoteProductObj', masterField: 'delivery_note_id' }],
};

export interface ObjectDescribe {
  apiName: string;
  displayName: string | undefined;
  fields: Record<string, FieldDescribe>;
  /** The whole `describe` object as returned (e.g. detail describes with `includeDetail`). */
  raw: Record<string, unknown>;
}

export interface ObjectSummary {
  apiName: string;
  displayName: string | undefined;
  /** `package` (preset) or `custom`. */
  defineType: string | undefined;
  isActive: boolean | undefined;
}

export type DataAction =
  | 'query'
  | 'get'
  | 'create'
  | 'update'
  | 'invalid'
  | 'recover'
  | 'delete'
  | 'changeOwner';

/**
 * ASSUMPTION (spec §4.2: the not-found code of `get` is UNKNOWN): 320002, the code our emulator uses for
 * "数据不存在或已被删除". A tenant whose Fxiaoke answers another code can pass `notFoundErrorCodes`; until then
 * such an answer is a `business` error, which is final for the event — the same outcome, less precisely named.
 */
export const DEFAULT_NOT_FOUND_ERROR_CODES: readonly number[] = [320002];

const API_NAME = /^[A-Za-z][A-Za-z0-9_]*$/;

/** Custom objects are the ones whose apiName ends with `__c` (spec §4). */
export function isCustomObject(apiName: string): boolean {
  return apiName.endsWith('__c');
}

/**
 * The data path for an object and action: `/cgi/crm/custom/v2/data/<action>` for `…__c` objects (official
 * "applies only to custom objects" pages), `/cgi/crm/v2/data/<action>` otherwise.
 * @throws {InvalidInputError} `FXIAOKE_BAD_API_NAME` when `apiName` is not an apiName.
 */
export function dataPath(apiName: string, action: DataAction): string {
  checkApiName(apiName);
  return isCustomObject(apiName) ? `/cgi/crm/custom/v2/data/${action}` : `/cgi/crm/v2/data/${action}`;
}

export const DESCRIBE_PATH = '/cgi/crm/v2/object/describe';
export const OBJECT_LIST_PATH = '/cgi/crm/v2/object/list';

function checkApiName(apiName: unknown): asserts apiName is string {
  if (typeof apiName !== 'string' || !API_NAME.test(apiName)) {
    throw new InvalidInputError(
      `对象 apiName 不合法：${JSON.stringify(apiName)} / invalid object apiName ${JSON.stringify(apiName)}`,
      'FXIAOKE_BAD_API_NAME',
    );
  }
}

function checkId(id: unknown, what = 'id'): asserts id is string {
  if (typeof id !== 'string' || id.trim() === '') {
    throw new InvalidInputError(`${what} 不能为空 / ${what} must be a non-empty string`, 'FXIAOKE_BAD_ID');
  }
}

function checkFields(fields: unknown, what: string): asserts fields is Record<string, unknown> {
  if (typeof fields !== 'object' || fields === null || Array.isArray(fields)) {
    throw new InvalidInputError(`${what} 必须是对象 / ${what} must be an object`, 'FXIAOKE_BAD_FIELDS');
  }
}

function detailsPayload(details: DetailRows | undefined): Record<string, unknown> {
  if (details === undefined) return {};
  checkFields(details, 'details');
  for (const [detailApiName, rows] of Object.entries(details)) {
    checkApiName(detailApiName);
    if (!Array.isArray(rows)) {
      throw new InvalidInputError(
        `details.${detailApiName} 必须是数组 / details.${detailApiName} must be an array of rows`,
        'FXIAOKE_BAD_FIELDS',
      );
    }
    for (const row of rows) checkFields(row, `details.${detailApiName}[]`);
  }
  return { details };
}

const READ_BACKOFF_BASE_MS = 250;

/** The Fxiaoke Open API client. Build one per process (module scope in a Lambda) and reuse it. */
export class FxiaokeClient {
  readonly #settings: FxiaokeClientSettings;
  readonly #origin: string;
  readonly #pathPrefix: string;
  readonly #dispatcher: Dispatcher;
  readonly #ownsDispatcher: boolean;
  readonly #store: CredentialStore<FxiaokeCredential>;
  readonly #credentialKey: string;
  readonly #limiter: RateLimiter;
  readonly #tokenLimiter: RateLimiter;
  readonly #clock: Clock;
  readonly #sleep: Sleep;
  readonly #logger: Logger;
  readonly #onCall: ((info: FxiaokeCallInfo) => void) | undefined;
  readonly #readRetries: number;
  readonly #newTraceId: () => string;
  readonly #notFoundCodes: ReadonlySet<number>;
  readonly #writeDefaults: WriteFlowOptions;

  /**
   * @throws {InvalidInputError} `FXIAOKE_BAD_BASE_URL` when `settings.baseUrl` is not an http(s) URL.
   */
  constructor(settings: FxiaokeClientSettings, options: FxiaokeClientOptions = {}) {
    let url: URL;
    try {
      url = new URL(settings.baseUrl);
    } catch (error) {
      throw new InvalidInputError(
        `FXIAOKE_BASE_URL 不是合法的 URL / FXIAOKE_BASE_URL is not a URL: ${settings.baseUrl}`,
        'FXIAOKE_BAD_BASE_URL',
        error,
      );
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new InvalidInputError(
        `FXIAOKE_BASE_URL 必须是 http(s) 地址 / FXIAOKE_BASE_URL must be http(s): ${settings.baseUrl}`,
        'FXIAOKE_BAD_BASE_URL',
      );
    }
    registerSecret(settings.appSecret);
    registerSecret(settings.permanentCode);
    this.#settings = settings;
    this.#origin = url.origin;
    this.#pathPrefix = url.pathname.replace(/\/+$/, '');
    this.#clock = options.clock ?? systemClock;
    this.#sleep = options.sleep ?? realSleep;
    this.#logger = options.logger ?? silentLogger;
    this.#onCall = options.onCall;
    this.#readRetries = options.readRetries ?? 2;
    this.#newTraceId = options.newTraceId ?? randomUUID;
    this.#notFoundCodes = new Set(options.notFoundErrorCodes ?? DEFAULT_NOT_FOUND_ERROR_CODES);
    this.#writeDefaults = options.writeDefaults ?? {};
    this.#store = options.credentialStore ?? new InMemoryCredentialStore<FxiaokeCredential>(this.#clock);
    this.#credentialKey = fxiaokeCredentialKey(settings);
    this.#limiter =
      options.rateLimiter ??
      new SlidingWindowRateLimiter(settings.rateLimit, { clock: this.#clock, sleep: this.#sleep });
    this.#tokenLimiter =
      options.tokenRateLimiter ??
      new SlidingWindowRateLimiter(TOKEN_ENDPOINT_LIMIT, { clock: this.#clock, sleep: this.#sleep });
    this.#ownsDispatcher = options.dispatcher === undefined;
    this.#dispatcher =
      options.dispatcher ??
      new Pool(this.#origin, {
        connections: 16,
        keepAliveTimeout: 10_000,
        connectTimeout: Math.min(settings.timeoutMs, 10_000),
        headersTimeout: settings.timeoutMs,
        bodyTimeout: settings.timeoutMs,
      });
  }

  /** The credential-store key this client uses (for stores shared across processes). */
  get credentialKey(): string {
    return this.#credentialKey;
  }

  /** Close the HTTP pool (when the client created it). */
  async close(): Promise<void> {
    if (this.#ownsDispatcher) await this.#dispatcher.close();
  }

  // ── CRM data ─────────────────────────────────────────────────────────────────────────────────────────

  /**
   * Read one record.
   * @throws {InvalidInputError} bad apiName or id.
   * @throws {FxiaokeError} kind `not-found` when the record does not exist (or is not visible to the
   *   configured user); otherwise any class of {@link FxiaokeError}.
   */
  async get(apiName: string, id: string): Promise<CrmRecord> {
    const path = dataPath(apiName, 'get');
    checkId(id);
    let result: Record<string, unknown>;
    try {
      result = await this.#call(path, { data: { dataObjectApiName: apiName, objectDataId: id } }, 'read');
    } catch (error) {
      if (
        error instanceof FxiaokeError &&
        error.errorCode !== undefined &&
        this.#notFoundCodes.has(error.errorCode)
      ) {
        throw notFound(path, apiName, id, error);
      }
      throw error;
    }
    if (result.data === null || result.data === undefined) throw notFound(path, apiName, id);
    return this.#parse(getResultSchema, result, path, 'read').data;
  }

  /**
   * One page of a query (offset paging, at most 100 records, offset ≤ 10 000).
   * @throws {InvalidInputError} `FXIAOKE_QUERY_INVALID` for a limit over 100, a bad offset or a malformed
   *   filter — before any call is made.
   * @throws {FxiaokeError} for any remote or transport failure.
   */
  async query(apiName: string, options: QueryOptions = {}): Promise<QueryResult> {
    const path = dataPath(apiName, 'query');
    const info = buildSearchQueryInfo(options);
    const result = await this.#call(
      path,
      {
        data: {
          dataObjectApiName: apiName,
          find_explicit_total_num: options.withTotal ?? false,
          search_query_info: info,
        },
      },
      'read',
    );
    const parsed = this.#parse(queryResultSchema, result, path, 'read').data;
    return {
      records: parsed.dataList,
      total: options.withTotal ? (parsed.total ?? undefined) : undefined,
      offset: info.offset,
      limit: info.limit,
    };
  }

  /**
   * Page through every matching record with a keyset (never an offset), so it works past Fxiaoke's
   * 10 000-offset cap. Each page carries the cursor to resume from.
   * @throws {InvalidInputError} for a bad page size or filter.
   * @throws {FxiaokeError} for any remote failure (resume from the last cursor you saw).
   */
  async *queryPages(
    apiName: string,
    options: PagedQueryOptions = {},
  ): AsyncGenerator<QueryPage, void, undefined> {
    checkApiName(apiName);
    const keyset = options.keyset ?? options.after?.keyset ?? 'id';
    if (options.after && options.after.keyset !== keyset) {
      throw new InvalidInputError(
        `after 游标是 ${options.after.keyset} 分页的，与 keyset=${keyset} 不符 / cursor is for keyset "${options.after.keyset}", not "${keyset}"`,
        'FXIAOKE_QUERY_INVALID',
      );
    }
    if (keyset === 'id') {
      yield* this.#pagesById(apiName, options.filters ?? [], options, options.after?.afterId);
      return;
    }
    yield* this.#pagesByModified(apiName, options);
  }

  /** Every matching record, one at a time (see {@link queryPages}). */
  async *queryAll(
    apiName: string,
    options: PagedQueryOptions = {},
  ): AsyncGenerator<CrmRecord, void, undefined> {
    for await (const page of this.queryPages(apiName, options)) yield* page.records;
  }

  /**
   * Wait until a query of `apiName` would pass the per-interface budget now, without spending a call — so
   * a caller whose call can carry more ids (the coalescing reader) fills it after the wait rather than
   * before. Best effort: returns at once with a limiter that cannot tell.
   *
   * @throws {StateError} when the shared limiter's table fails.
   */
  async whenQueryAvailable(apiName: string): Promise<void> {
    await this.#limiter.whenAvailable?.(`fxiaoke:${dataPath(apiName, 'query')}`);
  }

  /**
   * Re-read many records with one `_id IN [...]` query per 100 ids (so 1 000 change events cost ~10 calls,
   * not 1 000 `get`s). Duplicate ids are read once. Ids that do not come back are absent from the map
   * (deleted, invalid-and-hidden, or not visible to the configured user — `get` them one by one if the
   * difference matters).
   * @throws {InvalidInputError} for a bad apiName or an empty id.
   * @throws {FxiaokeError} for any remote failure.
   */
  async getMany(
    apiName: string,
    ids: readonly string[],
    options: { fieldProjection?: readonly string[] } = {},
  ): Promise<Map<string, CrmRecord>> {
    checkApiName(apiName);
    for (const id of ids) checkId(id);
    const found = new Map<string, CrmRecord>();
    for (const part of chunk([...new Set(ids)], QUERY_MAX_LIMIT)) {
      const page = await this.query(apiName, {
        filters: [{ field: '_id', operator: 'IN', values: part }],
        limit: QUERY_MAX_LIMIT,
        ...(options.fieldProjection ? { fieldProjection: options.fieldProjection } : {}),
      });
      for (const record of page.records) found.set(record._id, record);
    }
    return found;
  }

  /**
   * A master record with all its detail rows, read by querying each detail object by its master field
   * (`get`'s embedded `details` shape is internal and not relied on — spec §4.2).
   * @throws {FxiaokeError} kind `not-found` when the master does not exist; any other class otherwise.
   */
  async getWithDetails(
    apiName: string,
    id: string,
    detailSpecs: readonly DetailSpec[] = PRESET_DETAIL_SPECS[apiName] ?? [],
  ): Promise<CrmRecordWithDetails> {
    const record = await this.get(apiName, id);
    const details: Record<string, CrmRecord[]> = {};
    for (const spec of detailSpecs) {
      checkApiName(spec.apiName);
      const rows: CrmRecord[] = [];
      for await (const row of this.queryAll(spec.apiName, {
        filters: [{ field: spec.masterField, operator: 'EQ', values: [id] }],
      })) {
        rows.push(row);
      }
      details[spec.apiName] = rows;
    }
    return { record, details };
  }

  /**
   * {@link getWithDetails} for many masters: one `getMany` for the masters, then per detail object one
   * keyset-paged `masterField IN [...]` query per 100 masters. Missing masters are absent from the map.
   * @throws {FxiaokeError} for any remote failure.
   */
  async getManyWithDetails(
    apiName: string,
    ids: readonly string[],
    detailSpecs: readonly DetailSpec[] = PRESET_DETAIL_SPECS[apiName] ?? [],
  ): Promise<Map<string, CrmRecordWithDetails>> {
    const masters = await this.getMany(apiName, ids);
    const out = new Map<string, CrmRecordWithDetails>();
    for (const [id, record] of masters) {
      out.set(id, { record, details: Object.fromEntries(detailSpecs.map((spec) => [spec.apiName, []])) });
    }
    for (const spec of detailSpecs) {
      checkApiName(spec.apiName);
      for (const part of chunk([...masters.keys()], QUERY_MAX_LIMIT)) {
        for await (const row of this.queryAll(spec.apiName, {
          filters: [{ field: spec.masterField, operator: 'IN', values: part }],
        })) {
          const masterId = readCrmFirstId(row, spec.masterField);
          const target = masterId === undefined ? undefined : out.get(masterId)?.details[spec.apiName];
          target?.push(row);
        }
      }
    }
    return out;
  }

  /**
   * Create a record (with detail rows for a master such as SalesOrderObj).
   *
   * Fxiaoke creates are NOT idempotent (spec §4.3): when the answer is lost the error is `outcome-unknown`
   * and the record may exist — look it up by its external key before sending again.
   * @throws {InvalidInputError} for a bad apiName, fields or details.
   * @throws {FxiaokeError} `business` for validation refusals (message verbatim), `outcome-unknown` when the
   *   response was lost after sending, any other class otherwise.
   */
  async create(
    apiName: string,
    fields: Record<string, unknown>,
    options: CreateOptions = {},
  ): Promise<CreateResult> {
    const path = dataPath(apiName, 'create');
    checkFields(fields, 'fields');
    const payload: Record<string, unknown> = {
      ...this.#flowFlags(options),
      ...(options.hasSpecifyTime === undefined ? {} : { hasSpecifyTime: options.hasSpecifyTime }),
      ...(options.hasSpecifyCreatedBy === undefined
        ? {}
        : { hasSpecifyCreatedBy: options.hasSpecifyCreatedBy }),
      ...(options.includeDetailIds === undefined ? {} : { includeDetailIds: options.includeDetailIds }),
      data: {
        // dataObjectApiName goes inside object_data for writes (spec §9 gotcha 10).
        object_data: { ...fields, dataObjectApiName: apiName },
        ...detailsPayload(options.details),
        ...(options.optionInfo ? { optionInfo: options.optionInfo } : {}),
      },
    };
    const result = await this.#call(path, payload, 'write');
    const parsed = this.#parse(createResultSchema, result, path, 'write');
    const detailIds = 'detailIds' in parsed ? parsed.detailIds : undefined;
    return detailIds === undefined ? { dataId: parsed.dataId } : { dataId: parsed.dataId, detailIds };
  }

  /**
   * Update a record: only the fields given are changed. Detail rows with `_id` are updated.
   * @throws {InvalidInputError} for a bad apiName, id, fields (e.g. a different `_id`) or details.
   * @throws {FxiaokeError} `business` for validation refusals, `outcome-unknown` when the response was lost
   *   after sending, any other class otherwise.
   */
  async update(
    apiName: string,
    id: string,
    fields: Record<string, unknown>,
    options: UpdateOptions = {},
  ): Promise<{ dataId: string }> {
    const path = dataPath(apiName, 'update');
    checkId(id);
    checkFields(fields, 'fields');
    if ('_id' in fields && fields._id !== id) {
      throw new InvalidInputError(
        `fields._id 与要更新的 id 不一致 / fields._id (${String(fields._id)}) differs from the id being updated (${id})`,
        'FXIAOKE_BAD_FIELDS',
      );
    }
    const payload: Record<string, unknown> = {
      ...this.#flowFlags(options),
      data: {
        object_data: { ...fields, dataObjectApiName: apiName, _id: id },
        ...detailsPayload(options.details),
        ...(options.skipDataStatusValidate === undefined
          ? {}
          : { skipDataStatusValidate: options.skipDataStatusValidate }),
        ...(options.optionInfo ? { optionInfo: options.optionInfo } : {}),
      },
    };
    const result = await this.#call(path, payload, 'write');
    const parsed = this.#parse(updateResultSchema, result, path, 'write');
    return { dataId: parsed.dataId ?? id };
  }

  /**
   * Invalidate (作废, soft-delete) a record; its `life_status` becomes invalid.
   * @throws {FxiaokeError} `outcome-unknown` when the response was lost after sending, any class otherwise.
   */
  async invalid(apiName: string, id: string): Promise<void> {
    const path = dataPath(apiName, 'invalid');
    checkId(id);
    // `object_data_id` is a single string despite the doc label "Data ID list" (spec §4.5).
    await this.#call(path, { data: { object_data_id: id, dataObjectApiName: apiName } }, 'write');
  }

  /**
   * Field metadata of an object (types, labels, select options).
   * @throws {FxiaokeError} for any remote failure.
   */
  async describe(apiName: string, options: { includeDetail?: boolean } = {}): Promise<ObjectDescribe> {
    checkApiName(apiName);
    const includeDetail = options.includeDetail ?? false;
    const data = { apiName, includeDetail };
    // The current manual puts apiName in `data`; legacy clients put it at the top level (spec §6, OBS).
    // Sending both is what lets one request work with either server generation.
    const payload = this.#settings.authFlow === 'legacy' ? { ...data, data } : { data };
    const result = await this.#call(DESCRIBE_PATH, payload, 'read');
    const parsed = this.#parse(describeResultSchema, result, DESCRIBE_PATH, 'read').data.describe;
    return {
      apiName: parsed.api_name,
      displayName: parsed.display_name ?? undefined,
      fields: parsed.fields,
      raw: parsed,
    };
  }

  /**
   * Every object of the tenant (preset and custom).
   * @throws {FxiaokeError} for any remote failure.
   */
  async listObjects(): Promise<ObjectSummary[]> {
    const result = await this.#call(OBJECT_LIST_PATH, {}, 'read');
    return this.#parse(objectListResultSchema, result, OBJECT_LIST_PATH, 'read').data.objects.map((o) => ({
      apiName: o.describeApiName,
      displayName: o.describeDisplayName ?? undefined,
      defineType: o.defineType ?? undefined,
      isActive: o.isActive ?? undefined,
    }));
  }

  // ── paging internals ─────────────────────────────────────────────────────────────────────────────────

  async *#pagesById(
    apiName: string,
    baseFilters: readonly Filter[],
    options: PagedQueryOptions,
    startAfterId: string | undefined,
  ): AsyncGenerator<QueryPage, void, undefined> {
    const limit = options.pageSize ?? QUERY_MAX_LIMIT;
    let afterId = startAfterId;
    for (;;) {
      // Fxiaoke's documented deep paging: order by _id, keep offset 0, filter _id GT <last _id> (spec §4.1).
      const filters: Filter[] = [...baseFilters];
      if (afterId !== undefined && afterId !== '')
        filters.push({ field: '_id', operator: 'GT', values: [afterId] });
      const page = await this.query(apiName, {
        filters,
        orders: [{ field: '_id', ascending: true }],
        limit,
        ...(options.fieldProjection ? { fieldProjection: options.fieldProjection } : {}),
      });
      const last = page.records.at(-1);
      if (!last) return;
      if (afterId !== undefined && last._id <= afterId) {
        // The server did not honour `_id GT`: paging on would loop over the same page forever.
        throw new FxiaokeError(
          `纷享销客没有按 _id 游标返回下一页（${apiName}）/ Fxiaoke ignored the _id keyset filter for ${apiName}; stopping instead of looping`,
          {
            kind: 'internal',
            fault: 'theirs',
            code: 'FXIAOKE_KEYSET_IGNORED',
            path: dataPath(apiName, 'query'),
          },
        );
      }
      afterId = last._id;
      yield { records: page.records, cursor: { keyset: 'id', afterId } };
      if (page.records.length < limit) return;
    }
  }

  /**
   * Keyset on (last_modified_time, _id) with AND-only filters: query `time >= t` ordered by (time, _id) and
   * drop what was already returned (`time == t && _id <= lastId`). If a whole page is made of such ties (more
   * than `pageSize` records changed in the same millisecond), drain `time == t` by `_id` and go on with
   * `time > t`. Assumes Fxiaoke orders `_id` as plain strings, as JavaScript compares them (ids are hex).
   */
  async *#pagesByModified(
    apiName: string,
    options: PagedQueryOptions,
  ): AsyncGenerator<QueryPage, void, undefined> {
    const limit = options.pageSize ?? QUERY_MAX_LIMIT;
    const baseFilters = options.filters ?? [];
    const after = options.after?.keyset === 'modified' ? options.after : undefined;
    let time = after?.afterModifiedMs;
    let lastId = after?.afterId ?? '';
    let strictlyAfter = false;
    const projection = options.fieldProjection
      ? [...new Set([...options.fieldProjection, 'last_modified_time'])]
      : undefined;
    const modifiedOf = (record: CrmRecord, path: string): number => {
      if (record.last_modified_time === undefined) {
        throw new FxiaokeError(
          `纷享销客记录缺少 last_modified_time，无法按修改时间分页 / record ${record._id} has no last_modified_time; cannot page by modification time`,
          { kind: 'internal', fault: 'theirs', code: 'FXIAOKE_UNEXPECTED_RESPONSE', path },
        );
      }
      return record.last_modified_time;
    };
    const path = dataPath(apiName, 'query');
    for (;;) {
      const filters: Filter[] = [...baseFilters];
      if (time !== undefined) {
        filters.push({ field: 'last_modified_time', operator: strictlyAfter ? 'GT' : 'GTE', values: [time] });
      }
      const page = await this.query(apiName, {
        filters,
        orders: [
          { field: 'last_modified_time', ascending: true },
          { field: '_id', ascending: true },
        ],
        limit,
        ...(projection ? { fieldProjection: projection } : {}),
      });
      const since = time;
      const fresh = page.records.filter((record) => {
        const modified = modifiedOf(record, path);
        return since === undefined || modified > since || (modified === since && record._id > lastId);
      });
      const last = fresh.at(-1);
      if (last) {
        time = modifiedOf(last, path);
        lastId = last._id;
        strictlyAfter = false;
        yield { records: fresh, cursor: { keyset: 'modified', afterModifiedMs: time, afterId: lastId } };
      }
      if (page.records.length < limit) return;
      if (!last && time !== undefined) {
        const tieTime = time;
        const ties: Filter[] = [
          ...baseFilters,
          { field: 'last_modified_time', operator: 'EQ', values: [tieTime] },
        ];
        for await (const tiePage of this.#pagesById(
          apiName,
          ties,
          { ...options, fieldProjection: projection },
          lastId,
        )) {
          const tieLast = tiePage.records.at(-1);
          if (tieLast) lastId = tieLast._id;
          yield {
            records: tiePage.records,
            cursor: { keyset: 'modified', afterModifiedMs: tieTime, afterId: lastId },
          };
        }
        strictlyAfter = true;
      }
    }
  }

  // ── call machinery ───────────────────────────────────────────────────────────────────────────────────

  #flowFlags(options: WriteFlowOptions): Record<string, boolean> {
    const triggerWorkFlow = options.triggerWorkFlow ?? this.#writeDefaults.triggerWorkFlow;
    const triggerApprovalFlow = options.triggerApprovalFlow ?? this.#writeDefaults.triggerApprovalFlow;
    return {
      ...(triggerWorkFlow === undefined ? {} : { triggerWorkFlow }),
      ...(triggerApprovalFlow === undefined ? {} : { triggerApprovalFlow }),
    };
  }

  #parse<S extends z.ZodType>(
    schema: S,
    value: unknown,
    path: string,
    operation: FxiaokeOperation,
  ): z.output<S> {
    const parsed = schema.safeParse(value);
    if (parsed.success) return parsed.data;
    const issues = parsed.error.issues
      .slice(0, 5)
      .map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`)
      .join('; ');
    // A write that answered errorCode 0 was applied; if we cannot read its answer, its result is unknown.
    throw new FxiaokeError(
      `纷享销客 ${path} 的响应格式不符合预期 / Fxiaoke ${path} answered errorCode 0 with an unexpected shape: ${issues}`,
      {
        kind: operation === 'write' ? 'outcome-unknown' : 'internal',
        fault: 'theirs',
        code: 'FXIAOKE_UNEXPECTED_RESPONSE',
        path,
      },
    );
  }

  async #call(
    path: string,
    payload: Record<string, unknown>,
    operation: 'read' | 'write',
  ): Promise<Record<string, unknown>> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.#callAuthenticated(path, payload, operation);
      } catch (error) {
        const retry =
          operation === 'read' &&
          error instanceof FxiaokeError &&
          error.kind === 'transient' &&
          attempt < this.#readRetries;
        if (!retry) throw error;
        this.#logger.warn('fxiaoke.read_retry', { path, attempt: attempt + 1, code: error.code });
        await this.#sleep(READ_BACKOFF_BASE_MS * 4 ** attempt);
      }
    }
  }

  async #callAuthenticated(
    path: string,
    payload: Record<string, unknown>,
    operation: 'read' | 'write',
  ): Promise<Record<string, unknown>> {
    const credential = await this.#credential();
    try {
      return await this.#sendWith(credential, path, payload, operation);
    } catch (error) {
      if (!(error instanceof FxiaokeError) || error.kind !== 'session-expired') throw error;
      // 20016 / 11014: drop exactly this token (a newer one fetched by someone else is kept), get a fresh one
      // and retry once. The refused call was not executed, so this is safe for writes as well.
      this.#logger.warn('fxiaoke.token_rejected', {
        path,
        errorCode: error.errorCode,
        tokenId: credential.id,
      });
      await this.#store.invalidate(this.#credentialKey, credential.id);
      const fresh = await this.#credential();
      return await this.#sendWith(fresh, path, payload, operation);
    }
  }

  #sendWith(
    credential: FxiaokeCredential,
    path: string,
    payload: Record<string, unknown>,
    operation: 'read' | 'write',
  ): Promise<Record<string, unknown>> {
    const request = authenticate(credential, this.#settings.openUserId, payload);
    return this.#send(this.#limiter, path, request.headers, request.body, operation);
  }

  /**
   * The current credential from the (possibly shared) store. A stored value this version cannot read — an
   * entry written by another version, or for another flow — is discarded once and re-issued, instead of
   * being sent and failing forever.
   */
  async #credential(): Promise<FxiaokeCredential> {
    const issue = () => this.#issueToken();
    for (let attempt = 0; ; attempt++) {
      const stored: unknown = await this.#store.get(this.#credentialKey, issue);
      const parsed = fxiaokeCredentialSchema.safeParse(stored);
      if (parsed.success && parsed.data.flow === this.#settings.authFlow) {
        // Tokens issued by another process reach this one through the store: mask them here too.
        registerSecret(parsed.data.token);
        return parsed.data;
      }
      const storedId =
        typeof stored === 'object' && stored !== null && 'id' in stored && typeof stored.id === 'string'
          ? stored.id
          : '';
      if (attempt > 0) {
        throw new FxiaokeError(
          '凭据存储返回了无法识别的纷享销客令牌 / the credential store returned an unreadable Fxiaoke credential',
          {
            kind: 'internal',
            fault: 'ours',
            code: 'FXIAOKE_BAD_STORED_CREDENTIAL',
            path: '(credential store)',
          },
        );
      }
      this.#logger.warn('fxiaoke.stored_credential_unreadable', { key: this.#credentialKey });
      await this.#store.invalidate(this.#credentialKey, storedId);
    }
  }

  async #issueToken(): Promise<FxiaokeCredential> {
    const { path, body } = tokenRequest(this.#settings.authFlow, this.#settings);
    const result = await this.#send(this.#tokenLimiter, path, {}, body, 'token');
    const made = credentialFromTokenResponse(this.#settings.authFlow, result, this.#clock());
    if (!made.ok) {
      throw new FxiaokeError(
        `纷享销客令牌接口的响应缺少字段（${made.problem}）/ Fxiaoke token answer is incomplete: ${made.problem}`,
        { kind: 'transient', fault: 'theirs', code: 'FXIAOKE_UNEXPECTED_RESPONSE', path },
      );
    }
    registerSecret(made.credential.token);
    this.#logger.info('fxiaoke.token_issued', {
      flow: made.credential.flow,
      tokenId: made.credential.id,
      expiresAtMs: made.credential.expiresAtMs,
      renewAtMs: made.credential.renewAtMs,
    });
    return made.credential;
  }

  /** One HTTP exchange: limiter → POST → envelope check. Reports to `onCall`. */
  async #send(
    limiter: RateLimiter,
    path: string,
    headers: Record<string, string>,
    body: Record<string, unknown>,
    operation: FxiaokeOperation,
  ): Promise<Record<string, unknown>> {
    await limiter.acquire(`fxiaoke:${path}`);
    const started = performance.now();
    let outcome: FxiaokeCallInfo['outcome'] = 'ok';
    let errorCode: number | undefined;
    try {
      return await this.#exchange(path, headers, body, operation);
    } catch (error) {
      outcome = error instanceof SyncError ? error.kind : 'internal';
      errorCode = error instanceof FxiaokeError ? error.errorCode : undefined;
      throw error;
    } finally {
      const durationMs = performance.now() - started;
      this.#logger.debug('fxiaoke.call', { path, durationMs: Math.round(durationMs), outcome, errorCode });
      this.#onCall?.({ path, durationMs, outcome, ...(errorCode === undefined ? {} : { errorCode }) });
    }
  }

  async #exchange(
    path: string,
    headers: Record<string, string>,
    body: Record<string, unknown>,
    operation: FxiaokeOperation,
  ): Promise<Record<string, unknown>> {
    const traceId = this.#newTraceId();
    let statusCode: number;
    let text: string;
    try {
      const response = await this.#dispatcher.request({
        origin: this.#origin,
        path: `${this.#pathPrefix}${path}?thirdTraceId=${encodeURIComponent(traceId)}`,
        method: 'POST',
        headers: {
          'content-type': 'application/json; charset=utf-8',
          accept: 'application/json',
          ...headers,
        },
        body: JSON.stringify(body),
        headersTimeout: this.#settings.timeoutMs,
        bodyTimeout: this.#settings.timeoutMs,
      });
      statusCode = response.statusCode;
      text = await response.body.text();
    } catch (error) {
      throw fxiaokeErrorFromTransport(path, operation, error, this.#settings.timeoutMs);
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    const envelope = envelopeSchema.safeParse(json);
    if (!envelope.success) throw fxiaokeErrorFromHttp(path, operation, statusCode, json !== undefined);
    if (envelope.data.errorCode !== 0) {
      throw fxiaokeErrorFromEnvelope(
        { ...envelope.data, httpStatus: statusCode },
        {
          path,
          operation,
          nowMs: this.#clock(),
          throttleRetryAfterMs: this.#settings.rateLimit.windowMs,
        },
      );
    }
    return envelope.data;
  }
}

function notFound(path: string, apiName: string, id: string, cause?: FxiaokeError): FxiaokeError {
  return new FxiaokeError(
    `纷享销客中找不到 ${apiName} ${id}（已删除，或当前用户无权查看）/ Fxiaoke has no ${apiName} ${id} (deleted, or not visible to FXIAOKE_OPEN_USER_ID)`,
    {
      kind: 'not-found',
      fault: 'caller',
      code: 'FXIAOKE_NOT_FOUND',
      path,
      errorCode: cause?.errorCode,
      errorMessage: cause?.errorMessage,
      traceId: cause?.traceId,
      cause,
    },
  );
}

/**
 * Build a client from the validated configuration.
 * @throws {InvalidInputError} when the base URL is unusable.
 */
export function createFxiaokeClient(
  settings: FxiaokeClientSettings,
  options: FxiaokeClientOptions = {},
): FxiaokeClient {
  return new FxiaokeClient(settings, options);
}
