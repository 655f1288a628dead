/**
 * Links between a CRM record (apiName, `_id`) and an ERP record (formId, internal id `FID`, number `FNumber`):
 * the memory that makes the sync send updates to the right ERP record, skip stale or reordered events,
 * skip unchanged records — and never create the same record twice.
 *
 * A link is identified by its *origin* record (the side the flow reads from) and the object type on the
 * other side, because the origin id is the only id known before the other record exists:
 * - CRM → ERP flows: `{ origin: 'crm', apiName, crmId, formId }` (e.g. AccountObj/abc → BD_Customer);
 * - ERP → CRM flows: `{ origin: 'erp', formId, erpId, apiName }` (e.g. SAL_DELIVERYNOTICE/100234 → DeliveryNoteObj).
 *
 * Reverse lookups go through GSIs: by CRM record (`byCrm`), by ERP id (`byErpId`), by ERP number
 * (`byErpNumber`). GSIs are eventually consistent, so decisions that must be exact (create or update? newer
 * or stale?) use the consistent {@link LinkStore.get} on the origin key plus conditional writes.
 *
 * "Nothing duplicated" — the protocol (docs/state.md, "Links"):
 * 1. `claim(key, owner)` before touching the other system. A conditional UpdateItem succeeds for exactly
 *    one worker while the claim is live; the others get `busy` and retry later (SQS backoff).
 *    A claim on a record that has no link yet leaves a `pending` marker.
 * 2. The winner decides with {@link classifyChange}: no link → create (after looking the record up by its
 *    external key); `pending` link inherited from a worker that died → a create may have happened:
 *    look up first; linked → update (or skip when stale/duplicate/unchanged).
 * 3. `recordSynced(key, {owner, ids, version, hash})` stores the counterpart ids and the version, releases
 *    the claim, and is refused — reported as `stale`/`duplicate` — when the stored version is not older.
 * 4. On a definite failure before anything was written, `release(key, owner)` (a `pending` marker is
 *    deleted). On an *unknown* outcome (a lost Save response) the claim is left to expire: the `pending`
 *    marker then tells the next worker to look up before creating.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { z } from 'zod';
import { type Clock, systemClock } from '../credentials.ts';
import { InvalidInputError } from '../errors.ts';
import { type Logger, silentLogger } from '../log.ts';
import { corruptItemError, StateError } from './errors.ts';
import { type Item, StateTable } from './table.ts';
import { LINKS_INDEX } from './tables.ts';

export type LinkOrigin = 'crm' | 'erp';

/** Identity of a link: the origin record plus the object type on the other side. */
export type LinkKey =
  | { origin: 'crm'; apiName: string; crmId: string; formId: string }
  | { origin: 'erp'; formId: string; erpId: string; apiName: string };

export type LinkState = 'pending' | 'linked';

export interface LinkClaim {
  owner: string;
  untilMs: number;
  claimedAtMs: number;
}

export interface Link {
  origin: LinkOrigin;
  apiName: string;
  formId: string;
  crmId: string | undefined;
  erpId: string | undefined;
  erpNumber: string | undefined;
  /** `pending`: claimed for creation, counterpart not recorded yet; `linked`: both sides known. */
  state: LinkState;
  /** Version of the origin record last synced: CRM `version`, or a monotonic ERP value (modify time ms). */
  version: number | undefined;
  /** Modify time of the origin record at that version (epoch ms). */
  modifiedAtMs: number | undefined;
  /** Hash of the mapped payload last sent, to skip re-sending unchanged content. */
  contentHash: string | undefined;
  claim: LinkClaim | undefined;
  createdAtMs: number;
  updatedAtMs: number;
  syncedAtMs: number | undefined;
  syncCount: number;
  lastCorrelationId: string | undefined;
  lastMessageId: string | undefined;
}

export type ClaimResult =
  | {
      status: 'claimed';
      /** The link as it was before this claim (undefined: nothing was known about this record). */
      link: Link | undefined;
      /** The expired claim this one replaced, if any (its holder died or overran its lease). */
      takenOver: LinkClaim | undefined;
    }
  | { status: 'busy'; holder: LinkClaim; link: Link };

