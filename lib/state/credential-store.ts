/**
 * The K3Cloud session and the Fxiaoke token, shared by every concurrent Lambda copy through one DynamoDB
 * item per credential key, with single-flight renewal across processes.
 *
 * Why: K3Cloud sessions are heavyweight server objects and password logins can lock an account; Fxiaoke's
 * token endpoint allows ~10 calls a minute and "never concurrently" (fxiaoke-openapi.md §2.1). Fifty Lambda
 * copies starting together must cause one login, not fifty.
 *
 * How (details and the reasoning in docs/state.md, "Credentials"):
 * - the item holds the credential (JSON), its id/renewAt/expiresAt, a `generation` counter bumped by every
 *   issue and every invalidation, and — while somebody is logging in — a lease (`leaseOwner`,
 *   `leaseFlight`, `leaseUntilMs`);
 * - the lease is taken with a conditional UpdateItem that also requires the generation the caller saw, so a
 *   caller that read "nothing usable" just before somebody else stored a fresh credential cannot take the
 *   lease and log in a second time;
 * - the lease holder calls `issue()` and stores the result with a write conditioned on still holding its
 *   lease (`leaseFlight`), removing the lease in the same write;
 * - everybody else polls the item (consistent reads, jittered exponential backoff, bounded by `maxWaitMs`)
 *   and takes the lease over once `leaseUntilMs` has passed, so a killed holder blocks nobody for longer
 *   than the lease;
 * - a failed `issue()` releases the lease and records the failure on the item: callers that were waiting
 *   for that flight get the same error (one failed login, not one per waiter); later callers try again.
 */
import { randomUUID } from 'node:crypto';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { z } from 'zod';
import type { Clock, Credential, CredentialStore, IssueCredential } from '../credentials.ts';
import { systemClock } from '../credentials.ts';
import { type ErrorKind, type FaultSide, InvalidInputError, SyncError } from '../errors.ts';
import { type Logger, redactString, silentLogger } from '../log.ts';
import { realSleep, type Sleep } from '../rate-limit.ts';
import { StateError } from './errors.ts';
import { StateTable } from './table.ts';
import { PURGE_AT_ATTRIBUTE } from './tables.ts';

/** Validates a credential read back from the table — typically the zod schema of `T`. */
export interface CredentialParser<T> {
  parse(value: unknown): T;
}

/**
 * How long a login may take before others may take over. A K3Cloud or Fxiaoke login normally answers in
 * well under 5 s; a holder that is slower than this only costs one extra login (its late write is refused).
 */
export const DEFAULT_CREDENTIAL_LEASE_MS = 15_000;
/** After a failed early renewal, keep using the still-valid credential this long before trying again. */
export const DEFAULT_RENEWAL_RETRY_MS = 30_000;
const DEFAULT_POLL_INITIAL_MS = 50;
const DEFAULT_POLL_MAX_MS = 500;
/** Keep an item a day past its last useful moment; TTL then removes credentials of retired accounts. */
const PURGE_GRACE_SEC = 86_400;
const MAX_KEY_LENGTH = 512;
const MAX_FAILURE_TEXT = 1_000;

export interface DynamoCredentialStoreOptions<T extends Credential> {
  client: DynamoDBClient;
  /** The coordination table (`STATE_TABLE_COORDINATION`). */
  tableName: string;
  /** Parses a stored credential back into `T` (pass the zod schema of `T`). */
  schema: CredentialParser<T>;
  /** Lease length; set it above your login timeout. Default {@link DEFAULT_CREDENTIAL_LEASE_MS}. */
  leaseMs?: number;
  /** Longest a caller waits for somebody else's login before giving up. Default `2 × leaseMs + 5 s`. */
  maxWaitMs?: number;
  /** First and largest poll interval while waiting (jittered, doubled each time). Defaults 50 ms / 500 ms. */
  pollInitialMs?: number;
  pollMaxMs?: number;
  /**
   * After a failed login, callers that find no usable credential fail fast with that error for this long
   * instead of trying again (protects accounts that lock after repeated failures). Default 0: the next
   * caller tries again at once.
   */
  failureCooldownMs?: number;
  /** After a failed early renewal, callers keep the current credential this long. Default 30 s. */
  renewalRetryMs?: number;
  /**
   * What the caller that ran a failed *early* renewal gets: the still-valid current credential (default;
   * the failure is logged and recorded) or the error.
   */
  renewalFailure?: 'use-current' | 'throw';
  clock?: Clock;
  sleep?: Sleep;
  /** Source of jitter in [0, 1); injected by tests. */
  random?: () => number;
  logger?: Logger;
  /** Names this store instance in leases (diagnostics only). Default: a random id. */
  instanceId?: string;
  /**
   * Keep the credential in process memory until its `renewAtMs`, so a warm Lambda makes no DynamoDB read
   * per vendor call (default true). Safe because a credential the server rejects is reported through
   * {@link DynamoCredentialStore.invalidate}, which drops the local copy before the table's.
   */
  localCache?: boolean;
}

