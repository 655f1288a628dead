// biome-ignore-all lint/suspicious/noTemplateCurlyInString: serverless.yml variables and Fn::Sub placeholders are the subject of these tests
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ServerlessConfigError } from '../../../infra/local/runtime/errors.ts';
import {
  readStackDefinition,
  type StackDefinition,
} from '../../../infra/local/runtime/serverless/stack-definition.ts';

const fixture = fileURLToPath(new URL('../../fixtures/local-runtime/serverless.yml', import.meta.url));
const handlersDir = fileURLToPath(new URL('../../fixtures/local-runtime/handlers/', import.meta.url));
const SQS = 'http://127.0.0.1:9999';

function read(env: Record<string, string> = {}, stage?: string): StackDefinition {
  return readStackDefinition({ path: fixture, env, sqsEndpoint: SQS, ...(stage ? { stage } : {}) });
}

function fn(stack: StackDefinition, key: string) {
  const found = stack.functions.find((f) => f.key === key);
  assert.ok(found, `function ${key}`);
  return found;
}

describe('readStackDefinition', () => {
  describe('on the fixture service', () => {
    const stack = read({ FIXTURE_REGION: 'cn-north-1' });

    it('resolves service, stage (provider default), region from env and the stack name', () => {
      assert.equal(stack.service, 'fixture-sync');
      assert.equal(stack.stage, 'dev');
      assert.equal(stack.region, 'cn-north-1');
      assert.equal(stack.stackName, 'fixture-sync-dev');
    });

    it('an explicit stage wins and flows into every name', () => {
      const local = read({}, 'local');
      assert.equal(local.stackName, 'fixture-sync-local');
      assert.equal(local.region, 'ap-east-1', 'the quoted default applies without FIXTURE_REGION');
      assert.deepEqual(
        local.queues.map((q) => q.name),
        ['fixture-sync-local-work.fifo', 'fixture-sync-local-work-dlq.fifo'],
      );
      assert.equal(fn(local, 'worker').name, 'fixture-sync-local-worker');
    });

    it('resolves stage parameters (${param:…}) per stage, with the default as fallback', () => {
      const visibility = (stage: string) =>
        read({}, stage).queues.find((q) => q.logicalId === 'WorkQueue')?.settings.visibilityTimeoutSec;
      assert.equal(visibility('local'), 30);
      assert.equal(visibility('prod'), 60);
    });

    it('resolves the environment: Ref/GetAtt/Sub of tables and queues, self/file/env variables, escapes', () => {
      const env = fn(stack, 'webhook').environment;
      assert.equal(env.STATE_TABLE_COORDINATION, 'fixture-sync-dev-coordination');
      assert.equal(env.STATE_TABLE_LINKS, 'fixture-sync-dev-links');
      assert.equal(env.WORK_QUEUE_URL, `${SQS}/000000000000/fixture-sync-dev-work.fifo`);
      assert.equal(env.GREETING, 'ni hao');
      assert.equal(env.SSM_PARAMETER_PREFIX, '/fixture-sync/dev/');
      assert.equal(env.LINKS_ARN, 'arn:aws:dynamodb:cn-north-1:000000000000:table/fixture-sync-dev-links');
      assert.equal(
        env.LINKS_INDEX_ARN,
        'arn:aws:dynamodb:cn-north-1:000000000000:table/fixture-sync-dev-links/index/*',
      );
      assert.equal(env.ESCAPED, 'literal ${NotAVariable} in cn-north-1');
      assert.equal(env.WORKER_ONLY, undefined, 'function environments do not leak into each other');
      assert.equal(fn(stack, 'worker').environment.WORKER_ONLY, 'off');
      assert.equal(fn(stack, 'worker').environment.GREETING, 'ni hao', 'provider environment is inherited');
    });

    it('reads handlers, timeouts and defaults', () => {
      const webhook = fn(stack, 'webhook');
      assert.equal(webhook.modulePath, join(handlersDir, 'webhook.ts'));
      assert.equal(webhook.exportName, 'handler');
      assert.equal(webhook.timeoutSec, 10, 'provider.timeout');
      assert.equal(fn(stack, 'worker').timeoutSec, 5);
      assert.equal(webhook.memoryMb, 1024);
      assert.equal(webhook.maximumRetryAttempts, 2);
    });

    it('reads httpApi routes with their route keys', () => {
      assert.deepEqual(
        fn(stack, 'webhook').httpRoutes.map((r) => r.routeKey),
        ['POST /webhooks/fxiaoke', 'GET /items/{id}', 'ANY /files/{proxy+}'],
      );
    });

    it('reads the SQS trigger and the queues with their redrive policy', () => {
      assert.deepEqual(fn(stack, 'worker').sqsTriggers, [
        {
          queueName: 'fixture-sync-dev-work.fifo',
          queueArn: 'arn:aws:sqs:cn-north-1:000000000000:fixture-sync-dev-work.fifo',
          batchSize: 5,
          maximumBatchingWindowSec: 0,
          reportBatchItemFailures: true,
          maximumConcurrency: 3,
          enabled: true,
        },
      ]);
      const work = stack.queues.find((q) => q.logicalId === 'WorkQueue');
      assert.equal(work?.settings.fifo, true);
      assert.equal(work?.settings.contentBasedDeduplication, true);
      assert.equal(work?.settings.visibilityTimeoutSec, 30);
      assert.deepEqual(work?.settings.redrivePolicy, {
        deadLetterTargetArn: 'arn:aws:sqs:cn-north-1:000000000000:fixture-sync-dev-work-dlq.fifo',
        maxReceiveCount: 3,
      });
      assert.equal(
        stack.queues.find((q) => q.logicalId === 'WorkDeadLetterQueue')?.settings.messageRetentionSec,
        1_209_600,
      );
    });

    it('reads schedules (rate, cron list with input)', () => {
      const schedules = fn(stack, 'poller').schedules;
      assert.deepEqual(
        schedules.map((s) => [s.expression.text, s.input]),
        [
          ['rate(5 minutes)', undefined],
          ['cron(0 2 * * ? *)', { mode: 'nightly' }],
        ],
      );
    });

    it('reads the shared state tables from infra/dynamodb-tables.json', () => {
      assert.deepEqual(
        stack.tables.map((t) => t.name),
        [
          'fixture-sync-dev-coordination',
          'fixture-sync-dev-inbox',
          'fixture-sync-dev-links',
          'fixture-sync-dev-sync-log',
        ],
      );
      const links = stack.tables.find((t) => t.logicalId === 'StateLinksTable');
      assert.deepEqual(
        links?.input.GlobalSecondaryIndexes?.map((g) => g.IndexName),
        ['byCrm', 'byErpId', 'byErpNumber'],
      );
    });
  });

  describe('constructs it cannot interpret fail with their location', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fxk3-sls-'));
    after(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'h.ts'), 'export const handler = async () => 1;\n');

    function readText(text: string, env: Record<string, string> = {}): StackDefinition {
      const path = join(dir, 'serverless.yml');
      writeFileSync(path, text);
      return readStackDefinition({ path, env, sqsEndpoint: SQS });
    }

    function rejects(text: string, code: string, location: RegExp, message?: RegExp) {
      assert.throws(
        () => readText(text),
        (error: unknown) => {
          assert.ok(error instanceof ServerlessConfigError, String(error));
          assert.equal(error.code, code);
          assert.match(error.location, location);
          if (message) assert.match(error.message, message);
          return true;
        },
      );
    }

    const base = (body: string) => `service: s\nprovider:\n  name: aws\n${body}`;

    it('REST API (http) events', () => {
      rejects(
        base('functions:\n  f:\n    handler: h.handler\n    events:\n      - http: GET /x\n'),
        'LOCAL_SERVERLESS_UNSUPPORTED',
        /^functions\.f\.events\[0\]\.http$/,
        /"http" events cannot run locally/,
      );
    });

    it('${ssm:} variables', () => {
      rejects(
        base('  environment:\n    SECRET: ${ssm:/s/dev/secret}\nfunctions: {}\n'),
        'LOCAL_SERVERLESS_UNSUPPORTED',
        /^provider\.environment\.SECRET$/,
        /needs AWS/,
      );
    });

    it('an env variable without value or default, and an unquoted default', () => {
      rejects(
        base('  environment:\n    X: ${env:FXK3_SURELY_UNSET_VAR}\nfunctions: {}\n'),
        'LOCAL_SERVERLESS_INVALID',
        /X$/,
        /no fallback/,
      );
      rejects(
        base('  environment:\n    X: ${env:FXK3_SURELY_UNSET_VAR, dev}\nfunctions: {}\n'),
        'LOCAL_SERVERLESS_INVALID',
        /X$/,
        /must be quoted/,
      );
      const ok = readText(
        base(
          '  environment:\n    X: ${env:FXK3_SURELY_UNSET_VAR, ${self:custom.y}}\ncustom:\n  y: fallback\nfunctions: {}\n',
        ),
      );
      assert.equal(ok.functions.length, 0);
    });

    it('a Ref to a resource that does not exist, and Fn::If', () => {
      rejects(
        base('functions:\n  f:\n    handler: h.handler\n    environment:\n      Q: !Ref Missing\n'),
        'LOCAL_SERVERLESS_INVALID',
        /^functions\.f\.environment\.Q\.Ref$/,
        /Missing/,
      );
      rejects(
        base('functions:\n  f:\n    handler: h.handler\n    environment:\n      Q: !If [c, a, b]\n'),
        'LOCAL_SERVERLESS_UNSUPPORTED',
        /Fn::If$/,
      );
    });

    it('circular self references', () => {
      rejects(
        base('custom:\n  a: ${self:custom.b}\n  b: ${self:custom.a}\nfunctions: {}\n'),
        'LOCAL_SERVERLESS_INVALID',
        /custom/,
        /circular/,
      );
    });

    it('schedule expressions AWS would reject', () => {
      rejects(
        base('functions:\n  f:\n    handler: h.handler\n    events:\n      - schedule: rate(1 minutes)\n'),
        'LOCAL_SERVERLESS_INVALID',
        /schedule\.rate$/,
        /AWS requires "minute"/,
      );
      rejects(
        base('functions:\n  f:\n    handler: h.handler\n    events:\n      - schedule: cron(0 12 * * * *)\n'),
        'LOCAL_SERVERLESS_INVALID',
        /schedule\.rate$/,
        /exactly one of day-of-month and day-of-week/,
      );
    });

    it('a handler module that does not exist, and an SQS trigger on an undefined queue', () => {
      rejects(
        base('functions:\n  f:\n    handler: nothere.handler\n'),
        'LOCAL_SERVERLESS_INVALID',
        /handler$/,
        /nothere\.ts/,
      );
      rejects(
        base(
          'functions:\n  f:\n    handler: h.handler\n    events:\n      - sqs: arn:aws:sqs:us-east-1:1:elsewhere\n',
        ),
        'LOCAL_SERVERLESS_INVALID',
        /sqs\.arn$/,
        /not defined/,
      );
    });

    it('broken YAML names the line', () => {
      rejects(
        'service: s\nfunctions:\n  f: [unclosed\n',
        'LOCAL_SERVERLESS_UNREADABLE',
        /serverless\.yml$/,
        /line/,
      );
    });
  });
});