export type RecordSyncedResult =
  | { status: 'written'; link: Link }
  /** The stored version is newer: this write came late (reordered event, overlapping worker). */
  | { status: 'stale'; link: Link }
  /** The stored version is the same: this version was already synced. */
  | { status: 'duplicate'; link: Link }
  /** The link points at a different counterpart record (pass `relink: true` to move it on purpose). */
  | { status: 'conflict'; link: Link }
  /** Another worker holds a live claim on this link. */
  | { status: 'busy'; link: Link };

export interface RecordSyncedInput {
  /** The claim owner, when the caller claimed the link first (it is released by this write). */
  owner?: string;
  /** CRM `_id` — required for a new ERP-origin link, optional otherwise. */
  crmId?: string;
  /** ERP internal id — required for a new CRM-origin link, optional otherwise. */
  erpId?: string;
  erpNumber?: string;
  version: number;
  modifiedAtMs?: number;
  contentHash?: string;
  correlationId?: string;
  messageId?: string;
  /** Accept the same version again (a replay after a mapping change). Older versions are still refused. */
  allowSameVersion?: boolean;
  /** Allow the counterpart id to change (the old ERP/CRM record was deleted and re-created). */
  relink?: boolean;
}

/** What the pipeline should do with an origin record, given its link. */
export type ChangeDecision =
  | { action: 'create'; lookupFirst: boolean }
  | { action: 'update' }
  | { action: 'skip'; reason: 'stale' | 'duplicate' | 'unchanged' };

/**
 * Decide create/update/skip for an origin record at `version` with mapped-content hash `contentHash`.
 * - no link → create; a `pending` link (a previous creator did not finish) → create, but look the record up
 *   by its external key first, since the earlier attempt may have created it;
 * - version older than the link's → skip `stale`; equal → skip `duplicate` (unless `force`);
 * - newer but same content hash → skip `unchanged` (still call `recordSynced` to advance the version);
 * - otherwise update.
 */
export function classifyChange(
  link: Link | undefined,
  incoming: { version: number; contentHash?: string; force?: boolean },
): ChangeDecision {
  if (!link || link.state === 'pending' || counterpartId(link) === undefined) {
    return { action: 'create', lookupFirst: link !== undefined };
  }
  if (link.version !== undefined) {
    if (incoming.version < link.version) return { action: 'skip', reason: 'stale' };
    if (incoming.version === link.version && !incoming.force) return { action: 'skip', reason: 'duplicate' };
  }
  if (
    !incoming.force &&
    incoming.contentHash !== undefined &&
    link.contentHash !== undefined &&
    incoming.contentHash === link.contentHash
  ) {
    return { action: 'skip', reason: 'unchanged' };
  }
  return { action: 'update' };
}

/** The id of the record on the non-origin side, if known. */
export function counterpartId(link: Pick<Link, 'origin' | 'crmId' | 'erpId'>): string | undefined {
  return link.origin === 'crm' ? link.erpId : link.crmId;
}

/** Default claim length: longer than one K3Cloud Save+Submit+Audit round (each call ≤ 30 s timeout). */
export const DEFAULT_LINK_CLAIM_MS = 120_000;

/** apiNames and formIds are identifiers; refusing `#` keeps the composite keys unambiguous. */
const TYPE_PATTERN = /^[A-Za-z0-9_.-]{1,128}$/;
const MAX_ID_LENGTH = 256;
const WRITE_ATTEMPTS = 3;
/** Reverse lookups return every link of one record; a record has a handful, so this only bounds a bug. */
const MAX_LOOKUP_ITEMS = 1_000;

