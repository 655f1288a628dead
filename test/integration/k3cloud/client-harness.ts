/**
 * Shared set-up of the K3Cloud client integration tests: the project's emulator on a loopback port and
 * clients wired to capture their log lines and call events. No mocks: every call is real HTTP.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { K3CloudEmulator, K3CloudEmulatorOptions } from '../../../infra/local/k3cloud-emulator/api.ts';
import { startK3CloudEmulator } from '../../../infra/local/k3cloud-emulator/server.ts';
import { InMemoryCredentialStore } from '../../../lib/credentials.ts';
import { type K3CallEvent, K3CloudClient, type K3CloudClientOptions } from '../../../lib/k3cloud/client.ts';
import { type K3AuthMode, readK3CloudConfig } from '../../../lib/k3cloud/config.ts';
import { K3CloudError } from '../../../lib/k3cloud/errors.ts';
import type { K3SessionCredential } from '../../../lib/k3cloud/session.ts';
import { createLogger } from '../../../lib/log.ts';

export const AUTH_MODES: readonly K3AuthMode[] = ['signature', 'login-by-sign', 'app-secret', 'password'];

/** The emulator with the sandbox identity, on a free port, seeded with the demo company. */
export function startEmulator(options: K3CloudEmulatorOptions = {}): Promise<K3CloudEmulator> {
  return startK3CloudEmulator({ port: 0, ...options });
}

export interface TestClient {
  client: K3CloudClient;
  store: InMemoryCredentialStore<K3SessionCredential>;
  /** Every JSON log line the client wrote (debug level). */
  logs: string[];
  events: K3CallEvent[];
}

/**
 * A client for `emulatorUrl` in `mode`, with the sandbox identity unless `env` overrides it.
 * Read retries do not wait (`sleep` resolves at once); nothing else is faked.
 */
export function clientFor(
  emulatorUrl: string,
  mode: K3AuthMode,
  env: Record<string, string> = {},
  options: Partial<K3CloudClientOptions> = {},
): TestClient {
  const config = readK3CloudConfig(
    { K3CLOUD_SERVER_URL: emulatorUrl, K3CLOUD_AUTH_MODE: mode, K3CLOUD_TIMEOUT_MS: '5000', ...env },
    { sandbox: true },
  );
  const logs: string[] = [];
  const events: K3CallEvent[] = [];
  const store = new InMemoryCredentialStore<K3SessionCredential>();
  const client = new K3CloudClient({
    config,
    credentialStore: store,
    logger: createLogger({ level: 'debug', write: (line) => logs.push(line) }),
    onCall: (event) => events.push(event),
    sleep: async () => {},
    ...options,
  });
  return { client, store, logs, events };
}

/** Await `promise`, expecting a K3CloudError, and return it. */
export async function rejection(promise: Promise<unknown>): Promise<K3CloudError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof K3CloudError) return error;
    throw new Error(`expected a K3CloudError, got ${String(error)}`, { cause: error });
  }
  throw new Error('expected the call to fail');
}

let customerSerial = 0;

/** A minimal new BD_Customer Model with a unique number. */
export function newCustomer(prefix = 'IT'): { number: string; model: Record<string, unknown> } {
  customerSerial += 1;
  const number = `${prefix}${process.pid}-${customerSerial}`;
  return {
    number,
    model: {
      FCUSTID: 0,
      FNumber: number,
      FName: `集成测试客户 ${number}`,
      FCreateOrgId: { FNumber: '100' },
      FUseOrgId: { FNumber: '100' },
    },
  };
}

/** How many stored records of `formId` carry `number`. */
export async function countByNumber(
  emulator: K3CloudEmulator,
  formId: string,
  number: string,
): Promise<number> {
  const records = await emulator.listRecords(formId);
  return records.filter((record) => record.Number === number || record.BillNo === number).length;
}

/**
 * A raw HTTP server for transport cases the emulator cannot produce (HTML/non-JSON with HTTP 200, WAF
 * JSON). It knows nothing about K3Cloud semantics; it answers every request with `respond`.
 */
export async function startRawServer(
  respond: (request: IncomingMessage, response: ServerResponse) => void,
): Promise<{ url: string; server: Server; requests: number; close: () => Promise<void> }> {
  const state = { requests: 0 };
  const server = createServer((request, response) => {
    state.requests += 1;
    request.resume();
    request.on('end', () => respond(request, response));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/k3cloud/`,
    server,
    get requests() {
      return state.requests;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
