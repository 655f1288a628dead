/**
 * The K3Cloud (金蝶云星空) Web API client: typed operations over one keep-alive undici pool, all four auth
 * modes, sessions shared through a {@link CredentialStore}, and every failure classified into one
 * {@link K3CloudError}.
 *
 * Build it once at module scope (Lambda reuses it across invocations):
 * ```ts
 * const k3 = new K3CloudClient({ config: readK3CloudConfig(process.env), credentialStore });
 * const { id, number } = await k3.save({ formId: 'BD_Customer', model: { FCUSTID: 0, FNumber: 'C001', … } });
 * ```
 *
 * Retry rules (the caller's queue handles everything else):
 * - MsgCode 1 (session lost): the dead session is reported to the store, one new session is obtained (one
 *   login for all concurrent callers), and the call is sent once more — reads and writes alike, because
 *   the server refused it before doing anything;
 * - transport errors on reads: up to `readRetries` more attempts with exponential backoff;
 * - writes are never re-sent after a transport error: if the request may have arrived, the error is
 *   `outcome-unknown` and the caller must look the record up first.
 */
import { Agent, type Dispatcher } from 'undici';
import { type Clock, type CredentialStore, InMemoryCredentialStore, systemClock } from '../credentials.ts';
import { ConfigError, type ErrorKind, SyncError } from '../errors.ts';
import { type Logger, registerSecret, silentLogger, unregisterSecret } from '../log.ts';
import { realSleep, type Sleep } from '../rate-limit.ts';
import type { K3CloudConfig } from './config.ts';
import { callLabel, K3CloudError } from './errors.ts';
import {
  allocateData,
  auditData,
  batchSaveData,
  DEFAULT_QUERY_LIMIT,
  deleteData,
  executeOperationData,
  fieldKeyList,
  type K3AllocateInput,
  type K3AuditInput,
  type K3BatchSaveInput,
  type K3BatchSaveResult,
  type K3DeleteInput,
  type K3ExecuteOperationInput,
  type K3OperationResult,
  type K3PushInput,
  type K3PushResult,
  type K3QueryInput,
  type K3SaveInput,
  type K3SaveResult,
  type K3SubmitInput,
  type K3UnAuditInput,
  type K3ViewInput,
  parseBatchSaveResult,
  parseBillQueryRows,
  parseDataCenterList,
  parseOperationResult,
  parsePushResult,
  parseQueryRows,
  parseSaveResult,
  parseViewResult,
  pushData,
  queryData,
  saveData,
  submitData,
  viewData,
} from './operations.ts';
import {
  type CallContext,
  DEFAULT_RETRY_AFTER,
  failureFromStatus,
  failureFromTransport,
  isWrite,
  type RetryAfterPolicy,
  readHttpResponse,
  unexpectedResponseError,
} from './responses.ts';
import {
  judgeLoginResult,
  type K3SessionAuthMode,
  type K3SessionCredential,
  k3SessionCredentialSchema,
  k3SessionKey,
  newSessionCredential,
  SESSION_MAX_AGE_MS,
  SESSION_RENEW_AFTER_MS,
  SignatureCookieJar,
  sessionHeaders,
} from './session.ts';
import { kdSignatureHeader, loginBySignSignature, signatureHeaders } from './signing.ts';
import { postOnce } from './transport.ts';
import {
  findResponseStatus,
  formCallBody,
  isRecord,
  type K3BodyStyle,
  type K3DataCenter,
  type K3LoginOperation,
  type K3Operation,
  type K3QueryRow,
  loginResultSchema,
  operationUrl,
} from './wire.ts';

/** One HTTP exchange with K3Cloud, for counting (benchmarks, metrics). */
export interface K3CallEvent {
  operation: K3Operation;
  formId: string | undefined;
  durationMs: number;
  /** `ok`, or the kind of the error the exchange ended with. */
  outcome: 'ok' | ErrorKind;
  msgCode: number | undefined;
  httpStatus: number | undefined;
  /** 1 for the first attempt of a call; higher after a re-login or a read retry. Logins count 1. */
  attempt: number;
}

/** Options of a single call. */
export interface K3CallOptions {
  /** Deadline of this call's HTTP exchange(s) in ms; default `config.timeoutMs` (`K3CLOUD_TIMEOUT_MS`). */
  timeoutMs?: number;
  /** Abort the call (e.g. before the Lambda's own deadline). A sent write then becomes outcome-unknown. */
  signal?: AbortSignal;
}

export interface K3QueryAllOptions extends K3CallOptions {
  /** Rows per page (`Limit`); default 2000. */
  pageSize?: number;
  /** Stop with an error rather than collect more than this many rows; default 1 000 000. */
  maxRows?: number;
}