const linkItemSchema = z.object({
  pk: z.string(),
  sk: z.string(),
  origin: z.enum(['crm', 'erp']),
  apiName: z.string(),
  formId: z.string(),
  crmId: z.string().optional(),
  erpId: z.string().optional(),
  erpNumber: z.string().optional(),
  state: z.enum(['pending', 'linked']),
  version: z.number().optional(),
  modifiedAtMs: z.number().optional(),
  contentHash: z.string().optional(),
  claimOwner: z.string().optional(),
  claimUntilMs: z.number().optional(),
  claimedAtMs: z.number().optional(),
  createdAtMs: z.number(),
  updatedAtMs: z.number(),
  syncedAtMs: z.number().optional(),
  syncCount: z.number().int().optional(),
  lastCorrelationId: z.string().optional(),
  lastMessageId: z.string().optional(),
});

export interface LinkStoreOptions {
  client: DynamoDBClient;
  /** The links table (`STATE_TABLE_LINKS`). */
  tableName: string;
  clock?: Clock;
  logger?: Logger;
}

export interface ClaimOptions {
  /** Who claims (a unique id per attempt, e.g. the SQS message id + receive count, or a random UUID). */
  owner: string;
  /** Claim length. Default {@link DEFAULT_LINK_CLAIM_MS}. */
  leaseMs?: number;
}

const NAMES = {
  '#pk': 'pk',
  '#state': 'state',
  '#version': 'version',
  '#claimOwner': 'claimOwner',
  '#claimUntil': 'claimUntilMs',
  '#claimedAt': 'claimedAtMs',
  '#createdAt': 'createdAtMs',
  '#updatedAt': 'updatedAtMs',
  '#syncCount': 'syncCount',
  '#origin': 'origin',
  '#apiName': 'apiName',
  '#formId': 'formId',
  '#crmId': 'crmId',
  '#crmKey': 'crmKey',
  '#erpId': 'erpId',
  '#erpIdKey': 'erpIdKey',
  '#erpNumber': 'erpNumber',
  '#erpNumberKey': 'erpNumberKey',
} as const;

type NameToken = keyof typeof NAMES;

/** Expression attribute names for exactly the tokens an expression uses (DynamoDB rejects unused ones). */
function namesFor(...expressions: string[]): Record<string, string> {
  const text = expressions.join(' ');
  const out: Record<string, string> = {};
  for (const [token, name] of Object.entries(NAMES)) {
    if (new RegExp(`${token}(?![A-Za-z0-9_])`).test(text)) out[token] = name;
  }
  return out;
}

function isNameToken(token: string): token is NameToken {
  return token in NAMES;
}

/** CRM ↔ ERP links and the claim protocol (see the module comment). */
export class LinkStore {
  readonly #table: StateTable;
  readonly #clock: Clock;
  readonly #logger: Logger;

  constructor(options: LinkStoreOptions) {
    this.#table = new StateTable(options.client, options.tableName);
    this.#clock = options.clock ?? systemClock;
    this.#logger = (options.logger ?? silentLogger).child({ component: 'state.links' });
  }

  /**
   * The link of an origin record (consistent read), or undefined.
   *
   * @throws {InvalidInputError} for a malformed key; {@link StateError} when DynamoDB fails or the item is
   *   malformed.
   */
  async get(key: LinkKey): Promise<Link | undefined> {
    const primary = primaryKey(key);
    const raw = await this.#table.get(primary, true);
    return raw === undefined ? undefined : this.#parse(raw);
  }

