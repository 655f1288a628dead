/**
 * The local stack's SSM Parameter Store endpoint (`infra/local/runtime/fake-ssm.ts` — SSM has no local
 * engine; toolchain facts §2), started for a test with plain `name → value` parameters, all SecureString as
 * an operator stores secrets (docs/deploy.md). One fake for the stack and the tests, so both speak the same
 * protocol: AWS JSON 1.1, paging, `WithDecryption`, SSM's error types.
 *
 * ```ts
 * const ssm = await startTestSsm({ '/app/dev/K3CLOUD_APP_SECRET': 'fake-secret' });
 * process.env.AWS_ENDPOINT_URL_SSM = ssm.url;
 * ssm.put({ name: '/app/dev/K3CLOUD_APP_SECRET', value: 'rotated', type: 'SecureString' }); // a rotation
 * await ssm.close();
 * ```
 */
import { type FakeSsm, startFakeSsm } from '../../infra/local/runtime/fake-ssm.ts';

export type { FakeSsm };

/** Start the endpoint on 127.0.0.1 (free port) with `parameters` as SecureStrings. */
export async function startTestSsm(parameters: Record<string, string> = {}): Promise<FakeSsm> {
  return await startFakeSsm({
    parameters: Object.entries(parameters).map(([name, value]) => ({ name, value, type: 'SecureString' })),
  });
}
