/**
 * Everything the sync must remember between Lambda invocations, in DynamoDB (see docs/state.md).
 *
 * Build the stores once per process, at module scope, from one DynamoDB client:
 *
 * ```ts
 * const state = createState({ client: new DynamoDBClient({}), ...readStateConfig(process.env) });
 * await state.inbox.recordIfNew(event);
 * ```
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Clock, Credential } from '../credentials.ts';
import type { Logger } from '../log.ts';
import {
  type CredentialParser,
  DynamoCredentialStore,
  type DynamoCredentialStoreOptions,
} from './credential-store.ts';
import { CursorStore } from './cursors.ts';
import { EventInbox } from './inbox.ts';
import { LinkStore } from './links.ts';
import { DynamoRateLimiter, type DynamoRateLimiterOptions } from './rate-limiter.ts';
import { SnapshotStore } from './snapshots.ts';
import { SyncLog } from './sync-log.ts';
import type { StateTableNames } from './tables.ts';

export * from './config.ts';
export * from './credential-store.ts';
export * from './cursors.ts';
export * from './errors.ts';
export * from './inbox.ts';
export * from './links.ts';
export * from './rate-limiter.ts';
export * from './snapshots.ts';
export * from './sync-log.ts';
export * from './tables.ts';

export interface CreateStateOptions {
  client: DynamoDBClient;
  tables: StateTableNames;
  inboxRetentionMs?: number;
  syncLogRetentionMs?: number;
  /** Lifetime of record snapshots (coalesced re-reads). Default `DEFAULT_SNAPSHOT_TTL_MS`. */
  snapshotTtlMs?: number;
  clock?: Clock;
  logger?: Logger;
}

export interface State {
  inbox: EventInbox;
  links: LinkStore;
  syncLog: SyncLog;
  cursors: CursorStore;
  snapshots: SnapshotStore;
  /** A credential store for one credential type (call once per type, keep the result). */
  credentials<T extends Credential>(
    schema: CredentialParser<T>,
    options?: Omit<DynamoCredentialStoreOptions<T>, 'client' | 'tableName' | 'schema'>,
  ): DynamoCredentialStore<T>;
  /** A shared rate limiter (call once per limit, keep the result). */
  rateLimiter(
    limit: DynamoRateLimiterOptions['limit'],
    options?: Omit<DynamoRateLimiterOptions, 'client' | 'tableName' | 'limit'>,
  ): DynamoRateLimiter;
}

/**
 * Build every state store over one client (no I/O happens here).
 *
 * @throws {InvalidInputError} for an invalid retention (and, from `credentials`/`rateLimiter`, invalid options).
 */
export function createState(options: CreateStateOptions): State {
  const { client, tables, clock, logger } = options;
  const common = { client, ...(clock ? { clock } : {}), ...(logger ? { logger } : {}) };
  return {
    inbox: new EventInbox({
      ...common,
      tableName: tables.inbox,
      ...(options.inboxRetentionMs === undefined ? {} : { retentionMs: options.inboxRetentionMs }),
    }),
    links: new LinkStore({ ...common, tableName: tables.links }),
    syncLog: new SyncLog({
      ...common,
      tableName: tables.syncLog,
      ...(options.syncLogRetentionMs === undefined ? {} : { retentionMs: options.syncLogRetentionMs }),
    }),
    cursors: new CursorStore({ ...common, tableName: tables.coordination }),
    snapshots: new SnapshotStore({
      ...common,
      tableName: tables.coordination,
      ...(options.snapshotTtlMs === undefined ? {} : { ttlMs: options.snapshotTtlMs }),
    }),
    credentials: (schema, extra = {}) =>
      new DynamoCredentialStore({ ...common, ...extra, tableName: tables.coordination, schema }),
    rateLimiter: (limit, extra = {}) =>
      new DynamoRateLimiter({ ...common, ...extra, tableName: tables.coordination, limit }),
  };
}
