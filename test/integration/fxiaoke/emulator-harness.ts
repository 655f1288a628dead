/**
 * Integration harness: the project's Fxiaoke emulator on a free loopback port, a manual clock shared by
 * the emulator and the client (so token ages and rate windows move without waiting), and clients for both
 * auth conventions.
 */
import type { FxiaokeEmulator, FxiaokeEmulatorOptions } from '../../../infra/local/fxiaoke-emulator/api.ts';
import { startFxiaokeEmulator } from '../../../infra/local/fxiaoke-emulator/server.ts';
import { InMemoryCredentialStore } from '../../../lib/credentials.ts';
import type { FxiaokeClientOptions, FxiaokeClientSettings } from '../../../lib/fxiaoke/client.ts';
import { FxiaokeClient } from '../../../lib/fxiaoke/client.ts';
import type { FxiaokeAuthFlow } from '../../../lib/fxiaoke/config.ts';
import { FXIAOKE_SANDBOX_IDENTITY } from '../../../lib/fxiaoke/config.ts';
import type { FxiaokeCredential } from '../../../lib/fxiaoke/token.ts';

/** 2026-11-23 10:00:00 China time. */
export const T0 = Date.UTC(2026, 10, 23, 2, 0, 0);

export interface ManualClock {
  now: () => number;
  advance: (ms: number) => void;
  set: (ms: number) => void;
}

export function manualClock(start = T0): ManualClock {
  let current = start;
  return {
    now: () => current,
    advance: (ms) => {
      current += ms;
    },
    set: (ms) => {
      current = ms;
    },
  };
}

export const IDENTITY = {
  appId: FXIAOKE_SANDBOX_IDENTITY.FXIAOKE_APP_ID,
  appSecret: FXIAOKE_SANDBOX_IDENTITY.FXIAOKE_APP_SECRET,
  permanentCode: FXIAOKE_SANDBOX_IDENTITY.FXIAOKE_PERMANENT_CODE,
  openUserId: FXIAOKE_SANDBOX_IDENTITY.FXIAOKE_OPEN_USER_ID,
  aesKey: FXIAOKE_SANDBOX_IDENTITY.FXIAOKE_AES_KEY,
  enterpriseAccount: FXIAOKE_SANDBOX_IDENTITY.FXIAOKE_ENTERPRISE_ACCOUNT,
};

/** The emulator with test-friendly defaults: manual clock, no seed data, no limits unless asked. */
export function startEmulator(
  clock: ManualClock,
  options: FxiaokeEmulatorOptions = {},
): Promise<FxiaokeEmulator> {
  return startFxiaokeEmulator({
    port: 0,
    identity: IDENTITY,
    seed: false,
    rateLimit: false,
    clock: clock.now,
    ...options,
  });
}

export function settingsFor(
  emulator: FxiaokeEmulator,
  flow: FxiaokeAuthFlow,
  overrides: Partial<FxiaokeClientSettings> = {},
): FxiaokeClientSettings {
  return {
    baseUrl: emulator.url,
    authFlow: flow,
    appId: IDENTITY.appId,
    appSecret: IDENTITY.appSecret,
    permanentCode: IDENTITY.permanentCode,
    // legacy: the admin's openUserId; oauth2: the admin's employee id (员工ID)
    openUserId: flow === 'legacy' ? IDENTITY.openUserId : '1000',
    rateLimit: { calls: 100, windowMs: 20_000 },
    timeoutMs: 10_000,
    ...overrides,
  };
}

/** A client on the shared clock; its limiters' sleeps advance that clock instead of waiting. */
export function clientFor(
  emulator: FxiaokeEmulator,
  flow: FxiaokeAuthFlow,
  clock: ManualClock,
  options: FxiaokeClientOptions = {},
  settings: Partial<FxiaokeClientSettings> = {},
): FxiaokeClient {
  return new FxiaokeClient(settingsFor(emulator, flow, settings), {
    clock: clock.now,
    sleep: async (ms) => {
      clock.advance(ms);
    },
    credentialStore: new InMemoryCredentialStore<FxiaokeCredential>(clock.now),
    ...options,
  });
}

/** Calls per path since the last `resetStats`. */
export function callsTo(emulator: FxiaokeEmulator, path: string): number {
  return emulator.stats().calls[path] ?? 0;
}