  /**
   * Claim the link for one worker (see the module comment). Exactly one of any number of concurrent callers
   * gets `claimed` while the claim is live; an expired claim is taken over (reported in `takenOver`).
   * Claiming again with the same owner renews the claim.
   *
   * @throws {InvalidInputError} for a malformed key or options; {@link StateError} when DynamoDB fails.
   */
  async claim(key: LinkKey, options: ClaimOptions): Promise<ClaimResult> {
    const primary = primaryKey(key);
    checkOwner(options.owner);
    const leaseMs = options.leaseMs ?? DEFAULT_LINK_CLAIM_MS;
    if (!Number.isFinite(leaseMs) || leaseMs <= 0) {
      throw new InvalidInputError('leaseMs 必须为正数 / leaseMs must be positive', 'STATE_BAD_OPTION');
    }
    for (let attempt = 0; attempt < WRITE_ATTEMPTS; attempt += 1) {
      const now = this.#clock();
      const own = originAttributes(key);
      const sets = [
        '#claimOwner = :owner',
        '#claimUntil = :until',
        '#claimedAt = :now',
        '#state = if_not_exists(#state, :pending)',
        '#createdAt = if_not_exists(#createdAt, :now)',
        '#updatedAt = :now',
        '#syncCount = if_not_exists(#syncCount, :zero)',
        ...own.sets,
      ];
      const update = `SET ${sets.join(', ')}`;
      const condition =
        'attribute_not_exists(#pk) OR attribute_not_exists(#claimOwner) OR #claimUntil <= :now OR #claimOwner = :owner';
      const result = await this.#table.update({
        key: primary,
        update,
        condition,
        names: namesFor(update, condition),
        values: {
          ':owner': options.owner,
          ':until': now + leaseMs,
          ':now': now,
          ':pending': 'pending',
          ':zero': 0,
          ...own.values,
        },
        returnValues: 'ALL_OLD',
      });
      if (result.ok) {
        const before =
          result.attributes && Object.keys(result.attributes).length > 0
            ? this.#parse(result.attributes)
            : undefined;
        const takenOver = before?.claim && before.claim.owner !== options.owner ? before.claim : undefined;
        if (takenOver) {
          this.#logger.warn('state.link.claim-takeover', {
            key,
            previousOwner: takenOver.owner,
            state: before?.state,
          });
        }
        return { status: 'claimed', link: before, takenOver };
      }
      const current = await this.get(key);
      if (current?.claim && current.claim.untilMs > this.#clock() && current.claim.owner !== options.owner) {
        return { status: 'busy', holder: current.claim, link: current };
      }
      // The claim expired or was released between our write and our read: try again.
    }
    throw contentionError('claim', key);
  }

  /**
   * Record that the origin record at `input.version` is synced to its counterpart, and release the caller's
   * claim. Refused (nothing written) when the stored version is newer (`stale`) or equal (`duplicate`),
   * when the counterpart id differs (`conflict`), or when another worker holds a live claim (`busy`).
   *
   * @throws {InvalidInputError} for a malformed key/input, or when a new link lacks its counterpart id;
   *   {@link StateError} when DynamoDB fails.
   */
  async recordSynced(key: LinkKey, input: RecordSyncedInput): Promise<RecordSyncedResult> {
    const primary = primaryKey(key);
    checkSyncedInput(key, input);
    const counterpart = key.origin === 'crm' ? input.erpId : input.crmId;
    for (let attempt = 0; attempt < WRITE_ATTEMPTS; attempt += 1) {
      const now = this.#clock();
      const own = originAttributes(key);
      const values: Record<string, unknown> = {
        ':linked': 'linked',
        ':v': input.version,
        ':now': now,
        ':one': 1,
        ...own.values,
      };
      const sets = [
        '#state = :linked',
        '#version = :v',
        '#updatedAt = :now',
        '#syncedAt = :now',
        '#createdAt = if_not_exists(#createdAt, :now)',
        ...own.sets,
      ];
      const extraNames: Record<string, string> = { '#syncedAt': 'syncedAtMs' };
      const setOptional = (token: string, attribute: string, value: unknown) => {
        if (value === undefined) return;
        const placeholder = `:${attribute}`;
        sets.push(`${token} = ${placeholder}`);
        values[placeholder] = value;
        if (!isNameToken(token)) extraNames[token] = attribute;
      };
      if (key.origin === 'crm') {
        setOptional('#erpId', 'erpId', input.erpId);
        if (input.erpId !== undefined) setOptional('#erpIdKey', 'erpIdKey', `${key.formId}#${input.erpId}`);
      } else {
        setOptional('#crmId', 'crmId', input.crmId);
        if (input.crmId !== undefined) setOptional('#crmKey', 'crmKey', `${key.apiName}#${input.crmId}`);
      }
      setOptional('#erpNumber', 'erpNumber', input.erpNumber);
      if (input.erpNumber !== undefined) {
        setOptional('#erpNumberKey', 'erpNumberKey', `${key.formId}#${input.erpNumber}`);
      }
      setOptional('#modifiedAt', 'modifiedAtMs', input.modifiedAtMs);
      setOptional('#contentHash', 'contentHash', input.contentHash);
      setOptional('#lastCorrelationId', 'lastCorrelationId', input.correlationId);
      setOptional('#lastMessageId', 'lastMessageId', input.messageId);

      const claimFree =
        input.owner === undefined
          ? '(attribute_not_exists(#claimOwner) OR #claimUntil <= :now)'
          : '(attribute_not_exists(#claimOwner) OR #claimUntil <= :now OR #claimOwner = :owner)';
      if (input.owner !== undefined) values[':owner'] = input.owner;
      const versionOk = input.allowSameVersion
        ? '(attribute_not_exists(#version) OR #version <= :v)'
        : '(attribute_not_exists(#version) OR #version < :v)';
      const counterpartToken = key.origin === 'crm' ? '#erpId' : '#crmId';
      let counterpartOk: string;
      if (counterpart === undefined) counterpartOk = `attribute_exists(${counterpartToken})`;
      else if (input.relink) counterpartOk = '';
      else {
        counterpartOk = `(attribute_not_exists(${counterpartToken}) OR ${counterpartToken} = :counterpart)`;
        values[':counterpart'] = counterpart;
      }
      const condition = [claimFree, versionOk, counterpartOk].filter((c) => c !== '').join(' AND ');
      const removes = ['#claimOwner', '#claimUntil', '#claimedAt'];
      if (input.relink && input.erpNumber === undefined) {
        // A moved link must not keep pointing at the old record's number.
        removes.push('#erpNumber', '#erpNumberKey');
      }
      const update = `SET ${sets.join(', ')} ADD #syncCount :one REMOVE ${removes.join(', ')}`;
      const result = await this.#table.update({
        key: primary,
        update,
        condition,
        names: { ...namesFor(update, condition), ...extraNames },
        values,
        returnValues: 'ALL_NEW',
      });
      if (result.ok && result.attributes) return { status: 'written', link: this.#parse(result.attributes) };

      const current = await this.get(key);
      if (!current) continue;
      if (current.version !== undefined && current.version > input.version) {
        this.#logger.info('state.link.stale-write', {
          key,
          stored: current.version,
          incoming: input.version,
        });
        return { status: 'stale', link: current };
      }
      if (current.version === input.version && !input.allowSameVersion)
        return { status: 'duplicate', link: current };
      const stored = counterpartId(current);
      if (counterpart === undefined && stored === undefined) {
        throw new InvalidInputError(
          `新建链接需要对方记录的 ID / A new link needs the id of the ${key.origin === 'crm' ? 'ERP' : 'CRM'} record (${key.origin === 'crm' ? 'erpId' : 'crmId'})`,
          'LINK_MISSING_COUNTERPART',
        );
      }
      if (counterpart !== undefined && stored !== undefined && stored !== counterpart && !input.relink) {
        this.#logger.warn('state.link.conflict', { key, stored, incoming: counterpart });
        return { status: 'conflict', link: current };
      }
      if (current.claim && current.claim.untilMs > this.#clock() && current.claim.owner !== input.owner) {
        return { status: 'busy', link: current };
      }
      // The item changed between our write and our read in a way that now allows the write: try again.
    }
    throw contentionError('recordSynced', key);
  }

  /**
   * Give up the caller's claim. A `pending` marker (no counterpart recorded) is deleted — use this only
   * when nothing was created on the other side; after an unknown outcome, let the claim expire instead.
   * Returns false when the caller no longer holds the claim.
   *
   * @throws {InvalidInputError} for a malformed key; {@link StateError} when DynamoDB fails.
   */
  async release(key: LinkKey, owner: string): Promise<boolean> {
    const primary = primaryKey(key);
    checkOwner(owner);
    const deleted = await this.#table.delete(primary, {
      condition: '#claimOwner = :owner AND #state = :pending',
      names: { '#claimOwner': 'claimOwner', '#state': 'state' },
      values: { ':owner': owner, ':pending': 'pending' },
    });
    if (deleted) return true;
    const released = await this.#table.update({
      key: primary,
      update: 'REMOVE #claimOwner, #claimUntil, #claimedAt',
      condition: '#claimOwner = :owner',
      names: { '#claimOwner': 'claimOwner', '#claimUntil': 'claimUntilMs', '#claimedAt': 'claimedAtMs' },
      values: { ':owner': owner },
    });
    return released.ok;
  }

  /**
   * Delete a link (an operator unlinking a record, e.g. after deleting the ERP record by hand).
   *
   * @throws {InvalidInputError} for a malformed key; {@link StateError} when DynamoDB fails.
   */
  async remove(key: LinkKey): Promise<void> {
    await this.#table.delete(primaryKey(key));
  }

  /**
   * Every link of a CRM record, whichever side it originated on (GSI: eventually consistent).
   *
   * @throws {InvalidInputError} for a malformed apiName/id; {@link StateError} when DynamoDB fails.
   */
  async findByCrm(apiName: string, crmId: string): Promise<Link[]> {
    checkType(apiName, 'apiName');
    checkId(crmId, 'crmId');
    return await this.#lookup(LINKS_INDEX.byCrm, 'crmKey', `${apiName}#${crmId}`);
  }

  /**
   * Every link of an ERP record by its internal id (GSI: eventually consistent).
   *
   * @throws {InvalidInputError} for a malformed formId/id; {@link StateError} when DynamoDB fails.
   */
  async findByErpId(formId: string, erpId: string): Promise<Link[]> {
    checkType(formId, 'formId');
    checkId(erpId, 'erpId');
    return await this.#lookup(LINKS_INDEX.byErpId, 'erpIdKey', `${formId}#${erpId}`);
  }

  /**
   * Every link of an ERP record by its number (GSI: eventually consistent).
   *
   * @throws {InvalidInputError} for a malformed formId/number; {@link StateError} when DynamoDB fails.
   */
  async findByErpNumber(formId: string, erpNumber: string): Promise<Link[]> {
    checkType(formId, 'formId');
    checkId(erpNumber, 'erpNumber');
    return await this.#lookup(LINKS_INDEX.byErpNumber, 'erpNumberKey', `${formId}#${erpNumber}`);
  }

  async #lookup(index: string, attribute: string, value: string): Promise<Link[]> {
    const links: Link[] = [];
    let startKey: Item | undefined;
    do {
      const page = await this.#table.query({
        index,
        keyCondition: '#k = :v',
        names: { '#k': attribute },
        values: { ':v': value },
        ...(startKey ? { startKey } : {}),
      });
      for (const item of page.items) links.push(this.#parse(item));
      startKey = page.lastKey;
    } while (startKey && links.length < MAX_LOOKUP_ITEMS);
    return links;
  }

  #parse(raw: Item): Link {
    const parsed = linkItemSchema.safeParse(raw);
    if (!parsed.success) {
      throw corruptItemError(this.#table.name, `${String(raw.pk)}/${String(raw.sk)}`, parsed.error.message);
    }
    const item = parsed.data;
    return {
      origin: item.origin,
      apiName: item.apiName,
      formId: item.formId,
      crmId: item.crmId,
      erpId: item.erpId,
      erpNumber: item.erpNumber,
      state: item.state,
      version: item.version,
      modifiedAtMs: item.modifiedAtMs,
      contentHash: item.contentHash,
      claim:
        item.claimOwner !== undefined && item.claimUntilMs !== undefined
          ? {
              owner: item.claimOwner,
              untilMs: item.claimUntilMs,
              claimedAtMs: item.claimedAtMs ?? item.updatedAtMs,
            }
          : undefined,
      createdAtMs: item.createdAtMs,
      updatedAtMs: item.updatedAtMs,
      syncedAtMs: item.syncedAtMs,
      syncCount: item.syncCount ?? 0,
      lastCorrelationId: item.lastCorrelationId,
      lastMessageId: item.lastMessageId,
    };
  }
}

