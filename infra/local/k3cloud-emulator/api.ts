/**
 * Public contract of the K3Cloud emulator: what tests, the local stack and the benchmark rely on.
 * The implementation lives next to this file; `startK3CloudEmulator` is exported from `./server.ts`.
 *
 * The control endpoint (when enabled) speaks the same types as JSON under `<origin>/__emulator/`:
 *   GET  /__emulator/stats               → K3EmulatorStats
 *   POST /__emulator/faults              ← K3FaultSpec (replaces the active faults; `{}` clears them)
 *   POST /__emulator/expire-sessions     → {expired: n}
 *   GET  /__emulator/records/<formId>    → stored records of that form (internal representation)
 *   POST /__emulator/reset               → drop all data and re-seed
 *   GET  /__emulator/requests            → the last requests received (operation, form, outcome; no bodies)
 *   GET  /__emulator/saved/<formId>?key=<field> → {<field value>: first-saved epoch ms} (see `savedTimes`)
 */
import type { K3CloudConfig } from '../../../lib/k3cloud/config.ts';
import type { Logger } from '../../../lib/log.ts';

export interface K3EmulatorIdentity {
  acctId: string;
  username: string;
  appId: string;
  appSecret: string;
  password: string;
}

/** The identity an emulator accepts for a client configured with `config` (missing secrets accepted as empty). */
export function identityOf(config: K3CloudConfig): K3EmulatorIdentity {
  return {
    acctId: config.acctId,
    username: config.username,
    appId: config.appId ?? '',
    appSecret: config.appSecret ?? '',
    password: config.password ?? '',
  };
}

export interface K3CloudEmulatorOptions {
  /** Default `127.0.0.1`. */
  host?: string;
  /** Default 8090; 0 picks a free port (tests). */
  port?: number;
  /** Accepted identity; default: the K3CLOUD_* variables with sandbox defaults (`readK3CloudConfig(env, {sandbox:true})`). */
  identity?: K3EmulatorIdentity;
  /** Persist data here (created if missing); without it, data lives in memory only. */
  dataDir?: string;
  /** Seed the demo company when the store is empty. Default true. */
  seed?: boolean;
  /** Sessions unused for this long answer MsgCode 1. Default 20 minutes. */
  sessionIdleTimeoutMs?: number;
  /** Added to every response (models a real network). Default 0. */
  latencyMs?: number;
  /** Serve `/__emulator/…`. Default false; `npm run emulator:k3cloud` turns it on for loopback. */
  controlEnabled?: boolean;
  /** Request bodies above this size get K3's error envelope. Default 10 MiB. */
  maxBodyBytes?: number;
  /** Time source for session idle expiry, FModifyDate, bill dates; default Date.now. */
  clock?: () => number;
  logger?: Logger;
  /**
   * LoginBySign hash algorithms accepted. Default `['sha256']` (servers since 8.0.0.202205); `['sha1']`
   * emulates an older server, `['sha256','sha1']` accepts both (spec §2.4).
   */
  loginSignAlgorithms?: readonly ('sha256' | 'sha1')[];
  /**
   * Also verify the gateway headers `X-Api-*` in signature mode. Default false: on-prem servers apparently
   * ignore them (spec §2.6 [inference]); they are accepted either way.
   */
  verifyGatewaySignature?: boolean;
  /**
   * What View answers without a valid session: `'empty'` (default) = `{}` without an error, as a public
   * client reports for real servers (spec §2.7); `'session-lost'` = the usual MsgCode 1 envelope.
   */
  viewWithoutSession?: 'empty' | 'session-lost';
  /**
   * A signature-mode request (valid X-Kd-* headers) that presents an expired session id: `'new-session'`
   * (default) issues a fresh session; `'session-lost'` answers MsgCode 1 as one public client reports
   * real servers doing until the stale id is dropped (spec §2.7).
   */
  staleSessionWithSignature?: 'new-session' | 'session-lost';
  /** Maximum rows per query (`WebAPIMaxQueryLimit`, default 10 000 since patch 23.11, spec §4.5). */
  maxQueryLimit?: number;
  /** Server time zone for dates (K3 answers local time without offset). Default 480 (UTC+8). */
  utcOffsetMinutes?: number;
}

/** Which requests a fault applies to; every listed condition must match. */
export interface K3FaultTrigger {
  /** Operation names as in the URL, case-insensitive: `Save`, `Audit`, `ExecuteBillQuery`, `LoginBySign`, … */
  operations?: string[];
  formIds?: string[];
  /** Fire for the next N matching requests, then switch off. Default: every matching request. */
  times?: number;
  /** Fire with this probability (0–1) per matching request. Default 1. */
  probability?: number;
}

export interface K3FaultSpec {
  /** Extra latency for every request (on top of `latencyMs`). */
  latencyMs?: number;
  /** Answer HTTP 500 with an IIS-like HTML page; nothing is executed. */
  http500?: K3FaultTrigger;
  /** Destroy the socket without answering; nothing is executed. */
  connectionReset?: K3FaultTrigger;
  /** Answer MsgCode 14 (调用限制); nothing is executed. */
  msgCode14?: K3FaultTrigger;
  /** Answer MsgCode 13 (网控冲突, edit lock); nothing is executed. */
  msgCode13?: K3FaultTrigger;
  /** Execute (and commit) the request, then destroy the socket without answering: a lost response. */
  dropResponseAfterCommit?: K3FaultTrigger;
  /** Answer `response_error:` + a KDException JSON; nothing is executed. */
  responseError?: K3FaultTrigger;
}

export interface K3EmulatorStats {
  /** Requests per operation (`Save`, `ExecuteBillQuery`, `ValidateUser`, …), including failed ones. */
  calls: Record<string, number>;
  /** Successful session logins (ValidateUser, LoginByAppSecret, LoginBySign). */
  logins: number;
  /** Sessions created for signature-mode requests (X-Kd-* headers without a known session). */
  signatureSessions: number;
  /** Records per form. */
  records: Record<string, number>;
  /** Faults fired, by kind. */
  faultsFired: Record<string, number>;
}

export interface K3CloudEmulator {
  /** Site root, ending in `/k3cloud/`, e.g. `http://127.0.0.1:8090/k3cloud/`. */
  readonly url: string;
  readonly port: number;
  stats(): K3EmulatorStats;
  resetStats(): void;
  setFaults(spec: K3FaultSpec): void;
  /** Expire every session: the next call with any of them answers MsgCode 1. */
  expireAllSessions(): number;
  /**
   * Stored records of a form as View would return them (`Result.Result` shape), for test assertions
   * and seeding checks.
   */
  listRecords(formId: string): Promise<Record<string, unknown>[]>;
  /**
   * When each record of a form was first saved (committed) by this emulator process, keyed by the value of
   * a header field — e.g. `savedTimes('BD_Customer', 'F_FXK_CrmId')` → CRM id → epoch ms. With several
   * records per value (base data allocated to other organisations) the earliest wins; records without a
   * value, and records that existed before this process started, are left out.
   */
  savedTimes(formId: string, keyField: string): Record<string, number>;
  /** Stop listening, flush data to disk, close open connections. */
  close(): Promise<void>;
}
