/**
 * The whole sync on loopback, for the flow and function tests: both emulators (with their demo data),
 * DynamoDB (dynalite, the project's tables), the local runtime's SQS service (real SQS JSON protocol, FIFO,
 * visibility, redrive; on a manual clock), an HTTP front that turns the Fxiaoke emulator's change pushes into
 * API Gateway v2 events for the webhook handler, and the real handlers from `functions/` driven with real
 * SQS event shapes. The handlers build their own AWS SDK clients from `AWS_ENDPOINT_URL_SQS` /
 * `AWS_ENDPOINT_URL_DYNAMODB`, exactly as in Lambda.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type {
  APIGatewayProxyEventV2,
  APIGatewayProxyStructuredResultV2,
  SQSBatchResponse,
  SQSEvent,
  SQSRecord,
} from 'aws-lambda';
import { parse, stringify } from 'yaml';
import { handler as accountHandler } from '../../../functions/account-to-customer.ts';
import { handler as writeBackHandler } from '../../../functions/crm-write-back.ts';
import { handler as deliveryHandler } from '../../../functions/delivery-to-fxiaoke.ts';
import { handler as webhookHandler } from '../../../functions/fxiaoke-webhook.ts';
import { handler as purchaseHandler } from '../../../functions/purchase-order-to-in-stock.ts';
import { handler as noticeHandler } from '../../../functions/sale-order-to-delivery-notice.ts';
import { handler as orderHandler } from '../../../functions/sales-order-to-sale-order.ts';
import type { FxiaokeEmulator, FxiaokeEmulatorOptions } from '../../../infra/local/fxiaoke-emulator/api.ts';
import { startFxiaokeEmulator } from '../../../infra/local/fxiaoke-emulator/server.ts';
import type { K3CloudEmulator } from '../../../infra/local/k3cloud-emulator/api.ts';
import { startK3CloudEmulator } from '../../../infra/local/k3cloud-emulator/server.ts';
import { ManualClock } from '../../../infra/local/runtime/clock.ts';
import {
  DEFAULT_QUEUE_SETTINGS,
  QueueEngine,
  type ReceivedMessage,
} from '../../../infra/local/runtime/sqs/queue-engine.ts';
import { type SqsServer, startSqsServer } from '../../../infra/local/runtime/sqs/sqs-server.ts';
import { toLambdaRecord } from '../../../infra/local/runtime/sqs-event-source.ts';
import { FXIAOKE_SANDBOX_IDENTITY } from '../../../lib/fxiaoke/config.ts';
import { buildPushRequest } from '../../../lib/fxiaoke/push-crypto.ts';
import { K3CloudClient } from '../../../lib/k3cloud/client.ts';
import { K3CLOUD_SANDBOX_IDENTITY, readK3CloudConfig } from '../../../lib/k3cloud/config.ts';
import type { K3QueryRow } from '../../../lib/k3cloud/operations.ts';
import { createLogger } from '../../../lib/log.ts';
import { STATE_TABLES, type StateTableNames, type SyncLogEntry } from '../../../lib/state/index.ts';
import type { QueueRole } from '../../../lib/sync/queues.ts';
import { configureRuntime, getRuntime, resetRuntime, type SyncRuntime } from '../../../lib/sync/runtime.ts';
import type { RunSummary } from '../../../lib/sync/scheduled.ts';
import { createTestTables, FAKE_AWS, type StartedDynamo, startDynamo } from '../../support/dynamodb.ts';

export const EXAMPLE_CONFIG_PATH = new URL('../../../config/sync.example.yaml', import.meta.url).pathname;

/** The example config as plain data, to change for one test and write with {@link SyncStackOptions.config}. */
export function exampleConfigData(): Record<string, unknown> {
  const data: unknown = parse(readFileSync(EXAMPLE_CONFIG_PATH, 'utf8'));
  if (typeof data !== 'object' || data === null || Array.isArray(data)) throw new Error('example config');
  return { ...data };
}