/**
 * Primary key of a link item.
 *
 * @throws {InvalidInputError} for an apiName/formId that is not an identifier, or an empty/oversized id.
 */
export function primaryKey(key: LinkKey): { pk: string; sk: string } {
  checkType(key.apiName, 'apiName');
  checkType(key.formId, 'formId');
  if (key.origin === 'crm') {
    checkId(key.crmId, 'crmId');
    return { pk: `crm#${key.apiName}#${key.crmId}`, sk: key.formId };
  }
  if (key.origin === 'erp') {
    checkId(key.erpId, 'erpId');
    return { pk: `erp#${key.formId}#${key.erpId}`, sk: key.apiName };
  }
  throw new InvalidInputError('链接来源必须为 crm 或 erp / Link origin must be crm or erp', 'LINK_BAD_KEY');
}

/** SET clauses for the attributes that follow from the key (written on every write; they never change). */
function originAttributes(key: LinkKey): { sets: string[]; values: Record<string, unknown> } {
  const values: Record<string, unknown> = {
    ':origin': key.origin,
    ':apiName': key.apiName,
    ':formId': key.formId,
  };
  const sets = ['#origin = :origin', '#apiName = :apiName', '#formId = :formId'];
  if (key.origin === 'crm') {
    sets.push('#crmId = :originId', '#crmKey = :originKey');
    values[':originId'] = key.crmId;
    values[':originKey'] = `${key.apiName}#${key.crmId}`;
  } else {
    sets.push('#erpId = :originId', '#erpIdKey = :originKey');
    values[':originId'] = key.erpId;
    values[':originKey'] = `${key.formId}#${key.erpId}`;
  }
  return { sets, values };
}

