/**
 * `fxk3 … --stage <s>`: the AWS mode finds everything by serverless.yml's naming conventions alone — tables
 * `fxiaoke-k3cloud-sync-<s>-<table>`, queues `fxiaoke-k3cloud-sync-<s>-<flow>.fifo` by `GetQueueUrl` (their
 * DLQs by the redrive policy), settings and secrets under the SSM path `/fxiaoke-k3cloud-sync/<s>/` — here
 * served by dynalite, the local SQS service and a fake SSM endpoint through the SDK's standard
 * `AWS_ENDPOINT_URL_<SERVICE>` variables, with both emulators behind the settings.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { z } from 'zod';
import { runCli } from '../../../cli/main.ts';
import type { FxiaokeEmulator } from '../../../infra/local/fxiaoke-emulator/api.ts';
import { startFxiaokeEmulator } from '../../../infra/local/fxiaoke-emulator/server.ts';
import type { K3CloudEmulator } from '../../../infra/local/k3cloud-emulator/api.ts';
import { startK3CloudEmulator } from '../../../infra/local/k3cloud-emulator/server.ts';
import { DEFAULT_QUEUE_SETTINGS, QueueEngine } from '../../../infra/local/runtime/sqs/queue-engine.ts';
import { type SqsServer, startSqsServer } from '../../../infra/local/runtime/sqs/sqs-server.ts';
import { FXIAOKE_SANDBOX_IDENTITY } from '../../../lib/fxiaoke/config.ts';
import { K3CLOUD_SANDBOX_IDENTITY } from '../../../lib/k3cloud/config.ts';
import { createStateTables } from '../../../lib/state/tables.ts';
import { FAKE_AWS, type StartedDynamo, startDynamo } from '../../support/dynamodb.ts';
import { type FakeSsm, startTestSsm } from '../../support/ssm.ts';
import { dryRunSchema, jsonOf } from './support.ts';

const STAGE = 'ci7';
const SERVICE = 'fxiaoke-k3cloud-sync';
const FLOWS = [
  'account-to-customer',
  'sales-order-to-sale-order',
  'sale-order-to-delivery-notice',
  'crm-write-back',
];
const EXAMPLE_CONFIG = new URL('../../../config/sync.example.yaml', import.meta.url).pathname;

describe('fxk3 --stage (AWS naming conventions)', () => {
  let dynamo: StartedDynamo;
  let engine: QueueEngine;
  let sqs: SqsServer;
  let ssm: FakeSsm;
  let k3: K3CloudEmulator;
  let fx: FxiaokeEmulator;

  before(async () => {
    dynamo = await startDynamo({ engine: 'dynalite' });
    await createStateTables(dynamo.client, { prefix: `${SERVICE}-${STAGE}` });
    engine = new QueueEngine({ region: FAKE_AWS.region });
    sqs = await startSqsServer({ engine });
    for (const flow of FLOWS) {
      const dlq = `${SERVICE}-${STAGE}-${flow}-dlq.fifo`;
      engine.createQueue(dlq, { ...DEFAULT_QUEUE_SETTINGS, fifo: true });
      engine.createQueue(`${SERVICE}-${STAGE}-${flow}.fifo`, {
        ...DEFAULT_QUEUE_SETTINGS,
        fifo: true,
        redrivePolicy: { deadLetterTargetArn: engine.queueArn(dlq), maxReceiveCount: 5 },
      });
    }
    k3 = await startK3CloudEmulator({
      port: 0,
      identity: {
        acctId: K3CLOUD_SANDBOX_IDENTITY.K3CLOUD_ACCT_ID,
        username: K3CLOUD_SANDBOX_IDENTITY.K3CLOUD_USERNAME,
        appId: K3CLOUD_SANDBOX_IDENTITY.K3CLOUD_APP_ID,
        appSecret: K3CLOUD_SANDBOX_IDENTITY.K3CLOUD_APP_SECRET,
        password: K3CLOUD_SANDBOX_IDENTITY.K3CLOUD_PASSWORD,
      },
    });
    fx = await startFxiaokeEmulator({ port: 0 });
    // What an operator puts under the stage's SSM path (docs/deploy.md), secrets included.
    const prefix = `/${SERVICE}/${STAGE}/`;
    ssm = await startTestSsm(
      Object.fromEntries(
        Object.entries({
          ...K3CLOUD_SANDBOX_IDENTITY,
          ...FXIAOKE_SANDBOX_IDENTITY,
          K3CLOUD_SERVER_URL: k3.url,
          K3CLOUD_AUTH_MODE: 'signature',
          FXIAOKE_BASE_URL: fx.url,
          SYNC_CONFIG_PATH: EXAMPLE_CONFIG,
        }).map(([name, value]) => [`${prefix}${name}`, value]),
      ),
    );
  });
  after(async () => {
    await fx?.close();
    await k3?.close();
    await ssm?.close();
    await sqs?.close();
    engine?.close();
    await dynamo?.close();
  });

  async function cli(argv: string[]) {
    let stdout = '';
    let stderr = '';
    const code = await runCli(argv, {
      stdout: (text) => {
        stdout += text;
      },
      stderr: (text) => {
        stderr += text;
      },
      env: {
        AWS_ENDPOINT_URL_SQS: sqs.url,
        AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
        AWS_ENDPOINT_URL_SSM: ssm.url,
        AWS_ACCESS_KEY_ID: FAKE_AWS.credentials.accessKeyId,
        AWS_SECRET_ACCESS_KEY: FAKE_AWS.credentials.secretAccessKey,
      },
    });
    return { code, stdout, stderr };
  }

  it('status: tables, queues, DLQs and SSM settings found by the stage name; healthy', async () => {
    const run = await cli(['status', '--stage', STAGE, '--region', FAKE_AWS.region, '--json']);
    assert.equal(run.code, 0, run.stdout + run.stderr);
    const doc = jsonOf(
      run,
      z.object({
        healthy: z.boolean(),
        deployment: z.object({ kind: z.string(), label: z.string(), stage: z.string() }).loose(),
        checks: z.array(z.object({ id: z.string(), level: z.string(), detail: z.string() })),
        queues: z.array(
          z.object({
            flow: z.string(),
            queue: z.object({ name: z.string() }).loose(),
            deadLetterQueue: z.object({ name: z.string() }).loose(),
          }),
        ),
      }),
    );
    assert.equal(doc.healthy, true);
    assert.deepEqual([doc.deployment.kind, doc.deployment.stage], ['aws', STAGE]);
    assert.match(doc.deployment.label, new RegExp(`CloudFormation stack ${SERVICE}-${STAGE}`));
    assert.deepEqual(
      doc.queues.map((q) => [q.queue.name, q.deadLetterQueue.name]),
      FLOWS.map((flow) => [`${SERVICE}-${STAGE}-${flow}.fifo`, `${SERVICE}-${STAGE}-${flow}-dlq.fifo`]),
    );
    assert.match(doc.checks.find((c) => c.id === 'settings')?.detail ?? '', /sync\.example\.yaml/);
  });

  it('dry-run through the stage’s settings (read from SSM)', async () => {
    const [account] = (await fx.listRecords('AccountObj')).map((a) => String(a._id));
    assert.ok(account);
    const run = await cli(['dry-run', 'AccountObj', account, '--stage', STAGE, '--json']);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(jsonOf(run, dryRunSchema).k3Requests[0]?.operation, 'Save');
  });

  it('a stage that is not deployed: the missing queue named, exit code 1', async () => {
    const run = await cli(['status', '--stage', 'nosuch', '--region', FAKE_AWS.region]);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /fxiaoke-k3cloud-sync-nosuch-account-to-customer\.fifo/);
    assert.match(run.stderr, /is stage "nosuch" deployed/);
    assert.match(run.stderr, /SQS_QUEUE_NOT_FOUND/);
    assert.doesNotMatch(run.stderr, /\n\s+at /, 'no stack trace');
  });
});
