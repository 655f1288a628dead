import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  type HttpGateway,
  replyFromResult,
  startHttpGateway,
} from '../../../infra/local/runtime/http-gateway.ts';
import { createInvoker, type FunctionInvoker } from '../../../infra/local/runtime/lambda/invoker.ts';
import { DEFAULT_QUEUE_SETTINGS } from '../../../infra/local/runtime/sqs/queue-engine.ts';
import { FAKE_CREDENTIALS, type LocalSqs, startLocalSqs } from './sqs-harness.ts';

const webhookModule = fileURLToPath(
  new URL('../../fixtures/local-runtime/handlers/webhook.ts', import.meta.url),
);

/** node:http directly: fetch hides repeated headers and cannot send two Cookie headers. */
function call(
  url: string,
  options: { method?: string; headers?: Record<string, string | string[]>; body?: Buffer | string } = {},
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      url,
      { method: options.method ?? 'GET', headers: options.headers ?? {} },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
        );
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

function json(body: Buffer): Record<string, unknown> {
  const value: unknown = JSON.parse(body.toString('utf8'));
  assert.ok(typeof value === 'object' && value !== null && !Array.isArray(value));
  return Object.fromEntries(Object.entries(value));
}

describe('HTTP gateway (API Gateway HTTP API, payload 2.0)', () => {
  let sqs: LocalSqs;
  let invoker: FunctionInvoker;
  let gateway: HttpGateway;

  before(async () => {
    sqs = await startLocalSqs();
    sqs.engine.createQueue('work.fifo', {
      ...DEFAULT_QUEUE_SETTINGS,
      fifo: true,
      contentBasedDeduplication: true,
    });
    invoker = createInvoker({
      fn: {
        name: 'fixture-webhook',
        modulePath: webhookModule,
        exportName: 'handler',
        memoryMb: 256,
        timeoutSec: 10,
      },
      env: {
        WORK_QUEUE_URL: sqs.engine.queueUrl('work.fifo'),
        AWS_ENDPOINT_URL_SQS: sqs.server.url,
        AWS_REGION: 'us-east-1',
        AWS_ACCESS_KEY_ID: FAKE_CREDENTIALS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: FAKE_CREDENTIALS.secretAccessKey,
        GREETING: 'ni hao',
      },
      region: 'us-east-1',
      accountId: '000000000000',
      isolation: 'worker',
    });
    const routes = [
      { method: 'POST', path: '/webhooks/fxiaoke', routeKey: 'POST /webhooks/fxiaoke' },
      { method: 'GET', path: '/items/{id}', routeKey: 'GET /items/{id}' },
      { method: '*', path: '/files/{proxy+}', routeKey: 'ANY /files/{proxy+}' },
      { method: 'GET', path: '/items/special', routeKey: 'GET /items/special' },
    ];
    gateway = await startHttpGateway({
      routes: routes.map((route) => ({ route, invoker })),
      port: 0,
      region: 'us-east-1',
      accountId: '000000000000',
    });
  });

  after(async () => {
    await gateway.close(0);
    await invoker.close();
    await sqs.close();
  });

  it('runs the webhook handler, which queues the body through the real SQS client; the reply keeps status, headers, cookies', async () => {
    const res = await call(`${gateway.url}/webhooks/fxiaoke`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'x1', group: 'AccountObj:1' }),
    });
    assert.equal(res.status, 202);
    assert.equal(res.headers['x-fixture'], 'yes');
    assert.deepEqual(res.headers['set-cookie'], ['a=1; Path=/', 'b=2; Path=/']);
    assert.match(String(res.headers['apigw-requestid']), /^[0-9a-f-]{36}$/);
    const body = json(res.body);
    assert.equal(body.greeting, 'ni hao');
    const [queued] = sqs.engine.receiveNow('work.fifo', { maxMessages: 1 });
    assert.equal(queued?.message.messageId, body.queued);
    assert.equal(queued?.message.groupId, 'AccountObj:1');
  });

  it('builds the payload 2.0 event: raw path and query, decoded parameters, lower-cased joined headers, cookies', async () => {
    const res = await call(`${gateway.url}/items/abc%20d?mode=echo&x=1&x=2`, {
      headers: { 'X-Custom': ['a', 'b'], Cookie: 'c1=v1; c2=v2', 'User-Agent': 'fixture-agent' },
    });
    assert.equal(res.status, 200);
    const event = json(res.body);
    assert.equal(event.version, '2.0');
    assert.equal(event.routeKey, 'GET /items/{id}');
    assert.equal(event.rawPath, '/items/abc%20d');
    assert.equal(event.rawQueryString, 'mode=echo&x=1&x=2');
    assert.deepEqual(event.pathParameters, { id: 'abc d' });
    assert.deepEqual(event.queryStringParameters, { mode: 'echo', x: '1,2' });
    assert.deepEqual(event.cookies, ['c1=v1', 'c2=v2']);
    const headers = json(Buffer.from(JSON.stringify(event.headers)));
    assert.equal(headers['x-custom'], 'a,b');
    assert.equal(headers.cookie, undefined);
    assert.equal(event.isBase64Encoded, false);
    assert.equal(event.body, undefined);
    const context = json(Buffer.from(JSON.stringify(event.requestContext)));
    assert.equal(context.routeKey, 'GET /items/{id}');
    assert.equal(context.stage, '$default');
    assert.equal(context.accountId, '000000000000');
    assert.equal(typeof context.timeEpoch, 'number');
    assert.match(String(context.time), /^\d\d\/[A-Z][a-z]{2}\/\d{4}:\d\d:\d\d:\d\d \+0000$/);
    assert.deepEqual(context.http, {
      method: 'GET',
      path: '/items/abc%20d',
      protocol: 'HTTP/1.1',
      sourceIp: '127.0.0.1',
      userAgent: 'fixture-agent',
    });
    assert.equal(res.headers['apigw-requestid'], context.requestId);
  });

  it('prefers the exact route, and base64-encodes binary bodies on a greedy ANY route', async () => {
    const special = await call(`${gateway.url}/items/special?mode=echo`);
    assert.equal(json(special.body).routeKey, 'GET /items/special');
    const res = await call(`${gateway.url}/files/a/b%2Fc?mode=echo`, {
      method: 'PUT',
      headers: { 'content-type': 'application/octet-stream' },
      body: Buffer.from([0, 1, 2, 255]),
    });
    const event = json(res.body);
    assert.equal(event.routeKey, 'ANY /files/{proxy+}');
    assert.deepEqual(event.pathParameters, { proxy: 'a/b/c' });
    assert.equal(event.isBase64Encoded, true);
    assert.equal(event.body, Buffer.from([0, 1, 2, 255]).toString('base64'));
  });

  it('answers 500 {"message":"Internal Server Error"} when the handler throws, without leaking the error', async () => {
    const res = await call(`${gateway.url}/items/x?mode=throw`);
    assert.equal(res.status, 500);
    assert.deepEqual(json(res.body), { message: 'Internal Server Error' });
    assert.doesNotMatch(res.body.toString(), /should-not-leak/);
  });

  it('turns a bare string into a 200 application/json reply, and decodes base64 results', async () => {
    const text = await call(`${gateway.url}/items/x?mode=string`);
    assert.equal(text.status, 200);
    assert.equal(text.headers['content-type'], 'application/json');
    assert.equal(text.body.toString(), 'plain text answer');
    const binary = await call(`${gateway.url}/items/x?mode=binary`);
    assert.deepEqual([...binary.body], [0, 1, 2, 255]);
  });

  it('answers 404 for unknown paths and methods, and 413 above 10 MB', async () => {
    const missing = await call(`${gateway.url}/nothing`);
    assert.equal(missing.status, 404);
    assert.deepEqual(json(missing.body), { message: 'Not Found' });
    assert.equal((await call(`${gateway.url}/webhooks/fxiaoke`)).status, 404, 'GET on a POST route');
    const big = await call(`${gateway.url}/webhooks/fxiaoke`, {
      method: 'POST',
      body: Buffer.alloc(10 * 1024 * 1024 + 1),
    });
    assert.equal(big.status, 413);
  });
});

describe('replyFromResult', () => {
  it('maps proxy results and infers 200 JSON for anything else', () => {
    assert.deepEqual(replyFromResult({ statusCode: 204 })?.status, 204);
    const inferred = replyFromResult({ ok: true });
    assert.equal(inferred?.status, 200);
    assert.equal(inferred?.body.toString(), '{"ok":true}');
    assert.equal(replyFromResult(null)?.body.toString(), 'null');
  });

  it('rejects malformed proxy results (API Gateway answers 500)', () => {
    assert.equal(replyFromResult({ statusCode: '200' }), undefined);
    assert.equal(replyFromResult({ statusCode: 200, body: { not: 'a string' } }), undefined);
    assert.equal(replyFromResult({ statusCode: 200, headers: { x: { nested: true } } }), undefined);
  });
});
