/**
 * The Open API surface: which paths exist, how a call is authenticated in either convention (spec §2.3),
 * how each request body is read (zod), and what each answer carries next to the envelope.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { z } from 'zod';
import type { Directory } from './directory.ts';
import type { Actor, ChangeEvent, CrmEngine, WriteOptions } from './engine.ts';
import { FxiaokeApiError, invalidParameter, missingParameter } from './errors.ts';
import { UUID_V4 } from './ids.ts';
import { describeObject, type ObjectRegistry } from './metadata.ts';
import { searchQueryInfoSchema } from './query.ts';
import type { TokenFlow, TokenService } from './tokens.ts';

/**
 * How strictly `?thirdTraceId=` is checked on current-convention calls (spec §2.3: "each request must carry
 * a different thirdTraceId", RFC 4122 UUIDv4).
 * - `require` (default): missing → 32000, not a UUIDv4 → 15002; a reused one is counted, not refused
 *   (ASSUMPTION: the id serves tracing; refusing a client's retry with the same id would be harsher than
 *   any evidence shows).
 * - `require-unique`: additionally refuse a reused id (15002).
 * - `ignore`: accept anything.
 * Legacy-convention calls never need it (old clients omit it, spec §2.1).
 */
export type ThirdTraceIdPolicy = 'require' | 'require-unique' | 'ignore';

export type RouteKind = 'token' | 'crm' | 'user';

export interface CallContext {
  path: string;
  body: Record<string, unknown>;
  headers: IncomingHttpHeaders;
  searchParams: URLSearchParams;
}

export interface RouteDeps {
  engine: CrmEngine;
  registry: ObjectRegistry;
  tokens: TokenService;
  directory: Directory;
  enterpriseAccount: string;
  corpId: string;
  thirdTraceIdPolicy: ThirdTraceIdPolicy;
  /** Remember a thirdTraceId; returns false when it was seen before. */
  rememberTraceId: (id: string) => boolean;
  /** Objects with an approval flow on create (`triggerApprovalFlow` starts it). */
  approvalFlowObjects: ReadonlySet<string>;
  /** Hand change events to the push dispatcher (only when the write asked for workflows). */
  emit: (events: readonly ChangeEvent[]) => void;
}

export interface Route {
  kind: RouteKind;
  /** Whether a successful call changes data (for `dropResponseAfterCommit`). */
  writes: boolean;
  handle: (call: CallContext, deps: RouteDeps) => Record<string, unknown>;
}

// ── request shapes ──────────────────────────────────────────────────────────────────────────────────

const flag = z.union([z.boolean(), z.enum(['true', 'false']).transform((s) => s === 'true')]);
const record = z.record(z.string(), z.unknown());
const idOrIds = z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]);

const writeFlagsSchema = z.object({
  triggerWorkFlow: flag.optional(),
  triggerApprovalFlow: flag.optional(),
  hasSpecifyTime: flag.optional(),
  hasSpecifyCreatedBy: flag.optional(),
  includeDetailIds: flag.optional(),
  skipDataStatusValidate: flag.optional(),
  convertUserId: flag.optional(),
});

const querySchema = z.object({
  data: z.object({
    dataObjectApiName: z.string().min(1),
    find_explicit_total_num: flag.optional(),
    search_query_info: searchQueryInfoSchema,
  }),
});

const getSchema = z.object({
  data: z.object({
    dataObjectApiName: z.string().min(1),
    objectDataId: z.string().min(1),
    fieldProjection: z.array(z.string()).optional(),
  }),
});

const writeSchema = z.object({
  data: z.object({
    object_data: record,
    details: z.record(z.string(), z.array(record)).optional(),
    skipDataStatusValidate: flag.optional(),
    optionInfo: record.optional(),
  }),
});

const invalidSchema = z.object({
  data: z.object({
    dataObjectApiName: z.string().min(1),
    // "object_data_id is a single string despite the label 'Data ID list'" (spec §4.5); a list is accepted.
    object_data_id: idOrIds.optional(),
    idList: z.array(z.string().min(1)).min(1).optional(),
  }),
});

const idListSchema = z.object({
  data: z.object({
    dataObjectApiName: z.string().min(1),
    idList: z.array(z.string().min(1)).min(1).optional(),
    object_data_id: idOrIds.optional(),
  }),
});