const failureSchema = z.object({
  flight: z.string(),
  atMs: z.number(),
  name: z.string(),
  kind: z.string(),
  fault: z.string(),
  code: z.string(),
  message: z.string(),
  remoteMessages: z.array(z.string()),
});

type StoredFailure = z.output<typeof failureSchema>;

const itemSchema = z.object({
  pk: z.string(),
  payload: z.string().optional(),
  credentialId: z.string().optional(),
  generation: z.number().int().optional(),
  leaseOwner: z.string().optional(),
  leaseFlight: z.string().optional(),
  leaseUntilMs: z.number().optional(),
  failure: failureSchema.optional(),
});

interface Snapshot<T> {
  exists: boolean;
  generation: number;
  credential: T | undefined;
  lease: { owner: string; flight: string; untilMs: number } | undefined;
  failure: StoredFailure | undefined;
}

const ERROR_KINDS: ReadonlySet<string> = new Set<ErrorKind>([
  'session-expired',
  'throttled',
  'quota-exhausted',
  'transient',
  'outcome-unknown',
  'business',
  'config',
  'invalid-input',
  'not-found',
  'internal',
]);
const FAULT_SIDES: ReadonlySet<string> = new Set<FaultSide>(['ours', 'theirs', 'caller']);

function isErrorKind(value: string): value is ErrorKind {
  return ERROR_KINDS.has(value);
}

function isFaultSide(value: string): value is FaultSide {
  return FAULT_SIDES.has(value);
}

/**
 * The login of another function instance failed while this caller was waiting for it. Carries the original
 * error's kind, fault, code and remote messages, so callers handle it exactly like the original.
 */
export class CredentialIssueError extends StateError {
  readonly originalName: string;

  constructor(key: string, failure: StoredFailure, retryAfterMs?: number) {
    super(
      `另一个函数实例获取凭据 ${key} 失败 / Another function instance failed to obtain credential ${key}: ${failure.message}`,
      {
        kind: isErrorKind(failure.kind) ? failure.kind : 'internal',
        fault: isFaultSide(failure.fault) ? failure.fault : 'ours',
        code: failure.code,
        remoteMessages: failure.remoteMessages,
        ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
      },
    );
    this.originalName = failure.name;
  }
}

/**
 * DynamoDB-backed {@link CredentialStore}: one login for all concurrent Lambda copies.
 * The constructor throws {@link InvalidInputError} for non-positive durations.
 */
export class DynamoCredentialStore<T extends Credential> implements CredentialStore<T> {
  readonly #table: StateTable;
  readonly #schema: CredentialParser<T>;
  readonly #leaseMs: number;
  readonly #maxWaitMs: number;
  readonly #pollInitialMs: number;
  readonly #pollMaxMs: number;
  readonly #failureCooldownMs: number;
  readonly #renewalRetryMs: number;
  readonly #renewalFailure: 'use-current' | 'throw';
  readonly #clock: Clock;
  readonly #sleep: Sleep;
  readonly #random: () => number;
  readonly #logger: Logger;
  readonly #instanceId: string;
  readonly #localCache: boolean;
  /** This process's copy of each credential, used until its renewAt without reading the table. */
  readonly #cache = new Map<string, T>();

  constructor(options: DynamoCredentialStoreOptions<T>) {
    this.#table = new StateTable(options.client, options.tableName);
    this.#schema = options.schema;
    this.#leaseMs = positive(options.leaseMs ?? DEFAULT_CREDENTIAL_LEASE_MS, 'leaseMs');
    this.#maxWaitMs = positive(options.maxWaitMs ?? 2 * this.#leaseMs + 5_000, 'maxWaitMs');
    this.#pollInitialMs = positive(options.pollInitialMs ?? DEFAULT_POLL_INITIAL_MS, 'pollInitialMs');
    this.#pollMaxMs = Math.max(this.#pollInitialMs, options.pollMaxMs ?? DEFAULT_POLL_MAX_MS);
    this.#failureCooldownMs = Math.max(0, options.failureCooldownMs ?? 0);
    this.#renewalRetryMs = Math.max(0, options.renewalRetryMs ?? DEFAULT_RENEWAL_RETRY_MS);
    this.#renewalFailure = options.renewalFailure ?? 'use-current';
    this.#clock = options.clock ?? systemClock;
    this.#sleep = options.sleep ?? realSleep;
    this.#random = options.random ?? Math.random;
    this.#logger = (options.logger ?? silentLogger).child({ component: 'state.credentials' });
    this.#instanceId = options.instanceId ?? randomUUID();
    this.#localCache = options.localCache ?? true;
  }