function checkType(value: string, what: string): void {
  if (!TYPE_PATTERN.test(value)) {
    throw new InvalidInputError(
      `${what} 无效："${value}"（只允许字母、数字、_ . -）/ Invalid ${what} "${value}" (letters, digits, _ . - only)`,
      'LINK_BAD_KEY',
    );
  }
}

function checkId(value: string, what: string): void {
  if (value.length === 0 || value.length > MAX_ID_LENGTH) {
    throw new InvalidInputError(
      `${what} 必须为 1–${MAX_ID_LENGTH} 个字符 / ${what} must be 1–${MAX_ID_LENGTH} characters`,
      'LINK_BAD_KEY',
    );
  }
}

function checkOwner(owner: string): void {
  if (owner.length === 0 || owner.length > MAX_ID_LENGTH) {
    throw new InvalidInputError(
      `认领者 ID 必须为 1–${MAX_ID_LENGTH} 个字符 / Claim owner must be 1–${MAX_ID_LENGTH} characters`,
      'LINK_BAD_OWNER',
    );
  }
}

function checkSyncedInput(key: LinkKey, input: RecordSyncedInput): void {
  if (!Number.isFinite(input.version)) {
    throw new InvalidInputError('version 必须为数字 / version must be a finite number', 'LINK_BAD_VERSION');
  }
  if (input.owner !== undefined) checkOwner(input.owner);
  if (input.erpId !== undefined) checkId(input.erpId, 'erpId');
  if (input.crmId !== undefined) checkId(input.crmId, 'crmId');
  if (input.erpNumber !== undefined) checkId(input.erpNumber, 'erpNumber');
  if (key.origin === 'crm' && input.crmId !== undefined && input.crmId !== key.crmId) {
    throw new InvalidInputError('crmId 与链接键不一致 / crmId differs from the link key', 'LINK_BAD_KEY');
  }
  if (key.origin === 'erp' && input.erpId !== undefined && input.erpId !== key.erpId) {
    throw new InvalidInputError('erpId 与链接键不一致 / erpId differs from the link key', 'LINK_BAD_KEY');
  }
}

function contentionError(operation: string, key: LinkKey): StateError {
  return new StateError(
    `链接 ${JSON.stringify(key)} 持续冲突 / Link ${JSON.stringify(key)} kept changing during ${operation}; retry later`,
    { kind: 'transient', fault: 'theirs', code: 'STATE_CONTENTION' },
  );
}