const ownerItem = z.object({
  objectDataId: z.string().min(1),
  ownerId: z.union([z.array(z.string().min(1)).min(1), z.string().min(1)]),
});
const changeOwnerSchema = z.object({
  data: z.object({
    dataObjectApiName: z.string().min(1),
    // Casing differs between SDKs (C# `data`, Go `Data`, spec §4.6): accept both.
    data: z.array(ownerItem).min(1).optional(),
    Data: z.array(ownerItem).min(1).optional(),
  }),
});

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let current: unknown = root;
  for (const key of path) {
    if (typeof current !== 'object' || current === null) return undefined;
    current = Reflect.get(current, key);
  }
  return current;
}

/**
 * Parse a request body; a missing parameter is 32000 naming it, any other mismatch 15002.
 * @throws {FxiaokeApiError}
 */
function parse<S extends z.ZodType>(schema: S, body: unknown): z.output<S> {
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const path = issue?.path ?? [];
  const name = path.map(String).join('.') || '(body)';
  if (valueAt(body, path) === undefined) throw missingParameter(name);
  throw invalidParameter(
    `参数 ${name} 不合法：${issue?.message ?? ''}`,
    `parameter ${name} is invalid: ${issue?.message ?? ''}`,
  );
}

// ── authentication ──────────────────────────────────────────────────────────────────────────────────

export interface Caller {
  actor: Actor;
  convertUserId: boolean;
  style: 'legacy' | 'current';
}

function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  const first = Array.isArray(value) ? value[0] : value;
  return first === undefined || first.trim() === '' ? undefined : first.trim();
}

function bodyString(body: Record<string, unknown>, key: string): string | undefined {
  const value = body[key];
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
}

function checkThirdTraceId(call: CallContext, deps: RouteDeps): void {
  if (deps.thirdTraceIdPolicy === 'ignore') return;
  const id = call.searchParams.get('thirdTraceId');
  if (!id) throw missingParameter('thirdTraceId');
  if (!UUID_V4.test(id)) {
    throw invalidParameter(
      `thirdTraceId 必须是 RFC 4122 UUID v4：${id}`,
      `thirdTraceId must be an RFC 4122 version-4 UUID, got "${id}"`,
    );
  }
  const fresh = deps.rememberTraceId(id.toLowerCase());
  if (!fresh && deps.thirdTraceIdPolicy === 'require-unique') {
    throw invalidParameter(
      `thirdTraceId ${id} 已使用过，每次请求必须不同`,
      `thirdTraceId ${id} was already used; every request needs a fresh one`,
    );
  }
}

/**
 * Who is calling, from body credentials (legacy) or headers (current, when `authorization` is present).
 * @throws {FxiaokeApiError} 10010/10013/10014 missing, 20016 bad token, 20017 wrong corp, 20012 unknown user.
 */
export function authenticate(call: CallContext, deps: RouteDeps, needsUser: boolean): Caller {
  const authorization = headerValue(call.headers, 'authorization');
  const convertUserId = call.body.convertUserId;
  const explicitConvert =
    convertUserId === true || convertUserId === 'true'
      ? true
      : convertUserId === false || convertUserId === 'false'
        ? false
        : undefined;
  let tokenValue: string | undefined;
  let userRef: string | undefined;
  let style: Caller['style'];
  if (authorization !== undefined) {
    style = 'current';
    checkThirdTraceId(call, deps);
    const match = /^Bearer\s+(\S+)$/i.exec(authorization);
    if (!match?.[1]) {
      throw new FxiaokeApiError(
        10013,
        'authorization 请求头格式应为 "Bearer <accessToken>" / authorization header must be "Bearer <accessToken>"',
      );
    }
    tokenValue = match[1];
    if (!deps.tokens.validate(tokenValue)) {
      throw new FxiaokeApiError(20016, 'accessToken 不存在或已过期 / accessToken is unknown or expired');
    }
    const ea = headerValue(call.headers, 'x-fs-ea');
    if (!ea) throw missingParameter('x-fs-ea (header)');
    if (ea !== deps.enterpriseAccount) {
      throw new FxiaokeApiError(20017, `企业账号 ${ea} 未找到 / enterprise account "${ea}" not found`);
    }
    userRef = headerValue(call.headers, 'x-fs-userid');
  } else {
    style = 'legacy';
    tokenValue = bodyString(call.body, 'corpAccessToken');
    if (!tokenValue) throw new FxiaokeApiError(10013, '缺少参数 corpAccessToken / Missing corpAccessToken');
    if (!deps.tokens.validate(tokenValue)) {
      throw new FxiaokeApiError(
        20016,
        'corpAccessToken 不存在或已过期 / corpAccessToken is unknown or expired',
      );
    }
    const corpId = bodyString(call.body, 'corpId');
    if (!corpId) throw new FxiaokeApiError(10014, '缺少参数 corpId / Missing corpId');
    if (corpId !== deps.corpId)
      throw new FxiaokeApiError(20017, `corpId ${corpId} 未找到 / corpId not found`);
    userRef = bodyString(call.body, 'currentOpenUserId');
  }
  if (!userRef) {
    if (needsUser) {
      throw new FxiaokeApiError(
        10010,
        style === 'legacy'
          ? '缺少参数 currentOpenUserId / Missing currentOpenUserId'
          : '缺少请求头 x-fs-userid / Missing x-fs-userid header',
      );
    }
    return { actor: { employeeId: '-10000' }, convertUserId: explicitConvert ?? style === 'legacy', style };
  }
  const employeeId = deps.directory.toEmployeeId(userRef);
  if (!employeeId)
    throw new FxiaokeApiError(20012, `openUserId ${userRef} 未找到 / user "${userRef}" not found`);
  return { actor: { employeeId }, convertUserId: explicitConvert ?? style === 'legacy', style };
}