  /**
   * The credential to use now for `key`; see {@link CredentialStore.get} for the contract.
   *
   * @throws whatever `issue()` throws, for the caller that ran it; {@link CredentialIssueError} for callers
   *   that waited for a login that failed elsewhere; {@link StateError} `CREDENTIAL_WAIT_TIMEOUT` when no
   *   credential appeared within `maxWaitMs`; {@link StateError} when DynamoDB fails;
   *   {@link InvalidInputError} for an empty or oversized key.
   */
  async get(key: string, issue: IssueCredential<T>): Promise<T> {
    checkKey(key);
    const cached = this.#cache.get(key);
    if (cached && this.#clock() < cached.renewAtMs) return cached;
    const credential = await this.#resolve(key, issue);
    if (this.#localCache) this.#cache.set(key, credential);
    return credential;
  }

  async #resolve(key: string, issue: IssueCredential<T>): Promise<T> {
    const startedAtMs = this.#clock();
    const deadlineMs = startedAtMs + this.#maxWaitMs;
    const awaitedFlights = new Set<string>();
    for (let poll = 0; ; poll += 1) {
      const snap = await this.#read(key);
      const now = this.#clock();
      const current = snap.credential;
      if (current && now < current.renewAtMs) return current;
      const leaseLive = snap.lease !== undefined && snap.lease.untilMs > now;

      if (current && now < current.expiresAtMs) {
        // Renewal window: the current credential is still good, so never wait for anybody.
        if (leaseLive) return current;
        if (snap.failure && now < snap.failure.atMs + this.#renewalRetryMs) return current;
        const flight = await this.#tryLease(key, snap, now);
        if (flight === undefined) return current;
        return await this.#issueUnderLease(key, flight, issue, current);
      }

      if (leaseLive && snap.lease) awaitedFlights.add(snap.lease.flight);
      if (!leaseLive && snap.failure) {
        // A login that failed while we were waiting is our failure too (single flight, shared outcome).
        if (awaitedFlights.has(snap.failure.flight) || snap.failure.atMs > startedAtMs) {
          throw new CredentialIssueError(key, snap.failure);
        }
        const cooldownLeftMs = snap.failure.atMs + this.#failureCooldownMs - now;
        if (cooldownLeftMs > 0) throw new CredentialIssueError(key, snap.failure, cooldownLeftMs);
      }
      if (!leaseLive) {
        const flight = await this.#tryLease(key, snap, now);
        if (flight !== undefined) return await this.#issueUnderLease(key, flight, issue, undefined);
        // Somebody else changed the item between our read and our lease attempt: look again.
      }
      if (this.#clock() >= deadlineMs) {
        throw new StateError(
          `等待凭据 ${key} 超时 / Timed out waiting for credential ${key} (another instance holds the login lease)`,
          {
            kind: 'transient',
            fault: 'theirs',
            code: 'CREDENTIAL_WAIT_TIMEOUT',
            retryAfterMs: this.#leaseMs,
          },
        );
      }
      await this.#sleep(this.#pollDelay(poll));
    }
  }

  /**
   * Discard credential `id` of `key` if it is still the stored one (compare-and-delete); a report about a
   * credential that was already replaced changes nothing.
   *
   * @throws {StateError} when DynamoDB fails; {@link InvalidInputError} for a bad key.
   */
  async invalidate(key: string, id: string): Promise<void> {
    checkKey(key);
    if (this.#cache.get(key)?.id === id) this.#cache.delete(key);
    const result = await this.#table.update({
      key: { pk: itemKey(key) },
      update: 'REMOVE #payload, #credentialId, #renewAtMs, #expiresAtMs, #issuedAtMs ADD #generation :one',
      condition: '#credentialId = :id',
      names: {
        '#payload': 'payload',
        '#credentialId': 'credentialId',
        '#renewAtMs': 'renewAtMs',
        '#expiresAtMs': 'expiresAtMs',
        '#issuedAtMs': 'issuedAtMs',
        '#generation': 'generation',
      },
      values: { ':id': id, ':one': 1 },
    });
    if (result.ok) this.#logger.info('state.credential.invalidated', { key });
  }

  #pollDelay(poll: number): number {
    const ceiling = Math.min(this.#pollMaxMs, this.#pollInitialMs * 2 ** Math.min(poll, 20));
    // Full jitter over the upper half: waiters spread out instead of polling in lockstep.
    return Math.max(1, Math.round(ceiling * (0.5 + 0.5 * this.#random())));
  }

  async #read(key: string): Promise<Snapshot<T>> {
    const raw = await this.#table.get({ pk: itemKey(key) }, true);
    if (raw === undefined) {
      return { exists: false, generation: 0, credential: undefined, lease: undefined, failure: undefined };
    }
    const parsed = itemSchema.safeParse(raw);
    if (!parsed.success) {
      // Unreadable bookkeeping: treat as "nothing usable, no lease" so the next login repairs the item.
      this.#logger.warn('state.credential.unreadable-item', { key, problem: parsed.error.message });
      return { exists: true, generation: -1, credential: undefined, lease: undefined, failure: undefined };
    }
    const item = parsed.data;
    const lease =
      item.leaseOwner !== undefined && item.leaseFlight !== undefined && item.leaseUntilMs !== undefined
        ? { owner: item.leaseOwner, flight: item.leaseFlight, untilMs: item.leaseUntilMs }
        : undefined;
    return {
      exists: true,
      generation: item.generation ?? 0,
      credential: this.#decode(key, item.payload, item.credentialId),
      lease,
      failure: item.failure,
    };
  }

  #decode(key: string, payload: string | undefined, credentialId: string | undefined): T | undefined {
    if (payload === undefined) return undefined;
    try {
      const credential = this.#schema.parse(JSON.parse(payload));
      if (credential.id !== credentialId)
        throw new Error('credentialId attribute does not match the payload');
      return credential;
    } catch (error) {
      // A credential written by an incompatible version: behave as if none were stored (a new login fixes it).
      this.#logger.warn('state.credential.unreadable-payload', {
        key,
        problem: error instanceof Error ? error.message : String(error),
      });
      return undefined;
    }
  }