export interface SyncStackOptions {
  /** The mapping config (plain data, written as YAML); default: `config/sync.example.yaml`. */
  config?: Record<string, unknown>;
  /** Default `signature` (no logins); `password` counts logins. */
  k3AuthMode?: 'signature' | 'password';
  /** Default 3, so retry tests reach the DLQ quickly. */
  maxReceiveCount?: number;
  fxiaoke?: Omit<FxiaokeEmulatorOptions, 'port' | 'identity'>;
  /** Extra environment for the handlers. */
  env?: Record<string, string>;
}

export interface PumpResult {
  batches: number;
  messages: number;
  failed: number;
}

const QUEUES: Readonly<Record<QueueRole, string>> = {
  accountToCustomer: 'test-account-to-customer.fifo',
  salesOrderToSaleOrder: 'test-sales-order-to-sale-order.fifo',
  saleOrderToDeliveryNotice: 'test-sale-order-to-delivery-notice.fifo',
  crmWriteBack: 'test-crm-write-back.fifo',
};

const QUEUE_ENV: Readonly<Record<QueueRole, string>> = {
  accountToCustomer: 'SYNC_QUEUE_URL_ACCOUNT_TO_CUSTOMER',
  salesOrderToSaleOrder: 'SYNC_QUEUE_URL_SALES_ORDER_TO_SALE_ORDER',
  saleOrderToDeliveryNotice: 'SYNC_QUEUE_URL_SALE_ORDER_TO_DELIVERY_NOTICE',
  crmWriteBack: 'SYNC_QUEUE_URL_CRM_WRITE_BACK',
};

type QueueLambda = (event: SQSEvent) => Promise<SQSBatchResponse>;

const QUEUE_HANDLERS: Readonly<Record<QueueRole, QueueLambda>> = {
  accountToCustomer: accountHandler,
  salesOrderToSaleOrder: orderHandler,
  saleOrderToDeliveryNotice: noticeHandler,
  crmWriteBack: writeBackHandler,
};

/** An API Gateway HTTP API (payload 2.0) event for `POST /webhooks/fxiaoke`. */
export function webhookEvent(
  body: string,
  options: { headers?: Record<string, string>; method?: string; isBase64Encoded?: boolean } = {},
): APIGatewayProxyEventV2 {
  const method = options.method ?? 'POST';
  const now = Date.now();
  return {
    version: '2.0',
    routeKey: 'POST /webhooks/fxiaoke',
    rawPath: '/webhooks/fxiaoke',
    rawQueryString: '',
    headers: { 'content-type': 'application/json', ...options.headers },
    requestContext: {
      accountId: '000000000000',
      apiId: 'local',
      domainName: '127.0.0.1',
      domainPrefix: 'local',
      http: {
        method,
        path: '/webhooks/fxiaoke',
        protocol: 'HTTP/1.1',
        sourceIp: '127.0.0.1',
        userAgent: 'test',
      },
      requestId: `req-${now}-${Math.random().toString(16).slice(2)}`,
      routeKey: 'POST /webhooks/fxiaoke',
      stage: '$default',
      time: new Date(now).toISOString(),
      timeEpoch: now,
    },
    body,
    isBase64Encoded: options.isBase64Encoded ?? false,
  };
}

/** A signed, encrypted platform push for a record (as Fxiaoke sends it), as the webhook's raw body. */
export function pushBody(
  apiName: string,
  dataId: string,
  options: { messageId?: string; timestamp?: number; retryTimes?: number; aesKey?: string } = {},
): string {
  const timestamp = options.timestamp ?? Date.now();
  return JSON.stringify(
    buildPushRequest(
      {
        tenantId: 590163,
        eventType: 'update',
        apiName,
        dataId,
        timestamp,
        messageId:
          options.messageId ?? `MSG${timestamp}${Math.random().toString(16).slice(2, 12).toUpperCase()}`,
      },
      {
        aesKey: options.aesKey ?? FXIAOKE_SANDBOX_IDENTITY.FXIAOKE_AES_KEY,
        enterpriseAccount: FXIAOKE_SANDBOX_IDENTITY.FXIAOKE_ENTERPRISE_ACCOUNT,
        timestamp,
        ...(options.retryTimes === undefined ? {} : { retryTimes: options.retryTimes }),
      },
    ),
  );
}