// ── handlers ────────────────────────────────────────────────────────────────────────────────────────

/** Object apiName of a CRM data call, checked against the path family (spec §4: custom paths are `__c` only). */
function objectFor(call: CallContext, deps: RouteDeps, apiName: string): string {
  deps.registry.require(apiName);
  if (call.path.startsWith('/cgi/crm/custom/') && !apiName.endsWith('__c')) {
    throw invalidParameter(
      `该接口仅适用于自定义对象（apiName 以 __c 结尾），${apiName} 请使用 /cgi/crm/v2/data/…`,
      `this path only serves custom objects (apiName ending in __c); use /cgi/crm/v2/data/… for ${apiName}`,
    );
  }
  return apiName;
}

function writeOptions(
  caller: Caller,
  flags: z.output<typeof writeFlagsSchema>,
  skip?: boolean,
): WriteOptions {
  return {
    actor: caller.actor,
    hasSpecifyTime: flags.hasSpecifyTime === true,
    hasSpecifyCreatedBy: flags.hasSpecifyCreatedBy === true,
    skipDataStatusValidate: skip === true || flags.skipDataStatusValidate === true,
  };
}

/**
 * ASSUMPTION (documented in docs/fxiaoke-emulator.md): the change push rides on the workflow trigger, so a
 * write with `triggerWorkFlow: false` sends no push. Our sync writes back to the CRM that way and must not
 * hear its own echo.
 */
function emitUnlessSuppressed(
  deps: RouteDeps,
  events: readonly ChangeEvent[],
  triggerWorkFlow: boolean | undefined,
): void {
  if (triggerWorkFlow !== false) deps.emit(events);
}

function idsOf(
  data: { idList?: string[] | undefined; object_data_id?: string | string[] | undefined },
  name: string,
): string[] {
  if (data.idList) return data.idList;
  if (typeof data.object_data_id === 'string') return [data.object_data_id];
  if (Array.isArray(data.object_data_id)) return data.object_data_id;
  throw missingParameter(`data.${name}`);
}

