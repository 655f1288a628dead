/**
 * `npm run package` builds the deployable artifacts offline (osls + serverless-esbuild, fake credentials),
 * and the generated CloudFormation template has what a least-privilege, observable deployment needs. One
 * package run for the whole file.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { z } from 'zod';
import { STATE_TABLES } from '../../../lib/state/tables.ts';

const ROOT = new URL('../../../', import.meta.url).pathname;
const TEMPLATE = join(ROOT, '.serverless', 'cloudformation-template-update-stack.json');

const FUNCTIONS = [
  'FxiaokeWebhook',
  'AccountToCustomer',
  'SalesOrderToSaleOrder',
  'SaleOrderToDeliveryNotice',
  'PurchaseOrderToInStock',
  'DeliveryToFxiaoke',
  'CrmWriteBack',
] as const;

const templateSchema = z.object({
  Resources: z.record(z.string(), z.looseObject({ Type: z.string(), Properties: z.unknown().optional() })),
  Outputs: z.record(z.string(), z.unknown()).optional(),
});
type Template = z.output<typeof templateSchema>;

const statementSchema = z.looseObject({
  Effect: z.string(),
  Action: z.union([z.string(), z.array(z.string())]),
  Resource: z.unknown(),
});

/** Every IAM statement of a role (Fn::If-wrapped statements unwrapped; AWS::NoValue dropped). */
function statementsOf(role: unknown): z.output<typeof statementSchema>[] {
  const policies = z
    .object({
      Properties: z.object({
        Policies: z.array(z.object({ PolicyDocument: z.object({ Statement: z.array(z.unknown()) }) })),
      }),
    })
    .parse(role).Properties.Policies;
  return policies.flatMap((policy) =>
    policy.PolicyDocument.Statement.flatMap((raw) => {
      const conditional = z
        .object({ 'Fn::If': z.tuple([z.string(), z.unknown(), z.unknown()]) })
        .safeParse(raw);
      const candidates = conditional.success ? [conditional.data['Fn::If'][1]] : [raw];
      return candidates.flatMap((candidate) => {
        const parsed = statementSchema.safeParse(candidate);
        return parsed.success ? [parsed.data] : [];
      });
    }),
  );
}

function actionsOf(statement: z.output<typeof statementSchema>): string[] {
  return Array.isArray(statement.Action) ? statement.Action : [statement.Action];
}

function resourcesOf(statement: z.output<typeof statementSchema>): unknown[] {
  return Array.isArray(statement.Resource) ? statement.Resource : [statement.Resource];
}