export class SyncStack {
  readonly dynamo: StartedDynamo;
  readonly tables: StateTableNames;
  readonly fx: FxiaokeEmulator;
  readonly k3: K3CloudEmulator;
  readonly sqsClock: ManualClock;
  readonly sqsEngine: QueueEngine;
  readonly sqs: SqsServer;
  readonly env: Record<string, string>;
  /** Every log line the handlers wrote (JSON), for assertions about what operators see. */
  readonly logs: string[];
  readonly #webhookServer: Server;
  readonly #tmp: string;
  #k3Client: K3CloudClient | undefined;
  /** Added to the handlers' clock: moves claims and leases past their expiry without waiting. */
  clockOffsetMs = 0;

  private constructor(parts: {
    dynamo: StartedDynamo;
    tables: StateTableNames;
    fx: FxiaokeEmulator;
    k3: K3CloudEmulator;
    sqsClock: ManualClock;
    sqsEngine: QueueEngine;
    sqs: SqsServer;
    env: Record<string, string>;
    logs: string[];
    webhookServer: Server;
    tmp: string;
  }) {
    this.dynamo = parts.dynamo;
    this.tables = parts.tables;
    this.fx = parts.fx;
    this.k3 = parts.k3;
    this.sqsClock = parts.sqsClock;
    this.sqsEngine = parts.sqsEngine;
    this.sqs = parts.sqs;
    this.env = parts.env;
    this.logs = parts.logs;
    this.#webhookServer = parts.webhookServer;
    this.#tmp = parts.tmp;
  }