const crmHandlers: Record<string, Route> = {
  query: {
    kind: 'crm',
    writes: false,
    handle(call, deps) {
      const caller = authenticate(call, deps, true);
      const { data } = parse(querySchema, call.body);
      const apiName = objectFor(call, deps, data.dataObjectApiName);
      const result = deps.engine.query(apiName, data.search_query_info, caller.actor);
      const projection = data.search_query_info.fieldProjection;
      return {
        data: {
          dataList: result.page.map((row) =>
            deps.engine.present(apiName, row, { convertUserId: caller.convertUserId, projection }),
          ),
          offset: result.offset,
          limit: result.limit,
          // "Default is true" (spec §4.1); when false Fxiaoke answers total 0 (deep-paging FAQ).
          total: data.find_explicit_total_num === false ? 0 : result.total,
        },
      };
    },
  },
  get: {
    kind: 'crm',
    writes: false,
    handle(call, deps) {
      const caller = authenticate(call, deps, true);
      const { data } = parse(getSchema, call.body);
      const apiName = objectFor(call, deps, data.dataObjectApiName);
      const found = deps.engine.get(apiName, data.objectDataId, caller.actor);
      return {
        data: deps.engine.present(apiName, found, {
          convertUserId: caller.convertUserId,
          projection: data.fieldProjection?.length ? data.fieldProjection : undefined,
        }),
      };
    },
  },
  create: {
    kind: 'crm',
    writes: true,
    handle(call, deps) {
      const caller = authenticate(call, deps, true);
      const flags = parse(writeFlagsSchema, call.body);
      const { data } = parse(writeSchema, call.body);
      const rawApiName = data.object_data.dataObjectApiName;
      if (typeof rawApiName !== 'string' || rawApiName === '') {
        throw missingParameter('data.object_data.dataObjectApiName');
      }
      const apiName = objectFor(call, deps, rawApiName);
      const result = deps.engine.create(apiName, data.object_data, data.details, {
        ...writeOptions(caller, flags),
        startApproval: flags.triggerApprovalFlow !== false && deps.approvalFlowObjects.has(apiName),
      });
      emitUnlessSuppressed(deps, result.events, flags.triggerWorkFlow);
      // includeDetailIds: the response shape is UNKNOWN (spec §4.3); ids are listed per detail apiName,
      // in the order the rows were sent.
      return {
        dataId: result.dataId,
        ...(flags.includeDetailIds === true ? { detailIds: result.detailIds } : {}),
      };
    },
  },
  update: {
    kind: 'crm',
    writes: true,
    handle(call, deps) {
      const caller = authenticate(call, deps, true);
      const flags = parse(writeFlagsSchema, call.body);
      const { data } = parse(writeSchema, call.body);
      const rawApiName = data.object_data.dataObjectApiName;
      if (typeof rawApiName !== 'string' || rawApiName === '') {
        throw missingParameter('data.object_data.dataObjectApiName');
      }
      if (typeof data.object_data._id !== 'string' || data.object_data._id === '') {
        throw missingParameter('data.object_data._id');
      }
      const apiName = objectFor(call, deps, rawApiName);
      const result = deps.engine.update(
        apiName,
        data.object_data,
        data.details,
        writeOptions(caller, flags, data.skipDataStatusValidate),
      );
      emitUnlessSuppressed(deps, result.events, flags.triggerWorkFlow);
      return { dataId: result.dataId };
    },
  },
  invalid: {
    kind: 'crm',
    writes: true,
    handle(call, deps) {
      const caller = authenticate(call, deps, true);
      const flags = parse(writeFlagsSchema, call.body);
      const { data } = parse(invalidSchema, call.body);
      const apiName = objectFor(call, deps, data.dataObjectApiName);
      const events = deps.engine.invalid(apiName, idsOf(data, 'object_data_id'), writeOptions(caller, flags));
      emitUnlessSuppressed(deps, events, flags.triggerWorkFlow);
      return {};
    },
  },
  recover: {
    kind: 'crm',
    writes: true,
    handle(call, deps) {
      const caller = authenticate(call, deps, true);
      const flags = parse(writeFlagsSchema, call.body);
      const { data } = parse(idListSchema, call.body);
      const apiName = objectFor(call, deps, data.dataObjectApiName);
      const events = deps.engine.recover(apiName, idsOf(data, 'idList'), writeOptions(caller, flags));
      emitUnlessSuppressed(deps, events, flags.triggerWorkFlow);
      return {};
    },
  },
  delete: {
    kind: 'crm',
    writes: true,
    handle(call, deps) {
      const caller = authenticate(call, deps, true);
      const flags = parse(writeFlagsSchema, call.body);
      const { data } = parse(idListSchema, call.body);
      const apiName = objectFor(call, deps, data.dataObjectApiName);
      const events = deps.engine.delete(apiName, idsOf(data, 'idList'), writeOptions(caller, flags));
      emitUnlessSuppressed(deps, events, flags.triggerWorkFlow);
      return {};
    },
  },
  changeOwner: {
    kind: 'crm',
    writes: true,
    handle(call, deps) {
      const caller = authenticate(call, deps, true);
      const flags = parse(writeFlagsSchema, call.body);
      const { data } = parse(changeOwnerSchema, call.body);
      const items = data.data ?? data.Data;
      if (!items) throw missingParameter('data.data');
      const apiName = objectFor(call, deps, data.dataObjectApiName);
      const events = deps.engine.changeOwner(
        apiName,
        items.map((item) => ({ id: item.objectDataId, owner: item.ownerId })),
        writeOptions(caller, flags),
      );
      emitUnlessSuppressed(deps, events, flags.triggerWorkFlow);
      return {};
    },
  },
};