export interface K3CloudClientOptions {
  config: K3CloudConfig;
  /**
   * Where sessions live in the session auth modes. Default: a process-local {@link InMemoryCredentialStore};
   * Lambda deployments pass the DynamoDB store so every copy shares one session. Unused in signature mode.
   */
  credentialStore?: CredentialStore<K3SessionCredential>;
  logger?: Logger;
  /** Called after every HTTP exchange (logins included). Must not throw; exceptions are logged and ignored. */
  onCall?: (event: K3CallEvent) => void;
  /** Time source for signatures, login timestamps and session lifetimes. */
  clock?: Clock;
  /** Used between read retries; tests pass one that does not wait. */
  sleep?: Sleep;
  /** Request body layout; default `positional` (official Java SDK). Logins by signature are always positional. */
  bodyStyle?: K3BodyStyle;
  /** Extra attempts for reads after transport errors; default 2. Writes are never retried. */
  readRetries?: number;
  /** First backoff delay between read retries in ms (doubled each time, with jitter); default 300. */
  readRetryBaseDelayMs?: number;
  /** Session age limits (session auth modes); defaults {@link SESSION_RENEW_AFTER_MS}, {@link SESSION_MAX_AGE_MS}. */
  session?: { renewAfterMs?: number; maxAgeMs?: number };
  /** Accept `LoginResultType -5` (DealWithForm) when it comes with a session; default true (see `judgeLoginResult`). */
  acceptDealWithFormLogin?: boolean;
  /** Suggested delays carried by throttled errors. */
  retryAfter?: Partial<RetryAfterPolicy>;
  /** Connections per K3Cloud origin; default 16. Further calls queue in the client (not sent, no risk). */
  maxConnections?: number;
  /** TLS settings for the K3Cloud connection (e.g. `{ ca }` for an in-house CA). */
  tls?: { ca?: string | Buffer; rejectUnauthorized?: boolean };
  /** Use this dispatcher instead of creating an Agent (the client will not close it). */
  dispatcher?: Dispatcher;
  /** Largest response accepted, in bytes; default 64 MiB. */
  maxResponseBytes?: number;
  userAgent?: string;
}

const DEFAULT_READ_RETRIES = 2;
const DEFAULT_READ_RETRY_BASE_DELAY_MS = 300;
const MAX_READ_RETRY_DELAY_MS = 5_000;
const DEFAULT_MAX_CONNECTIONS = 16;
const DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024 * 1024;
const DEFAULT_QUERY_ALL_MAX_ROWS = 1_000_000;
/**
 * Idle keep-alive sockets are closed after 4 s (undici's default, stated so nobody raises it casually):
 * IIS keeps them 120 s, but a Lambda frozen between invocations can wake up holding a socket the server has
 * closed, and a write sent on such a socket ends as outcome-unknown. A short idle time makes that rare.
 */
const KEEP_ALIVE_IDLE_MS = 4_000;
/** Connect attempts give up after this long (or the call's own timeout, if shorter). */
const CONNECT_TIMEOUT_MS = 10_000;
const DEFAULT_USER_AGENT = 'fxiaoke-k3cloud-sync/0.1 (K3Cloud WebAPI client; Node.js)';

/** How one attempt authenticates and how it reports back. */
interface AuthTicket {
  headers(path: string): Record<string, string>;
  /** Set-Cookie values of the response, or `undefined` when there was none. Idempotent. */
  settle(setCookies: readonly string[] | undefined): void;
  /** The server said MsgCode 1 for this ticket's session. */
  reportLost(): Promise<void>;
}

const NO_AUTH: AuthTicket = { headers: () => ({}), settle: () => {}, reportLost: async () => {} };

interface CallPlan<T> {
  ctx: CallContext;
  body: string;
  parse: (json: unknown) => T;
  /** GetDataCenterList is called without authentication (it feeds the login page). */
  authenticated: boolean;
}

export class K3CloudClient {
  readonly config: K3CloudConfig;
  /** Store key of this client's session (no secrets in it). */
  readonly sessionKey: string;
  readonly #dispatcher: Dispatcher;
  readonly #ownsDispatcher: boolean;
  readonly #store: CredentialStore<K3SessionCredential>;
  readonly #logger: Logger;
  readonly #onCall: ((event: K3CallEvent) => void) | undefined;
  readonly #clock: Clock;
  readonly #sleep: Sleep;
  readonly #bodyStyle: K3BodyStyle;
  readonly #readRetries: number;
  readonly #readRetryBaseDelayMs: number;
  readonly #lifetime: { renewAfterMs: number; maxAgeMs: number };
  readonly #acceptDealWithForm: boolean;
  readonly #retryAfter: RetryAfterPolicy;
  readonly #maxResponseBytes: number;
  readonly #userAgent: string;
  readonly #jar: SignatureCookieJar;
  /** Session-id values currently registered with the log redactor, by credential id. */
  readonly #registeredSessions = new Map<string, string[]>();