  /** Take the login lease if nobody holds a live one and the item is as we saw it; the flight id, or undefined. */
  async #tryLease(key: string, snap: Snapshot<T>, now: number): Promise<string | undefined> {
    const flight = randomUUID();
    const untilMs = now + this.#leaseMs;
    const keepUntilMs = Math.max(untilMs, snap.credential?.expiresAtMs ?? 0);
    const names: Record<string, string> = {
      '#leaseOwner': 'leaseOwner',
      '#leaseFlight': 'leaseFlight',
      '#leaseUntilMs': 'leaseUntilMs',
      '#generation': 'generation',
      '#purge': PURGE_AT_ATTRIBUTE,
      '#kind': 'kind',
    };
    const values: Record<string, unknown> = {
      ':owner': this.#instanceId,
      ':flight': flight,
      ':until': untilMs,
      ':zero': 0,
      ':purge': Math.ceil(keepUntilMs / 1000) + PURGE_GRACE_SEC,
      ':kind': 'credential',
    };
    let condition: string;
    if (!snap.exists) {
      names['#pk'] = 'pk';
      condition = 'attribute_not_exists(#pk)';
    } else if (snap.generation < 0) {
      condition = 'attribute_not_exists(#leaseUntilMs) OR #leaseUntilMs <= :now';
      values[':now'] = now;
    } else {
      // The generation guard: if a credential was stored or invalidated since our read, our view is stale.
      const sameGeneration =
        snap.generation === 0
          ? '(attribute_not_exists(#generation) OR #generation = :gen)'
          : '#generation = :gen';
      condition = `${sameGeneration} AND (attribute_not_exists(#leaseUntilMs) OR #leaseUntilMs <= :now)`;
      values[':gen'] = snap.generation;
      values[':now'] = now;
    }
    const result = await this.#table.update({
      key: { pk: itemKey(key) },
      update:
        'SET #leaseOwner = :owner, #leaseFlight = :flight, #leaseUntilMs = :until, #generation = if_not_exists(#generation, :zero), #purge = :purge, #kind = :kind',
      condition,
      names,
      values,
    });
    if (!result.ok) return undefined;
    if (snap.lease) {
      this.#logger.warn('state.credential.lease-takeover', { key, previousOwner: snap.lease.owner });
    }
    return flight;
  }

  async #issueUnderLease(
    key: string,
    flight: string,
    issue: IssueCredential<T>,
    current: T | undefined,
  ): Promise<T> {
    let credential: T;
    try {
      credential = await issue();
      // Store only what we can read back: a credential the schema rejects would be re-issued forever.
      this.#schema.parse(JSON.parse(JSON.stringify(credential)));
      if (credential.expiresAtMs <= this.#clock()) {
        throw new StateError(
          `新获取的凭据 ${key} 已过期 / The credential just issued for ${key} is already expired (check the server clock and expiresIn)`,
          { kind: 'internal', fault: 'ours', code: 'CREDENTIAL_ALREADY_EXPIRED' },
        );
      }
    } catch (error) {
      await this.#releaseWithFailure(key, flight, error);
      if (current && this.#renewalFailure === 'use-current' && this.#clock() < current.expiresAtMs) {
        this.#logger.warn('state.credential.renewal-failed', { key, error });
        return current;
      }
      throw error;
    }
    const now = this.#clock();
    const stored = await this.#table.update({
      key: { pk: itemKey(key) },
      update:
        'SET #payload = :payload, #credentialId = :id, #renewAtMs = :renewAt, #expiresAtMs = :expiresAt, #issuedAtMs = :now, #purge = :purge ADD #generation :one REMOVE #leaseOwner, #leaseFlight, #leaseUntilMs, #failure',
      condition: '#leaseFlight = :flight',
      names: {
        '#payload': 'payload',
        '#credentialId': 'credentialId',
        '#renewAtMs': 'renewAtMs',
        '#expiresAtMs': 'expiresAtMs',
        '#issuedAtMs': 'issuedAtMs',
        '#purge': PURGE_AT_ATTRIBUTE,
        '#generation': 'generation',
        '#leaseOwner': 'leaseOwner',
        '#leaseFlight': 'leaseFlight',
        '#leaseUntilMs': 'leaseUntilMs',
        '#failure': 'failure',
      },
      values: {
        ':payload': JSON.stringify(credential),
        ':id': credential.id,
        ':renewAt': Math.min(credential.renewAtMs, credential.expiresAtMs),
        ':expiresAt': credential.expiresAtMs,
        ':now': now,
        ':purge': Math.ceil(credential.expiresAtMs / 1000) + PURGE_GRACE_SEC,
        ':one': 1,
        ':flight': flight,
      },
    });
    if (stored.ok) {
      this.#logger.info('state.credential.issued', { key, expiresAtMs: credential.expiresAtMs });
    } else {
      // Our lease expired and another instance took over: it stores its own credential. Ours is valid, so
      // this caller uses it; it is just not shared.
      this.#logger.warn('state.credential.lease-lost', { key });
    }
    return credential;
  }

  async #releaseWithFailure(key: string, flight: string, error: unknown): Promise<void> {
    const failure = describeFailure(flight, this.#clock(), error);
    try {
      await this.#table.update({
        key: { pk: itemKey(key) },
        update: 'SET #failure = :failure REMOVE #leaseOwner, #leaseFlight, #leaseUntilMs',
        condition: '#leaseFlight = :flight',
        names: {
          '#failure': 'failure',
          '#leaseOwner': 'leaseOwner',
          '#leaseFlight': 'leaseFlight',
          '#leaseUntilMs': 'leaseUntilMs',
        },
        values: { ':failure': failure, ':flight': flight },
      });
    } catch (releaseError) {
      // The login error matters more to the caller; the lease still expires on its own.
      this.#logger.error('state.credential.release-failed', { key, error: releaseError });
    }
  }
}