const describeBodySchema = z.object({
  apiName: z.string().min(1).optional(),
  includeDetail: flag.optional(),
  data: z.object({ apiName: z.string().min(1).optional(), includeDetail: flag.optional() }).optional(),
});

const getByMobileSchema = z.object({
  mobile: z.string().min(1).optional(),
  data: z.object({ mobile: z.string().min(1).optional() }).optional(),
});

function tokenRoute(flow: TokenFlow): Route {
  return {
    kind: 'token',
    writes: false,
    handle(call, deps) {
      if (flow === 'oauth2') {
        if (deps.thirdTraceIdPolicy !== 'ignore') checkThirdTraceId(call, deps);
        const grantType = call.body.grantType;
        if (grantType === undefined) throw missingParameter('grantType');
        if (grantType !== 'app_secret') {
          throw invalidParameter(
            `grantType ${String(grantType)} 不支持（服务端对接请用 app_secret）`,
            `grantType "${String(grantType)}" is not supported here; server-to-server calls use "app_secret"`,
          );
        }
      }
      const { token, expiresInSeconds } = deps.tokens.issue(flow, call.body);
      if (flow === 'legacy') {
        return { corpAccessToken: token.token, corpId: deps.corpId, expiresIn: expiresInSeconds };
      }
      // `openUserId` carries the corp id here, as in Fxiaoke's own sample (spec §2.2).
      return {
        openUserId: deps.corpId,
        accessToken: token.token,
        expiresIn: expiresInSeconds,
        appId: token.appId,
        ea: deps.enterpriseAccount,
      };
    },
  };
}

/** Every Open API path the emulator serves. */
export function buildRoutes(): Map<string, Route> {
  const routes = new Map<string, Route>();
  routes.set('/cgi/corpAccessToken/get/V2', tokenRoute('legacy'));
  routes.set('/oauth2.0/token', tokenRoute('oauth2'));
  for (const [action, route] of Object.entries(crmHandlers)) {
    routes.set(`/cgi/crm/v2/data/${action}`, route);
    routes.set(`/cgi/crm/custom/v2/data/${action}`, route);
  }
  routes.set('/cgi/crm/v2/object/describe', {
    kind: 'crm',
    writes: false,
    handle(call, deps) {
      authenticate(call, deps, false);
      const body = parse(describeBodySchema, call.body);
      // Current style puts apiName under data; legacy clients send it at top level (spec §6): accept both.
      const apiName = body.data?.apiName ?? body.apiName;
      if (!apiName) throw missingParameter('data.apiName');
      const object = deps.registry.require(apiName);
      const includeDetail = body.data?.includeDetail ?? body.includeDetail ?? false;
      return {
        data: {
          describe: describeObject(object),
          // With includeDetail the detail describes' location is UNKNOWN (spec §6): listed under `details`.
          ...(includeDetail
            ? { details: object.detailApiNames.map((name) => describeObject(deps.registry.require(name))) }
            : {}),
        },
      };
    },
  });
  routes.set('/cgi/crm/v2/object/list', {
    kind: 'crm',
    writes: false,
    handle(call, deps) {
      authenticate(call, deps, false);
      return {
        data: {
          objects: deps.registry.list().map((object) => ({
            describeApiName: object.apiName,
            describeDisplayName: object.displayName,
            defineType: object.defineType,
            isActive: true,
          })),
        },
      };
    },
  });
  routes.set('/cgi/user/getByMobile', {
    kind: 'user',
    writes: false,
    handle(call, deps) {
      const caller = authenticate(call, deps, false);
      const body = parse(getByMobileSchema, call.body);
      const mobile = body.mobile ?? body.data?.mobile;
      if (!mobile) throw missingParameter('mobile');
      const employee = deps.directory.byMobile(mobile);
      // The full empList item schema is UNKNOWN (spec §3); clients read openUserId and fullName.
      return {
        empList: employee
          ? [
              {
                openUserId: employee.openUserId,
                employeeId: caller.style === 'current' ? employee.employeeId : undefined,
                fullName: employee.name,
                name: employee.name,
                mobile: employee.mobile,
                email: employee.email,
                mainDepartmentId: employee.departmentId,
                departmentIds: [employee.departmentId],
                isStop: false,
              },
            ]
          : [],
      };
    },
  });
  return routes;
}