describe('readStackDefinition on the project serverless.yml', () => {
  const project = fileURLToPath(new URL('../../../serverless.yml', import.meta.url));
  const stack = readStackDefinition({ path: project, env: {}, sqsEndpoint: SQS, stage: 'local' });

  it('finds every function with a handler module that exists, and wires the webhook route', () => {
    assert.ok(stack.functions.length >= 2);
    for (const f of stack.functions) assert.match(f.modulePath, /\/functions\/[a-z-]+\.ts$/);
    const routes = stack.functions.flatMap((f) => f.httpRoutes.map((r) => r.routeKey));
    assert.ok(routes.includes('POST /webhooks/fxiaoke'));
  });

  it('gives every SQS-triggered function a FIFO queue with a dead-letter queue, as the cloud has', () => {
    const triggers = stack.functions.flatMap((f) => f.sqsTriggers);
    assert.ok(triggers.length > 0);
    for (const trigger of triggers) {
      const queue = stack.queues.find((q) => q.name === trigger.queueName);
      assert.ok(queue?.settings.fifo, `${trigger.queueName} is FIFO`);
      assert.ok(queue?.settings.redrivePolicy, `${trigger.queueName} has a redrive policy`);
      assert.ok(trigger.reportBatchItemFailures, `${trigger.queueName} reports batch item failures`);
    }
  });

  it('resolves every environment value (queue URLs on the local endpoint, state tables by stack name)', () => {
    for (const f of stack.functions) {
      for (const [name, value] of Object.entries(f.environment)) {
        assert.doesNotMatch(value, /\$\{(self|sls|opt|env|param|file)[:(]/, `${f.key}.${name} is resolved`);
        if (name.startsWith('SYNC_QUEUE_URL_'))
          assert.ok(value.startsWith(`${SQS}/000000000000/`), `${name}=${value}`);
      }
      assert.equal(f.environment.STATE_TABLE_LINKS, `${stack.stackName}-links`);
    }
    assert.deepEqual(stack.tables.map((t) => t.logicalId).sort(), [
      'StateCoordinationTable',
      'StateInboxTable',
      'StateLinksTable',
      'StateSyncLogTable',
    ]);
  });
});