function describeFailure(flight: string, atMs: number, error: unknown): StoredFailure {
  const clip = (text: string) => redactString(text).slice(0, MAX_FAILURE_TEXT);
  if (error instanceof SyncError) {
    return {
      flight,
      atMs,
      name: error.name,
      kind: error.kind,
      fault: error.fault,
      code: error.code,
      message: clip(error.message),
      remoteMessages: error.remoteMessages.slice(0, 10).map(clip),
    };
  }
  return {
    flight,
    atMs,
    name: error instanceof Error ? error.name : 'Error',
    kind: 'internal',
    fault: 'ours',
    code: 'CREDENTIAL_ISSUE_FAILED',
    message: clip(error instanceof Error ? error.message : String(error)),
    remoteMessages: [],
  };
}

function itemKey(key: string): string {
  return `credential#${key}`;
}

function checkKey(key: string): void {
  if (key.length === 0 || key.length > MAX_KEY_LENGTH) {
    throw new InvalidInputError(
      `凭据键必须为 1–${MAX_KEY_LENGTH} 个字符 / Credential key must be 1–${MAX_KEY_LENGTH} characters`,
      'STATE_BAD_KEY',
    );
  }
}

function positive(value: number, name: string): number {
  if (!Number.isFinite(value) || value <= 0) {
    throw new InvalidInputError(`${name} 必须为正数 / ${name} must be a positive number`, 'STATE_BAD_OPTION');
  }
  return value;
}
