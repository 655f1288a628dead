import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  DeleteParameterCommand,
  GetParameterCommand,
  GetParametersByPathCommand,
  GetParametersCommand,
  ParameterAlreadyExists,
  ParameterNotFound,
  PutParameterCommand,
  SSMClient,
} from '@aws-sdk/client-ssm';
import { type FakeSsm, startFakeSsm } from '../../../infra/local/runtime/fake-ssm.ts';
import { FAKE_CREDENTIALS } from './sqs-harness.ts';

describe('fake SSM endpoint through @aws-sdk/client-ssm', () => {
  let ssm: FakeSsm;
  let client: SSMClient;

  before(async () => {
    const parameters = [
      {
        name: '/svc/local/K3CLOUD_APP_SECRET',
        value: 'app-secret-value-fake',
        type: 'SecureString' as const,
      },
      { name: '/svc/local/K3CLOUD_ACCT_ID', value: '5f1a2b3c4d5e6f' },
      { name: '/svc/local/nested/DEEP', value: 'deep' },
      ...Array.from({ length: 12 }, (_, i) => ({
        name: `/svc/local/P${String(i).padStart(2, '0')}`,
        value: String(i),
      })),
    ];
    ssm = await startFakeSsm({ parameters, region: 'ap-east-1' });
    client = new SSMClient({ endpoint: ssm.url, region: 'ap-east-1', credentials: FAKE_CREDENTIALS });
  });
  after(async () => {
    client.destroy();
    await ssm.close();
  });

  it('GetParameter decrypts SecureStrings only when asked', async () => {
    const plain = await client.send(
      new GetParameterCommand({ Name: '/svc/local/K3CLOUD_APP_SECRET', WithDecryption: true }),
    );
    assert.equal(plain.Parameter?.Value, 'app-secret-value-fake');
    assert.equal(plain.Parameter?.Type, 'SecureString');
    assert.equal(
      plain.Parameter?.ARN,
      'arn:aws:ssm:ap-east-1:000000000000:parameter/svc/local/K3CLOUD_APP_SECRET',
    );
    assert.ok(plain.Parameter?.LastModifiedDate instanceof Date);
    const cipher = await client.send(new GetParameterCommand({ Name: '/svc/local/K3CLOUD_APP_SECRET' }));
    assert.notEqual(cipher.Parameter?.Value, 'app-secret-value-fake');
    await assert.rejects(
      client.send(new GetParameterCommand({ Name: '/svc/local/NOPE' })),
      ParameterNotFound,
    );
  });

  it('GetParametersByPath pages through a recursive listing and keeps nested names out of a flat one', async () => {
    const names: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const page = await client.send(
        new GetParametersByPathCommand({
          Path: '/svc/local/',
          Recursive: true,
          WithDecryption: true,
          MaxResults: 10,
          NextToken: token,
        }),
      );
      pages++;
      for (const p of page.Parameters ?? []) names.push(p.Name ?? '');
      token = page.NextToken;
    } while (token);
    assert.equal(pages, 2);
    assert.equal(names.length, 15);
    assert.ok(names.includes('/svc/local/nested/DEEP'));
    const flat = await client.send(new GetParametersByPathCommand({ Path: '/svc/local', MaxResults: 10 }));
    assert.ok(!(flat.Parameters ?? []).some((p) => p.Name === '/svc/local/nested/DEEP'));
  });

  it('GetParameters reports unknown names as invalid', async () => {
    const out = await client.send(
      new GetParametersCommand({ Names: ['/svc/local/K3CLOUD_ACCT_ID', '/svc/local/NOPE'] }),
    );
    assert.deepEqual(
      out.Parameters?.map((p) => p.Value),
      ['5f1a2b3c4d5e6f'],
    );
    assert.deepEqual(out.InvalidParameters, ['/svc/local/NOPE']);
  });

  it('PutParameter creates versions, refuses to overwrite unless told, DeleteParameter removes', async () => {
    const created = await client.send(
      new PutParameterCommand({ Name: '/svc/local/NEW', Value: 'a', Type: 'String' }),
    );
    assert.equal(created.Version, 1);
    await assert.rejects(
      client.send(new PutParameterCommand({ Name: '/svc/local/NEW', Value: 'b' })),
      ParameterAlreadyExists,
    );
    const updated = await client.send(
      new PutParameterCommand({ Name: '/svc/local/NEW', Value: 'b', Overwrite: true }),
    );
    assert.equal(updated.Version, 2);
    const read = await client.send(new GetParameterCommand({ Name: '/svc/local/NEW:2' }));
    assert.equal(read.Parameter?.Value, 'b');
    await client.send(new DeleteParameterCommand({ Name: '/svc/local/NEW' }));
    await assert.rejects(client.send(new GetParameterCommand({ Name: '/svc/local/NEW' })), ParameterNotFound);
  });
});
