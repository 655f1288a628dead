/**
 * Settings and secrets from SSM Parameter Store (fake SSM endpoint, JSON 1.1 through the real SDK client):
 * read at run time under the stage's prefix, merged over the environment, cached per container with an
 * expiry (a rotated secret is picked up), and a bad mapping config held in SSM fails the cold start with the
 * exact path of the bad key.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { FXIAOKE_SANDBOX_IDENTITY } from '../../../lib/fxiaoke/config.ts';
import { K3CLOUD_SANDBOX_IDENTITY } from '../../../lib/k3cloud/config.ts';
import { type FakeSsm, startTestSsm } from '../../support/ssm.ts';
import { exampleConfigData, pushBody, SyncStack } from '../sync/harness.ts';

const PREFIX = '/fxiaoke-k3cloud-sync/test/';
const ROTATED_AES_KEY = Buffer.alloc(32, 42).toString('base64');

describe('settings from SSM Parameter Store', () => {
  let stack: SyncStack;
  let ssm: FakeSsm;

  before(async () => {
    stack = await SyncStack.start();
    ssm = await startTestSsm({
      ...Object.fromEntries(Object.entries(FXIAOKE_SANDBOX_IDENTITY).map(([k, v]) => [`${PREFIX}${k}`, v])),
      ...Object.fromEntries(Object.entries(K3CLOUD_SANDBOX_IDENTITY).map(([k, v]) => [`${PREFIX}${k}`, v])),
      [`${PREFIX}config/sync.yaml`]: stringify(exampleConfigData()),
      '/another-app/test/FXIAOKE_AES_KEY': 'must-not-be-read',
    });
    process.env.AWS_ENDPOINT_URL_SSM = ssm.url;
    // Only the non-secret wiring stays in the environment (as serverless.yml sets it); no sandbox defaults.
    await stack.reconfigure({
      SYNC_SANDBOX: 'false',
      SSM_PARAMETER_PREFIX: PREFIX,
      SSM_CACHE_TTL_MS: '60000',
      SYNC_CONFIG_SSM_PARAMETER: `${PREFIX}config/sync.yaml`,
      SYNC_CONFIG_PATH: '',
    });
  });
  after(async () => {
    await stack?.close();
    await ssm?.close();
  });

  it('the webhook and a flow run with the secrets read from SSM; one SSM read per cache period', async () => {
    const reads = () => ssm.calls('GetParametersByPath');
    const { dataId } = await stack.fx.edit({
      apiName: 'AccountObj',
      fields: { name: '威海海洋科技有限公司' },
    });
    await stack.settle();
    const customers = await stack.k3Rows('BD_Customer', ['FNumber'], `F_FXK_CrmId = '${dataId}'`);
    assert.equal(customers.length, 3, 'created and allocated with K3/Fxiaoke credentials from SSM');
    assert.equal(reads(), 2, 'one load (two pages of 10 parameters) serves every invocation of the period');
    assert.equal((await stack.push(pushBody('AccountObj', 'acc-cached'))).statusCode, 200);
    assert.equal(reads(), 2, 'still cached');
    assert.ok(ssm.calls('GetParameter') > 0, 'the mapping config came from SSM');
    const logs = stack.logs.join('\n');
    assert.ok(!logs.includes(K3CLOUD_SANDBOX_IDENTITY.K3CLOUD_APP_SECRET), 'no secret in the logs');
    assert.ok(!logs.includes(FXIAOKE_SANDBOX_IDENTITY.FXIAOKE_APP_SECRET), 'no secret in the logs');
  });

  it('a rotated secret is used once the cache period has passed', async () => {
    ssm.put({ name: `${PREFIX}FXIAOKE_AES_KEY`, value: ROTATED_AES_KEY, type: 'SecureString' });
    const withOldKey = pushBody('AccountObj', 'acc-rot-1');
    assert.equal((await stack.push(withOldKey)).statusCode, 200, 'within the cache period the old key holds');
    stack.clockOffsetMs += 61_000;
    assert.equal((await stack.push(pushBody('AccountObj', 'acc-rot-2'))).statusCode, 401, 'old key refused');
    const withNewKey = pushBody('AccountObj', 'acc-rot-3', { aesKey: ROTATED_AES_KEY });
    assert.equal((await stack.push(withNewKey)).statusCode, 200, 'new key accepted');
    ssm.put({
      name: `${PREFIX}FXIAOKE_AES_KEY`,
      value: FXIAOKE_SANDBOX_IDENTITY.FXIAOKE_AES_KEY,
      type: 'SecureString',
    });
    stack.clockOffsetMs += 61_000;
  });

  it('a bad mapping config in SSM fails the cold start with the exact path of the bad key', async () => {
    const bad = exampleConfigData();
    const flows = bad.flows as Record<string, Record<string, unknown>>;
    const fields = flows.accountToCustomer?.fields as Record<string, unknown>;
    fields.FName = { from: 'name', maxLenght: 80 };
    ssm.put({ name: `${PREFIX}config/bad.yaml`, value: stringify(bad), type: 'SecureString' });
    await stack.reconfigure({ SYNC_CONFIG_SSM_PARAMETER: `${PREFIX}config/bad.yaml` });
    try {
      const reply = await stack.push(pushBody('AccountObj', 'acc-cfg-1'));
      assert.equal(reply.statusCode, 500);
      const failure = stack.logEvents('sync.runtime.failed').at(-1);
      assert.match(JSON.stringify(failure), /flows\.accountToCustomer\.fields\.FName\.maxLenght/);
      assert.match(JSON.stringify(failure), /ssm:\/fxiaoke-k3cloud-sync\/test\/config\/bad\.yaml/);
    } finally {
      await stack.reconfigure({ SYNC_CONFIG_SSM_PARAMETER: `${PREFIX}config/sync.yaml` });
    }
  });
});