describe('npm run package → CloudFormation template', () => {
  let template: Template;
  let resources: Template['Resources'];
  const ofType = (type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);

  before(() => {
    const run = spawnSync('npm', ['run', 'package'], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 240_000,
      env: {
        ...process.env,
        AWS_ACCESS_KEY_ID: 'AKIAFAKEFAKEFAKEFAKE',
        AWS_SECRET_ACCESS_KEY: 'fake-secret-for-offline-packaging',
        AWS_REGION: 'ap-east-1',
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
        STAGE: 'ci',
      },
    });
    assert.equal(run.status, 0, `npm run package failed:\n${run.stdout}\n${run.stderr}`);
    template = templateSchema.parse(JSON.parse(readFileSync(TEMPLATE, 'utf8')));
    resources = template.Resources;
  });

  it('has one Node.js 22 function per flow, each with its own role (no shared default role)', () => {
    const roles = new Set<string>();
    for (const name of FUNCTIONS) {
      const fn = z
        .object({
          Properties: z.object({
            Runtime: z.string(),
            Role: z.object({ 'Fn::GetAtt': z.tuple([z.string(), z.literal('Arn')]) }),
          }),
        })
        .parse(resources[`${name}LambdaFunction`]);
      assert.equal(fn.Properties.Runtime, 'nodejs22.x');
      const role = fn.Properties.Role['Fn::GetAtt'][0];
      assert.equal(resources[role]?.Type, 'AWS::IAM::Role');
      roles.add(role);
    }
    assert.equal(roles.size, FUNCTIONS.length, 'every function has a role of its own');
    assert.equal(resources.IamRoleLambdaExecution, undefined, 'no shared default role');
    assert.equal(ofType('AWS::Lambda::Function').length, FUNCTIONS.length);
  });

  it('grants data actions on named resources only — never "*"', () => {
    for (const [name, role] of ofType('AWS::IAM::Role')) {
      for (const statement of statementsOf(role)) {
        const actions = actionsOf(statement);
        assert.ok(!actions.includes('*'), `${name}: no wildcard action`);
        for (const resource of resourcesOf(statement)) {
          assert.notEqual(resource, '*', `${name}: ${actions.join(',')} on "*"`);
        }
      }
    }
    const webhook = statementsOf(resources.FxiaokeWebhookRole);
    const webhookActions = webhook.flatMap(actionsOf);
    assert.ok(!webhookActions.some((a) => a.startsWith('sqs:Receive')), 'the webhook cannot consume queues');
    assert.ok(!webhookActions.includes('dynamodb:DeleteItem'));
    // The sync log is written per SQS batch with BatchWriteItem (SyncLog.appendMany): every role that may
    // write it must be allowed both calls.
    for (const [name, role] of ofType('AWS::IAM::Role')) {
      for (const statement of statementsOf(role)) {
        if (!JSON.stringify(resourcesOf(statement)).includes('StateSyncLogTable')) continue;
        const actions = actionsOf(statement);
        if (!actions.includes('dynamodb:PutItem')) continue;
        assert.ok(actions.includes('dynamodb:BatchWriteItem'), `${name}: BatchWriteItem on the sync log`);
      }
    }
    const writeBack = statementsOf(resources.CrmWriteBackRole).flatMap(resourcesOf);
    assert.ok(
      !JSON.stringify(writeBack).includes('StateLinksTable'),
      'the write-back function cannot touch the links table',
    );
    const ssm = statementsOf(resources.AccountToCustomerRole).find((s) =>
      actionsOf(s).includes('ssm:GetParametersByPath'),
    );
    assert.match(
      JSON.stringify(ssm?.Resource),
      /parameter\/fxiaoke-k3cloud-sync\/ci\/\*/,
      'SSM limited to the stage path',
    );
  });

  it('has FIFO queues with dead-letter queues (redrive) and event sources reporting partial batch failures', () => {
    const queues = Object.fromEntries(ofType('AWS::SQS::Queue'));
    const mains = [
      'AccountToCustomerQueue',
      'SalesOrderToSaleOrderQueue',
      'SaleOrderToDeliveryNoticeQueue',
      'CrmWriteBackQueue',
    ];
    for (const name of mains) {
      const props = z
        .object({
          FifoQueue: z.literal(true),
          RedrivePolicy: z.object({
            deadLetterTargetArn: z.object({ 'Fn::GetAtt': z.tuple([z.string(), z.literal('Arn')]) }),
            maxReceiveCount: z.coerce.number(),
          }),
        })
        .parse(queues[name]?.Properties);
      const dlq = props.RedrivePolicy.deadLetterTargetArn['Fn::GetAtt'][0];
      assert.equal(z.object({ FifoQueue: z.literal(true) }).parse(queues[dlq]?.Properties).FifoQueue, true);
      assert.equal(props.RedrivePolicy.maxReceiveCount, 5);
    }
    const mappings = ofType('AWS::Lambda::EventSourceMapping').map(([, m]) =>
      z.object({ BatchSize: z.number(), FunctionResponseTypes: z.array(z.string()) }).parse(m.Properties),
    );
    assert.equal(mappings.length, 4);
    for (const mapping of mappings) {
      assert.deepEqual(mapping.FunctionResponseTypes, ['ReportBatchItemFailures']);
      assert.equal(mapping.BatchSize, 10);
    }
  });

  it('has the state tables from infra/dynamodb-tables.json, the HTTP route and the schedules', () => {
    for (const table of Object.values(STATE_TABLES)) {
      assert.equal(resources[table.logicalId]?.Type, 'AWS::DynamoDB::Table', table.logicalId);
    }
    const routes = ofType('AWS::ApiGatewayV2::Route').map(
      ([, r]) => z.object({ RouteKey: z.string() }).parse(r.Properties).RouteKey,
    );
    assert.deepEqual(routes, ['POST /webhooks/fxiaoke']);
    const schedules = ofType('AWS::Events::Rule').map(
      ([, r]) => z.object({ ScheduleExpression: z.string() }).parse(r.Properties).ScheduleExpression,
    );
    assert.deepEqual(schedules.sort(), ['rate(15 minutes)', 'rate(5 minutes)']);
  });

  it('has alarms on every DLQ and on every function’s error rate, sent to an SNS topic', () => {
    const alarms = ofType('AWS::CloudWatch::Alarm').map(([name, a]) => ({
      name,
      text: JSON.stringify(a.Properties),
    }));
    for (const dlq of [
      'AccountToCustomerDlq',
      'SalesOrderToSaleOrderDlq',
      'SaleOrderToDeliveryNoticeDlq',
      'CrmWriteBackDlq',
    ]) {
      assert.ok(
        alarms.some(
          (a) =>
            a.text.includes(`"${dlq}","QueueName"`) && a.text.includes('ApproximateNumberOfMessagesVisible'),
        ),
        `an alarm watches ${dlq}`,
      );
    }
    for (const name of FUNCTIONS) {
      assert.ok(
        alarms.some((a) => a.name === `${name}ErrorRateAlarm` && a.text.includes(`${name}LambdaFunction`)),
        `an error-rate alarm watches ${name}`,
      );
    }
    assert.ok(alarms.every((a) => a.text.includes('"AlarmActions":[{"Ref":"AlarmTopic"}]')));
    assert.equal(resources.AlarmTopic?.Type, 'AWS::SNS::Topic');
  });

  it('sets no secret in any environment and keeps logs for a bounded time', () => {
    for (const name of FUNCTIONS) {
      const env = z
        .object({
          Properties: z.object({ Environment: z.object({ Variables: z.record(z.string(), z.unknown()) }) }),
        })
        .parse(resources[`${name}LambdaFunction`]).Properties.Environment.Variables;
      assert.equal(env.SSM_PARAMETER_PREFIX, '/fxiaoke-k3cloud-sync/ci/');
      for (const table of Object.values(STATE_TABLES))
        assert.ok(env[table.env], `${name} knows ${table.env}`);
      assert.ok(env.SYNC_QUEUE_URL_CRM_WRITE_BACK);
      for (const key of Object.keys(env)) {
        assert.doesNotMatch(
          key,
          /SECRET|PASSWORD|AES_KEY|PERMANENT_CODE/,
          `${name}: ${key} must come from SSM`,
        );
      }
    }
    for (const [, group] of ofType('AWS::Logs::LogGroup')) {
      assert.equal(z.object({ RetentionInDays: z.number() }).parse(group.Properties).RetentionInDays, 30);
    }
  });
});