  /** Start everything; `close()` stops it. One stack per test file at a time (the runtime is per process). */
  static async start(options: SyncStackOptions = {}): Promise<SyncStack> {
    const tmp = mkdtempSync(join(tmpdir(), 'fxk3-sync-'));
    const dynamo = await startDynamo({ engine: 'dynalite' });
    const tables = await createTestTables(dynamo.client);
    const fx = await startFxiaokeEmulator({
      port: 0,
      identity: {
        appId: FXIAOKE_SANDBOX_IDENTITY.FXIAOKE_APP_ID,
        appSecret: FXIAOKE_SANDBOX_IDENTITY.FXIAOKE_APP_SECRET,
        permanentCode: FXIAOKE_SANDBOX_IDENTITY.FXIAOKE_PERMANENT_CODE,
        openUserId: FXIAOKE_SANDBOX_IDENTITY.FXIAOKE_OPEN_USER_ID,
        aesKey: FXIAOKE_SANDBOX_IDENTITY.FXIAOKE_AES_KEY,
        enterpriseAccount: FXIAOKE_SANDBOX_IDENTITY.FXIAOKE_ENTERPRISE_ACCOUNT,
      },
      pushRetryDelaysMs: [50, 200],
      ...options.fxiaoke,
    });
    const k3 = await startK3CloudEmulator({
      port: 0,
      identity: {
        acctId: K3CLOUD_SANDBOX_IDENTITY.K3CLOUD_ACCT_ID,
        username: K3CLOUD_SANDBOX_IDENTITY.K3CLOUD_USERNAME,
        appId: K3CLOUD_SANDBOX_IDENTITY.K3CLOUD_APP_ID,
        appSecret: K3CLOUD_SANDBOX_IDENTITY.K3CLOUD_APP_SECRET,
        password: K3CLOUD_SANDBOX_IDENTITY.K3CLOUD_PASSWORD,
      },
    });
    const sqsClock = new ManualClock(Date.now());
    const sqsEngine = new QueueEngine({ clock: sqsClock, region: FAKE_AWS.region });
    const sqs = await startSqsServer({ engine: sqsEngine });
    const maxReceiveCount = options.maxReceiveCount ?? 3;
    for (const name of Object.values(QUEUES)) {
      const dlq = name.replace('.fifo', '-dlq.fifo');
      sqsEngine.createQueue(dlq, { ...DEFAULT_QUEUE_SETTINGS, fifo: true });
      sqsEngine.createQueue(name, {
        ...DEFAULT_QUEUE_SETTINGS,
        fifo: true,
        deduplicationScope: 'messageGroup',
        fifoThroughputLimit: 'perMessageGroupId',
        visibilityTimeoutSec: 720,
        redrivePolicy: { deadLetterTargetArn: sqsEngine.queueArn(dlq), maxReceiveCount },
      });
    }
    const configPath = join(tmp, 'sync.yaml');
    writeFileSync(configPath, options.config ? stringify(options.config) : readFileSync(EXAMPLE_CONFIG_PATH));

    // The AWS SDK clients the handlers build read these from the process environment, as in Lambda.
    process.env.AWS_ENDPOINT_URL_SQS = sqs.url;
    process.env.AWS_ENDPOINT_URL_DYNAMODB = dynamo.endpoint;
    process.env.AWS_REGION = FAKE_AWS.region;
    process.env.AWS_ACCESS_KEY_ID = FAKE_AWS.credentials.accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY = FAKE_AWS.credentials.secretAccessKey;
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

    const env: Record<string, string> = {
      [STATE_TABLES.coordination.env]: tables.coordination,
      [STATE_TABLES.inbox.env]: tables.inbox,
      [STATE_TABLES.links.env]: tables.links,
      [STATE_TABLES.syncLog.env]: tables.syncLog,
      SYNC_CONFIG_PATH: configPath,
      SYNC_SANDBOX: 'true',
      K3CLOUD_SERVER_URL: k3.url,
      K3CLOUD_AUTH_MODE: options.k3AuthMode ?? 'signature',
      FXIAOKE_BASE_URL: fx.url,
      SYNC_MAX_RECEIVE_COUNT: String(maxReceiveCount),
      SYNC_RETRY_BASE_DELAY_MS: '10000',
      ...Object.fromEntries(
        (Object.keys(QUEUES) as QueueRole[]).map((role) => [
          QUEUE_ENV[role],
          sqsEngine.queueUrl(QUEUES[role]),
        ]),
      ),
      ...options.env,
    };
    const logs: string[] = [];

    // The HTTP front for the emulator's change pushes (what API Gateway does in AWS).
    const webhookServer = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const headers: Record<string, string> = {};
        for (const [key, value] of Object.entries(request.headers)) {
          if (value !== undefined)
            headers[key.toLowerCase()] = Array.isArray(value) ? value.join(',') : value;
        }
        void webhookHandler(
          webhookEvent(Buffer.concat(chunks).toString('utf8'), { headers, method: request.method ?? 'POST' }),
        ).then((reply: APIGatewayProxyStructuredResultV2) => {
          response.writeHead(reply.statusCode ?? 200, reply.headers as Record<string, string>);
          response.end(reply.body ?? '');
        });
      });
    });
    await new Promise<void>((resolve) => webhookServer.listen(0, '127.0.0.1', resolve));
    const address = webhookServer.address();
    const port = typeof address === 'object' && address !== null ? address.port : 0;
    fx.setCallbackUrls([`http://127.0.0.1:${port}/webhooks/fxiaoke`]);
    const stack = new SyncStack({
      dynamo,
      tables,
      fx,
      k3,
      sqsClock,
      sqsEngine,
      sqs,
      env,
      logs,
      webhookServer,
      tmp,
    });
    await stack.reconfigure({});
    return stack;
  }

  /** The runtime the handlers use (same process). */
  async runtime(): Promise<SyncRuntime> {
    return await getRuntime();
  }

  queueName(role: QueueRole): string {
    return QUEUES[role];
  }

  /** Visible / in-flight counts of a queue and of its DLQ. */
  counts(role: QueueRole): { visible: number; inFlight: number; deadLetters: number } {
    const main = this.sqsEngine.counts(QUEUES[role]);
    const dlq = this.sqsEngine.counts(QUEUES[role].replace('.fifo', '-dlq.fifo'));
    return { visible: main.visible, inFlight: main.inFlight, deadLetters: dlq.visible + dlq.inFlight };
  }

  /**
   * Run a queue's real handler over every visible message, like Lambda's event source: batches of 10,
   * `concurrency` batches at a time, messages not reported in `batchItemFailures` deleted, a thrown batch
   * left to its visibility timeout. Stops when nothing is visible (failed messages wait for their backoff;
   * move `sqsClock` forward to retry them).
   */
  async pump(
    role: QueueRole,
    options: { concurrency?: number; maxRounds?: number } = {},
  ): Promise<PumpResult> {
    const name = QUEUES[role];
    const handler = QUEUE_HANDLERS[role];
    const result: PumpResult = { batches: 0, messages: 0, failed: 0 };
    for (let round = 0; round < (options.maxRounds ?? 10_000); round += 1) {
      const batches = [];
      for (let i = 0; i < (options.concurrency ?? 1); i += 1) {
        const received = this.sqsEngine.receiveNow(name, { maxMessages: 10 });
        if (received.length === 0) break;
        batches.push(received);
      }
      if (batches.length === 0) break;
      await Promise.all(
        batches.map(async (received) => {
          const event: SQSEvent = {
            Records: received.map((r) =>
              lambdaRecord(r, this.sqsEngine.queueArn(name), this.sqsEngine.region),
            ),
          };
          let failed: Set<string>;
          try {
            const response = await handler(event);
            failed = new Set(response.batchItemFailures.map((f) => f.itemIdentifier));
          } catch {
            failed = new Set(received.map((r) => r.message.messageId));
          }
          result.batches += 1;
          result.messages += received.length;
          result.failed += failed.size;
          for (const r of received) {
            if (!failed.has(r.message.messageId)) this.sqsEngine.delete(name, r.receiptHandle);
          }
        }),
      );
    }
    return result;
  }

  /** Wait for the emulator's pushes to reach the webhook, then pump the event queues and follow-ups. */
  async settle(options: { writeBacks?: boolean } = {}): Promise<void> {
    await this.fx.pushesSettled();
    await this.pump('accountToCustomer');
    await this.pump('salesOrderToSaleOrder');
    await this.pump('saleOrderToDeliveryNotice');
    if (options.writeBacks ?? true) await this.pump('crmWriteBack');
  }

  /** Call the webhook handler with a push body. */
  async push(
    body: string,
    options: Parameters<typeof webhookEvent>[1] = {},
  ): Promise<APIGatewayProxyStructuredResultV2> {
    return await webhookHandler(webhookEvent(body, options));
  }

  async runPurchaseOrders(event: unknown = scheduledEvent()): Promise<RunSummary> {
    return await purchaseHandler(event);
  }

  async runDeliveries(event: unknown = scheduledEvent()): Promise<RunSummary> {
    return await deliveryHandler(event);
  }

  /** Rows of an ExecuteBillQuery against the K3 emulator (a client of its own, for assertions). */
  async k3Rows(formId: string, fieldKeys: string[], filterString = ''): Promise<K3QueryRow[]> {
    return await this.k3Client().queryAll({ formId, fieldKeys, filterString });
  }

  /** Re-point the handlers at other settings (a new runtime is built on the next invocation). */
  async reconfigure(overrides: Record<string, string>): Promise<void> {
    Object.assign(this.env, overrides);
    await configureRuntime({
      env: this.env,
      logger: createLogger({ level: 'info', write: (line) => this.logs.push(line) }),
      clock: () => Date.now() + this.clockOffsetMs,
    });
  }

  /** A K3Cloud client of the test's own (assertions, ERP-side steps such as shipping an order). */
  k3Client(): K3CloudClient {
    this.#k3Client ??= new K3CloudClient({
      config: readK3CloudConfig({ K3CLOUD_SERVER_URL: this.k3.url }, { sandbox: true }),
    });
    return this.#k3Client;
  }

  /** A new audited purchase order in the ERP (what a buyer does in K3): its FID and bill number. */
  async auditedPurchaseOrder(quantity: number): Promise<{ id: string; number: string }> {
    const k3 = this.k3Client();
    const saved = await k3.save({
      formId: 'PUR_PurchaseOrder',
      model: {
        FID: 0,
        FBillTypeID: { FNUMBER: 'CGDD01_SYS' },
        FDate: '2026-11-20',
        FSupplierId: { FNumber: 'VEN00002' },
        FPurchaseOrgId: { FNumber: '100' },
        FPOOrderFinance: { FSettleCurrId: { FNumber: 'PRE001' } },
        FPOOrderEntry: [
          {
            FMaterialId: { FNumber: 'WL0002' },
            FUnitId: { FNumber: 'Pcs' },
            FQty: quantity,
            FTaxPrice: 90.4,
            FEntryTaxRate: 13,
          },
        ],
      },
    });
    await k3.submit({ formId: 'PUR_PurchaseOrder', ids: [saved.id] });
    await k3.audit({ formId: 'PUR_PurchaseOrder', ids: [saved.id] });
    if (!saved.number) throw new Error('the K3Cloud emulator saved a purchase order without a bill number');
    return { id: saved.id, number: saved.number };
  }

  /** Switch the handlers to another mapping config (plain data). */
  async useConfig(config: Record<string, unknown>): Promise<void> {
    const path = join(this.#tmp, `sync-${Date.now()}-${Math.random().toString(16).slice(2)}.yaml`);
    writeFileSync(path, stringify(config));
    await this.reconfigure({ SYNC_CONFIG_PATH: path });
  }

  /** Log lines (parsed) whose event is `event`. */
  logEvents(event: string): Record<string, unknown>[] {
    return this.logs.flatMap((line) => {
      const parsed: unknown = JSON.parse(line);
      return typeof parsed === 'object' && parsed !== null && Reflect.get(parsed, 'event') === event
        ? [{ ...parsed }]
        : [];
    });
  }

  /** Every sync-log entry of one source record, oldest first. */
  async syncLog(system: 'crm' | 'erp', type: string, id: string): Promise<SyncLogEntry[]> {
    const runtime = await this.runtime();
    const page = await runtime.state.syncLog.listByRecord(
      { system, type, id },
      { limit: 200, newestFirst: false },
    );
    return page.entries;
  }

  async close(): Promise<void> {
    await this.#k3Client?.close();
    await resetRuntime();
    await new Promise<void>((resolve) => {
      this.#webhookServer.closeAllConnections();
      this.#webhookServer.close(() => resolve());
    });
    await this.fx.close();
    await this.k3.close();
    await this.sqs.close();
    this.sqsEngine.close();
    await this.dynamo.close();
    rmSync(this.#tmp, { recursive: true, force: true });
  }
}

/** Lambda's SQS record (the local runtime's shape, typed as @types/aws-lambda's). */
function lambdaRecord(received: ReceivedMessage, queueArn: string, region: string): SQSRecord {
  const record = toLambdaRecord(received, queueArn, region);
  const a = record.attributes;
  return {
    ...record,
    attributes: {
      ApproximateReceiveCount: a.ApproximateReceiveCount ?? '1',
      SentTimestamp: a.SentTimestamp ?? '0',
      SenderId: a.SenderId ?? '',
      ApproximateFirstReceiveTimestamp: a.ApproximateFirstReceiveTimestamp ?? '0',
      ...(a.MessageGroupId === undefined ? {} : { MessageGroupId: a.MessageGroupId }),
      ...(a.MessageDeduplicationId === undefined ? {} : { MessageDeduplicationId: a.MessageDeduplicationId }),
      ...(a.SequenceNumber === undefined ? {} : { SequenceNumber: a.SequenceNumber }),
    },
  };
}

/** An EventBridge scheduled event. */
export function scheduledEvent(): Record<string, unknown> {
  return {
    version: '0',
    id: 'cdc73f9d-aea9-11e3-9d5a-835b769c0d9c',
    'detail-type': 'Scheduled Event',
    source: 'aws.events',
    account: '000000000000',
    time: new Date().toISOString(),
    region: FAKE_AWS.region,
    resources: ['arn:aws:events:us-east-1:000000000000:rule/test'],
    detail: {},
  };
}