  /** @throws {ConfigError} when the settings the auth mode needs are missing. */
  constructor(options: K3CloudClientOptions) {
    const config = options.config;
    const problems: string[] = [];
    if (config.authMode === 'password' && !config.password) {
      problems.push('K3CLOUD_PASSWORD: is required when K3CLOUD_AUTH_MODE=password');
    }
    if (config.authMode !== 'password') {
      if (!config.appId)
        problems.push(`K3CLOUD_APP_ID: is required when K3CLOUD_AUTH_MODE=${config.authMode}`);
      if (!config.appSecret) {
        problems.push(`K3CLOUD_APP_SECRET: is required when K3CLOUD_AUTH_MODE=${config.authMode}`);
      }
    }
    if (problems.length > 0) throw new ConfigError(problems);
    this.config = config;
    this.sessionKey = k3SessionKey(config);
    registerSecret(config.appSecret);
    registerSecret(config.password);
    if (config.authMode === 'signature' && config.appId && config.appSecret) {
      // Constant per identity (no timestamp): as good as a password to whoever sees it.
      registerSecret(kdSignatureHeader(config.appId, config.appSecret, config));
    }
    this.#store = options.credentialStore ?? new InMemoryCredentialStore<K3SessionCredential>(options.clock);
    this.#logger = (options.logger ?? silentLogger).child({ component: 'k3cloud' });
    this.#onCall = options.onCall;
    this.#clock = options.clock ?? systemClock;
    this.#sleep = options.sleep ?? realSleep;
    this.#bodyStyle = options.bodyStyle ?? 'positional';
    this.#readRetries = Math.max(0, options.readRetries ?? DEFAULT_READ_RETRIES);
    this.#readRetryBaseDelayMs = options.readRetryBaseDelayMs ?? DEFAULT_READ_RETRY_BASE_DELAY_MS;
    this.#lifetime = {
      renewAfterMs: options.session?.renewAfterMs ?? SESSION_RENEW_AFTER_MS,
      maxAgeMs: options.session?.maxAgeMs ?? SESSION_MAX_AGE_MS,
    };
    this.#acceptDealWithForm = options.acceptDealWithFormLogin ?? true;
    this.#retryAfter = { ...DEFAULT_RETRY_AFTER, ...options.retryAfter };
    this.#maxResponseBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
    this.#userAgent = options.userAgent ?? DEFAULT_USER_AGENT;
    this.#jar = new SignatureCookieJar();
    if (options.dispatcher) {
      this.#dispatcher = options.dispatcher;
      this.#ownsDispatcher = false;
    } else {
      this.#dispatcher = new Agent({
        connections: options.maxConnections ?? DEFAULT_MAX_CONNECTIONS,
        keepAliveTimeout: KEEP_ALIVE_IDLE_MS,
        connect: {
          timeout: Math.min(CONNECT_TIMEOUT_MS, config.timeoutMs),
          ...(options.tls?.ca === undefined ? {} : { ca: options.tls.ca }),
          ...(options.tls?.rejectUnauthorized === undefined
            ? {}
            : { rejectUnauthorized: options.tls.rejectUnauthorized }),
        },
      });
      this.#ownsDispatcher = true;
    }
  }

  // -------------------------------------------------------------------------------------------------------
  // Operations

  /**
   * Save (create when the Model's PK is 0 or absent, update otherwise). `IsDeleteEntry` defaults to false.
   * @throws {K3CloudError} business (validation, with K3's rows), session-expired, throttled, transient,
   *   outcome-unknown (response lost: look up before re-sending), config, invalid-input.
   */
  async save(input: K3SaveInput, options: K3CallOptions = {}): Promise<K3SaveResult> {
    const { ctx, data } = saveData('Save', input);
    return this.#call(
      {
        ctx,
        body: this.#formBody(ctx, data),
        parse: (json) => parseSaveResult(ctx, json, this.#retryAfter),
        authenticated: true,
      },
      options,
    );
  }

  /**
   * Draft (暂存): same parameters as Save; drafts have no number.
   * @throws {K3CloudError} as {@link save}.
   */
  async draft(input: K3SaveInput, options: K3CallOptions = {}): Promise<K3SaveResult> {
    const { ctx, data } = saveData('Draft', input);
    return this.#call(
      {
        ctx,
        body: this.#formBody(ctx, data),
        parse: (json) => parseSaveResult(ctx, json, this.#retryAfter),
        authenticated: true,
      },
      options,
    );
  }

  /**
   * BatchSave: one result per input model (matched by `DIndex`). Row failures do not throw; they are in
   * `items[i].error`. Failures of the whole call throw.
   * @throws {K3CloudError} as {@link save}, for the whole batch.
   */
  async batchSave(input: K3BatchSaveInput, options: K3CallOptions = {}): Promise<K3BatchSaveResult> {
    const { ctx, data } = batchSaveData(input);
    const count = input.models.length;
    return this.#call(
      {
        ctx,
        body: this.#formBody(ctx, data),
        parse: (json) => parseBatchSaveResult(ctx, json, count, this.#retryAfter),
        authenticated: true,
      },
      options,
    );
  }

  /**
   * View one bill or base-data record by number or id; returns K3's `Result.Result` object.
   * @throws {K3CloudError} not-found, session-expired, transient (after retries), business, config.
   */
  async view(input: K3ViewInput, options: K3CallOptions = {}): Promise<Record<string, unknown>> {
    const { ctx, data } = viewData(input);
    return this.#call(
      {
        ctx,
        body: this.#formBody(ctx, data),
        parse: (json) => parseViewResult(ctx, json, this.#retryAfter),
        authenticated: true,
      },
      options,
    );
  }

  /**
   * ExecuteBillQuery, one page (`limit` rows from `startRow`, default 2000 from 0): rows of values in
   * `fieldKeys` order. Errors hidden in the `[[{"Result":…}]]` form are thrown, never returned as rows.
   * @throws {K3CloudError} business (e.g. MsgCode 9 unknown field), session-expired, transient, config.
   */
  async executeBillQuery(input: K3QueryInput, options: K3CallOptions = {}): Promise<K3QueryRow[]> {
    const { ctx, data } = queryData('ExecuteBillQuery', input);
    return this.#call(
      {
        ctx,
        body: this.#dataBody(ctx, data),
        parse: (json) => parseQueryRows(ctx, json, this.#retryAfter),
        authenticated: true,
      },
      options,
    );
  }

  /**
   * ExecuteBillQuery page by page (StartRow/Limit) until a short page. Without `orderString` the rows are
   * ordered by the first field key, because K3 does not guarantee a stable order between pages otherwise
   * (spec §4.5) — put the primary key first, or pass an `orderString` that is unique.
   * @throws {K3CloudError} as {@link executeBillQuery}; `K3_QUERY_TOO_MANY_ROWS` beyond `maxRows`;
   *   `K3_QUERY_PAGING_IGNORED` when the server returns the same full page twice (it ignores StartRow).
   */
  async *queryPages(
    input: Omit<K3QueryInput, 'limit' | 'topRowCount'>,
    options: K3QueryAllOptions = {},
  ): AsyncGenerator<K3QueryRow[], void, undefined> {
    const pageSize = options.pageSize ?? DEFAULT_QUERY_LIMIT;
    const maxRows = options.maxRows ?? DEFAULT_QUERY_ALL_MAX_ROWS;
    const ctx: CallContext = { operation: 'ExecuteBillQuery', formId: input.formId };
    const fieldKeys =
      typeof input.fieldKeys === 'string' || Array.isArray(input.fieldKeys)
        ? fieldKeyList(input.fieldKeys)
        : [];
    const orderString = input.orderString?.trim() || fieldKeys[0];
    let startRow = input.startRow ?? 0;
    let total = 0;
    let previous: string | undefined;
    for (;;) {
      const page = await this.executeBillQuery(
        { ...input, ...(orderString ? { orderString } : {}), startRow, limit: pageSize },
        options,
      );
      if (page.length >= pageSize && pageSize > 1) {
        const fingerprint = JSON.stringify(page);
        if (fingerprint === previous) {
          throw new K3CloudError(
            `金蝶服务器忽略了 StartRow，无法分页 / K3Cloud ignored StartRow, paging is impossible ${callLabel(ctx.operation, ctx.formId)}`,
            {
              kind: 'business',
              fault: 'theirs',
              code: 'K3_QUERY_PAGING_IGNORED',
              operation: ctx.operation,
              formId: ctx.formId,
            },
          );
        }
        previous = fingerprint;
      }
      total += page.length;
      if (total > maxRows) {
        throw new K3CloudError(
          `查询结果超过 ${maxRows} 行，请缩小过滤条件或调大 maxRows / the query returned more than ${maxRows} rows; narrow the filter or raise maxRows ${callLabel(ctx.operation, ctx.formId)}`,
          {
            kind: 'business',
            fault: 'caller',
            code: 'K3_QUERY_TOO_MANY_ROWS',
            operation: ctx.operation,
            formId: ctx.formId,
          },
        );
      }
      if (page.length > 0) yield page;
      if (page.length < pageSize) return;
      startRow += page.length;
    }
  }

  /**
   * Every row of a query, fetched with {@link queryPages}.
   * @throws {K3CloudError} as {@link queryPages}.
   */
  async queryAll(
    input: Omit<K3QueryInput, 'limit' | 'topRowCount'>,
    options: K3QueryAllOptions = {},
  ): Promise<K3QueryRow[]> {
    const rows: K3QueryRow[] = [];
    for await (const page of this.queryPages(input, options)) rows.push(...page);
    return rows;
  }

  /**
   * BillQuery (servers from 2023-09): like ExecuteBillQuery, but rows are objects keyed by the field keys.
   * @throws {K3CloudError} as {@link executeBillQuery}.
   */
  async billQuery(input: K3QueryInput, options: K3CallOptions = {}): Promise<Record<string, unknown>[]> {
    const { ctx, data } = queryData('BillQuery', input);
    return this.#call(
      {
        ctx,
        body: this.#dataBody(ctx, data),
        parse: (json) => parseBillQueryRows(ctx, json, this.#retryAfter),
        authenticated: true,
      },
      options,
    );
  }

  /** Submit bills by numbers and/or ids. @throws {K3CloudError} as {@link save}; `successEntities` on partial success. */
  async submit(input: K3SubmitInput, options: K3CallOptions = {}): Promise<K3OperationResult> {
    return this.#operation(() => submitData(input), options);
  }

  /** Audit bills. @throws {K3CloudError} as {@link save}; `successEntities` on partial success. */
  async audit(input: K3AuditInput, options: K3CallOptions = {}): Promise<K3OperationResult> {
    return this.#operation(() => auditData('Audit', input), options);
  }

  /** Reverse an audit. @throws {K3CloudError} as {@link save}. */
  async unAudit(input: K3UnAuditInput, options: K3CallOptions = {}): Promise<K3OperationResult> {
    return this.#operation(() => auditData('UnAudit', input), options);
  }

  /** Delete bills (only unaudited ones can be deleted). @throws {K3CloudError} as {@link save}. */
  async delete(input: K3DeleteInput, options: K3CallOptions = {}): Promise<K3OperationResult> {
    return this.#operation(() => deleteData(input), options);
  }

  /**
   * Push (下推) source bills to a target form through a conversion rule; returns the targets and both
   * statuses (conversion and target save).
   * @throws {K3CloudError} as {@link save}; a failed conversion or target save is `business` with the rows
   *   of both statuses.
   */
  async push(input: K3PushInput, options: K3CallOptions = {}): Promise<K3PushResult> {
    const { ctx, data } = pushData(input);
    return this.#call(
      {
        ctx,
        body: this.#formBody(ctx, data),
        parse: (json) => parsePushResult(ctx, json, this.#retryAfter),
        authenticated: true,
      },
      options,
    );
  }

  /**
   * A named operation such as Forbid/Enable/Cancel/BillClose (wire name `ExcuteOperation`, sic).
   * @throws {K3CloudError} as {@link save}.
   */
  async executeOperation(
    input: K3ExecuteOperationInput,
    options: K3CallOptions = {},
  ): Promise<K3OperationResult> {
    const { ctx, opNumber, data } = executeOperationData(input);
    const body = formCallBody(this.#bodyStyle, [
      ['formid', ctx.formId],
      ['opNumber', opNumber],
      ['data', data],
    ]);
    return this.#call(
      { ctx, body, parse: (json) => parseOperationResult(ctx, json, this.#retryAfter), authenticated: true },
      options,
    );
  }

  /** Allocate (分配) base data to organisations. @throws {K3CloudError} as {@link save}. */
  async allocate(input: K3AllocateInput, options: K3CallOptions = {}): Promise<K3OperationResult> {
    return this.#operation(() => allocateData(input), options);
  }

  /**
   * The server's data centres (`acctID` discovery), called without logging in.
   * @throws {K3CloudError} transient (after retries), config, or session-expired if the server demands a
   *   session for it (then configure K3CLOUD_ACCT_ID by hand).
   */
  async getDataCenterList(options: K3CallOptions = {}): Promise<K3DataCenter[]> {
    const ctx: CallContext = { operation: 'GetDataCenterList' };
    return this.#call(
      {
        ctx,
        body: '{}',
        parse: (json) => parseDataCenterList(ctx, json, this.#retryAfter),
        authenticated: false,
      },
      options,
    );
  }

  /** Close the connection pool (when the client created it). */
  async close(): Promise<void> {
    if (this.#ownsDispatcher) await this.#dispatcher.close();
  }

  // -------------------------------------------------------------------------------------------------------
  // Internals

  async #operation(
    make: () => { ctx: CallContext; data: object },
    options: K3CallOptions,
  ): Promise<K3OperationResult> {
    const { ctx, data } = make();
    return this.#call(
      {
        ctx,
        body: this.#formBody(ctx, data),
        parse: (json) => parseOperationResult(ctx, json, this.#retryAfter),
        authenticated: true,
      },
      options,
    );
  }

  /** `{formid, data}` body. @throws {K3CloudError} invalid-input when data cannot be serialised. */
  #formBody(ctx: CallContext, data: object): string {
    return this.#serialise(ctx, () =>
      formCallBody(this.#bodyStyle, [
        ['formid', ctx.formId],
        ['data', data],
      ]),
    );
  }

  /** `{data}` body (queries). @throws {K3CloudError} invalid-input when data cannot be serialised. */
  #dataBody(ctx: CallContext, data: object): string {
    return this.#serialise(ctx, () => formCallBody(this.#bodyStyle, [['data', data]]));
  }

  #serialise(ctx: CallContext, make: () => string): string {
    try {
      return make();
    } catch (error) {
      throw new K3CloudError(
        `数据无法序列化为 JSON / the data cannot be serialised to JSON ${callLabel(ctx.operation, ctx.formId)}`,
        {
          kind: 'invalid-input',
          fault: 'caller',
          code: 'K3_INVALID_INPUT',
          operation: ctx.operation,
          formId: ctx.formId,
          cause: error,
        },
      );
    }
  }

  async #call<T>(plan: CallPlan<T>, options: K3CallOptions): Promise<T> {
    const { ctx } = plan;
    let reloggedIn = false;
    let readRetriesUsed = 0;
    for (let attempt = 1; ; attempt++) {
      let ticket: AuthTicket = NO_AUTH;
      let started: number | undefined;
      try {
        if (plan.authenticated) ticket = await this.#acquire();
        started = performance.now();
        const json = await this.#exchange(ctx, plan.body, ticket, options);
        const value = plan.parse(json);
        this.#record(ctx, started, attempt, undefined);
        return value;
      } catch (caught) {
        // Another area's SyncError (e.g. the DynamoDB credential store failing) keeps its own classification.
        if (caught instanceof SyncError && !(caught instanceof K3CloudError)) throw caught;
        const error = caught instanceof K3CloudError ? caught : this.#internalError(ctx, caught);
        // Failures before the exchange (a refused login) were already recorded by the login itself.
        if (started !== undefined) this.#record(ctx, started, attempt, error);
        if (error.code === 'K3_SESSION_LOST' && plan.authenticated) {
          if (!reloggedIn) {
            reloggedIn = true;
            await ticket.reportLost();
            this.#logger.info('k3cloud.session_lost', {
              operation: ctx.operation,
              formId: ctx.formId,
              attempt,
            });
            continue;
          }
          throw this.#sessionRejected(ctx, error);
        }
        if (
          !isWrite(ctx) &&
          error.kind === 'transient' &&
          readRetriesUsed < this.#readRetries &&
          !options.signal?.aborted
        ) {
          readRetriesUsed++;
          await this.#sleep(this.#backoffMs(readRetriesUsed));
          continue;
        }
        throw error;
      }
    }
  }

  /** An exception that is not K3's doing (a bug until shown otherwise). */
  #internalError(ctx: CallContext, caught: unknown): K3CloudError {
    const message = caught instanceof Error ? caught.message : String(caught);
    return new K3CloudError(`内部错误 / Internal error ${callLabel(ctx.operation, ctx.formId)}: ${message}`, {
      kind: 'internal',
      fault: 'ours',
      code: 'K3_INTERNAL',
      operation: ctx.operation,
      formId: ctx.formId,
      cause: caught,
    });
  }

  #backoffMs(retry: number): number {
    const ceiling = Math.min(MAX_READ_RETRY_DELAY_MS, this.#readRetryBaseDelayMs * 2 ** (retry - 1));
    return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
  }

  /** MsgCode 1 again right after a fresh session: not a timing problem, somebody must act. */
  #sessionRejected(ctx: CallContext, error: K3CloudError): K3CloudError {
    return new K3CloudError(
      '金蝶在换用新会话后仍然报告会话丢失（MsgCode 1）。常见原因：数据中心 ID（K3CLOUD_ACCT_ID）错误、应用或“第三方系统登录授权”被禁用、' +
        `IP 不在白名单、数据库恢复后授权丢失。/ K3Cloud still reports the session lost (MsgCode 1) with a fresh session: usually a wrong data-centre id (K3CLOUD_ACCT_ID), a disabled app or third-party login authorisation, an IP not whitelisted, or an authorisation lost in a database restore. ${callLabel(ctx.operation, ctx.formId)}`,
      {
        kind: 'config',
        fault: 'ours',
        code: 'K3_SESSION_REJECTED',
        operation: ctx.operation,
        formId: ctx.formId,
        msgCode: error.msgCode,
        errors: error.errors,
        cause: error,
      },
    );
  }

  /** One HTTP exchange; returns the JSON body or throws the classified error. */
  async #exchange(
    ctx: CallContext,
    body: string,
    ticket: AuthTicket,
    options: K3CallOptions,
  ): Promise<unknown> {
    const url = operationUrl(this.config.serverUrl, ctx.operation);
    try {
      const result = await postOnce(this.#dispatcher, {
        url,
        headers: { ...this.#baseHeaders(), ...ticket.headers(url.pathname) },
        body,
        timeoutMs: options.timeoutMs ?? this.config.timeoutMs,
        signal: options.signal,
        maxResponseBytes: this.#maxResponseBytes,
      });
      if (!result.ok) throw failureFromTransport(ctx, result.failure);
      ticket.settle(result.response.headers['set-cookie'] ?? []);
      return readHttpResponse(
        ctx,
        { status: result.response.status, body: result.response.body.toString('utf8') },
        this.#retryAfter,
      );
    } finally {
      ticket.settle(undefined);
    }
  }

  #baseHeaders(): Record<string, string> {
    return {
      'Content-Type': 'application/json; charset=utf-8',
      'Accept-Charset': 'utf-8',
      'User-Agent': this.#userAgent,
    };
  }

  #record(ctx: CallContext, started: number, attempt: number, error: K3CloudError | undefined): void {
    const durationMs = Math.round(performance.now() - started);
    const event: K3CallEvent = {
      operation: ctx.operation,
      formId: ctx.formId,
      durationMs,
      outcome: error ? error.kind : 'ok',
      msgCode: error ? error.msgCode : undefined,
      httpStatus: error?.httpStatus,
      attempt,
    };
    if (error) {
      this.#logger.warn('k3cloud.call_failed', { ...event, code: error.code, error });
    } else {
      this.#logger.debug('k3cloud.call', { ...event, msgCode: 0 });
    }
    if (this.#onCall) {
      try {
        this.#onCall(event);
      } catch (hookError) {
        this.#logger.warn('k3cloud.on_call_hook_failed', { error: String(hookError) });
      }
    }
  }

  // -------------------------------------------------------------------------------------------------------
  // Authentication

  async #acquire(): Promise<AuthTicket> {
    if (this.config.authMode === 'signature') return this.#signatureTicket();
    return this.#sessionTicket();
  }

  async #signatureTicket(): Promise<AuthTicket> {
    const { appId, appSecret } = this.config;
    const jarTicket = await this.#jar.ticket();
    return {
      headers: (path) => ({
        ...signatureHeaders({
          appId: appId ?? '',
          appSecret: appSecret ?? '',
          acctId: this.config.acctId,
          username: this.config.username,
          lcid: this.config.lcid,
          orgNumber: this.config.orgNumber,
          path,
          timestampSeconds: Math.floor(this.#clock() / 1000),
        }),
        ...(jarTicket.cookies.length > 0 ? sessionHeaders(jarTicket.cookies) : {}),
      }),
      settle: (setCookies) => {
        jarTicket.settle(setCookies);
        this.#registerJarSession();
      },
      reportLost: async () => {
        this.#jar.invalidate(jarTicket.generation);
      },
    };
  }

  #registerJarSession(): void {
    if (this.#jar.hasSession) this.#rememberSession(`jar:${this.#jar.generation}`, this.#jar.cookieValues());
  }

  async #sessionTicket(): Promise<AuthTicket> {
    const issue = () => this.#login();
    let credential = await this.#store.get(this.sessionKey, issue);
    const checked = k3SessionCredentialSchema.safeParse(credential);
    if (!checked.success) {
      // Written by another version of the code, or damaged: discard it and log in again, once.
      this.#logger.warn('k3cloud.stored_credential_invalid', { key: this.sessionKey });
      await this.#store.invalidate(this.sessionKey, typeof credential.id === 'string' ? credential.id : '');
      credential = await this.#store.get(this.sessionKey, issue);
    }
    const current = credential;
    this.#rememberSession(
      current.id,
      current.cookies.map((cookie) => cookie.value),
    );
    return {
      headers: () => sessionHeaders(current.cookies),
      settle: () => {},
      reportLost: () => this.#store.invalidate(this.sessionKey, current.id),
    };
  }

  /** Register the session's values with the log redactor, and forget those of sessions it replaced. */
  #rememberSession(id: string, values: readonly string[]): void {
    if (this.#registeredSessions.has(id)) return;
    for (const [oldId, oldValues] of this.#registeredSessions) {
      oldValues.forEach(unregisterSecret);
      this.#registeredSessions.delete(oldId);
    }
    const secrets = values.filter((value) => value.length > 0);
    secrets.forEach(registerSecret);
    this.#registeredSessions.set(id, secrets);
  }

  /** Log in with the configured session mode and build the credential to store. */
  async #login(): Promise<K3SessionCredential> {
    const mode: K3SessionAuthMode =
      this.config.authMode === 'signature' ? 'login-by-sign' : this.config.authMode;
    const { operation, body } = this.#loginRequest(mode);
    const ctx: CallContext = { operation };
    const started = performance.now();
    const url = operationUrl(this.config.serverUrl, operation);
    try {
      const result = await postOnce(this.#dispatcher, {
        url,
        headers: this.#baseHeaders(),
        body,
        timeoutMs: this.config.timeoutMs,
        maxResponseBytes: this.#maxResponseBytes,
      });
      if (!result.ok) throw failureFromTransport(ctx, result.failure);
      const json = readHttpResponse(
        ctx,
        { status: result.response.status, body: result.response.body.toString('utf8') },
        this.#retryAfter,
      );
      const credential = this.#credentialFrom(ctx, mode, json, result.response.headers['set-cookie'] ?? []);
      this.#record(ctx, started, 1, undefined);
      this.#logger.info('k3cloud.login', {
        operation,
        mode,
        durationMs: Math.round(performance.now() - started),
        credentialId: credential.id,
      });
      return credential;
    } catch (caught) {
      const error = caught instanceof K3CloudError ? caught : this.#internalError(ctx, caught);
      this.#record(ctx, started, 1, error);
      throw error;
    }
  }

  #credentialFrom(
    ctx: CallContext,
    mode: K3SessionAuthMode,
    json: unknown,
    setCookies: readonly string[],
  ): K3SessionCredential {
    const operation = ctx.operation;
    if (operation !== 'ValidateUser' && operation !== 'LoginByAppSecret' && operation !== 'LoginBySign') {
      throw unexpectedResponseError(ctx, json);
    }
    if (isRecord(json) && 'LoginResultType' in json) {
      const parsed = loginResultSchema.safeParse(json);
      if (!parsed.success) throw unexpectedResponseError(ctx, json, parsed.error);
      const judgement = judgeLoginResult(operation, mode, parsed.data, setCookies, {
        acceptDealWithForm: this.#acceptDealWithForm,
      });
      if (judgement.dealWithForm) {
        this.#logger.warn('k3cloud.login_deal_with_form', {
          operation,
          note: 'LoginResultType -5 (DealWithForm) accepted because a session was issued; consider a non-administrator integration user',
        });
      }
      return newSessionCredential(mode, judgement, this.#clock(), this.#lifetime);
    }
    const status = findResponseStatus(json);
    if (status && !status.isSuccess) {
      const failure = failureFromStatus(ctx, status, this.#retryAfter);
      // A login answered with MsgCode 1 can only mean the identity itself is refused.
      if (failure.code === 'K3_SESSION_LOST') {
        throw new K3CloudError(
          `金蝶拒绝登录 / K3Cloud refused the login ${callLabel(operation, undefined)}: ${failure.remoteMessages.join('; ')}`,
          {
            kind: 'config',
            fault: 'ours',
            code: 'K3_LOGIN_REJECTED',
            operation,
            msgCode: failure.msgCode,
            errors: failure.errors,
          },
        );
      }
      throw failure;
    }
    throw unexpectedResponseError(ctx, json);
  }

  #loginRequest(mode: K3SessionAuthMode): { operation: K3LoginOperation; body: string } {
    const { acctId, username, lcid } = this.config;
    const appId = this.config.appId ?? '';
    const appSecret = this.config.appSecret ?? '';
    if (mode === 'password') {
      return {
        operation: 'ValidateUser',
        body: formCallBody(this.#bodyStyle, [
          ['acctID', acctId],
          ['username', username],
          ['password', this.config.password ?? ''],
          ['lcid', lcid],
        ]),
      };
    }
    if (mode === 'app-secret') {
      return {
        operation: 'LoginByAppSecret',
        body: formCallBody(this.#bodyStyle, [
          ['acctid', acctId],
          ['username', username],
          ['appid', appId],
          ['appsecret', appSecret],
          ['lcid', lcid],
        ]),
      };
    }
    const timestampSeconds = Math.floor(this.#clock() / 1000);
    const sign = loginBySignSignature(
      { acctId, username, appId, appSecret, timestampSeconds },
      this.config.loginSignAlgorithm,
    );
    // Only the positional form of LoginBySign is known (spec §2.4).
    return {
      operation: 'LoginBySign',
      body: formCallBody('positional', [
        ['acctID', acctId],
        ['username', username],
        ['appId', appId],
        ['timestamp', timestampSeconds],
        ['sign', sign],
        ['lcid', lcid],
      ]),
    };
  }
}

/** Build a client (same as `new K3CloudClient(options)`). @throws {ConfigError} */
export function createK3CloudClient(options: K3CloudClientOptions): K3CloudClient {
  return new K3CloudClient(options);
}
