/**
 * The ingress: Fxiaoke's change push (or the APL variant) → the owning flow's FIFO queue, answered fast.
 *
 * Primary course of one request (API Gateway HTTP API, payload 2.0):
 * 1. Take the raw body (decode API Gateway's base64); refuse oversized bodies before decoding.
 * 2. Verify and decrypt with `receiveFxiaokePush` (never throws): forged or undecryptable → 401, malformed
 *    → 400, oversized → 413, wrong method → 405 — none of them reaches a queue.
 * 3. Route by apiName from the mapping config; an object no enabled flow maps is acknowledged and logged
 *    as ignored.
 * 4. Record the event in the inbox by messageId: a redelivery of an event already done is acknowledged
 *    and not queued again; an event still in `received` (`unqueued`) is queued again.
 * 5. Queue it: MessageGroupId `apiName:dataId` (one record's events in order), MessageDeduplicationId =
 *    messageId.
 * 6. Answer Fxiaoke's encrypted `success`.
 *
 * A first delivery (a change push without `retryTimes`) does 4 and 5 at once: the inbox cannot know it
 * yet, so the check would only add a round trip to the acknowledgement (measured by `npm run bench`: ack
 * p50 ~80 → ~60 ms on two cores). Both writes must succeed before `success`; if either fails the answer is
 * 500 and Fxiaoke's redelivery (which carries `retryTimes`) takes the checked path. The queue consumer may
 * see such an event before its inbox entry exists; its reader notices within 250 ms and reads the record
 * itself (lib/sync/reader.ts), and the entry written afterwards is at most one id another worker adds to
 * its next read. The APL variant carries no redelivery counter, so it always takes the checked path.
 *
 * The event stays `received` until the flow marks it processed or failed: the webhook does not spend a
 * second write on marking it queued, which nothing but a redelivery would read. A redelivery of an event
 * still in `received` — one that crashed between steps 4 and 5, or one queued and not yet processed — is
 * sent again; the FIFO queue drops the copy within its 5-minute deduplication window (same messageId), and
 * a copy arriving later is a re-read of a version the links already hold, which the pipeline skips. So the
 * crash between recording and queueing still loses nothing, and nothing reaches the ERP twice.
 *
 * Nothing slow happens here: no Fxiaoke or K3Cloud call, one DynamoDB write and one SQS send. When the
 * inbox or the queue fails, the answer is 500 so that Fxiaoke redelivers.
 */
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { asSyncError } from '../errors.ts';
import { DEFAULT_PUSH_MAX_BODY_BYTES, receiveFxiaokePush } from '../fxiaoke/push-receiver.ts';
import type { SyncConfig } from '../mappings/config.ts';
import type { InboxReceipt } from '../state/inbox.ts';
import { changeMessage } from './messages.ts';
import type { QueueRole } from './queues.ts';
import type { SyncRuntime } from './runtime.ts';

const JSON_TYPE = 'application/json; charset=utf-8';

/** Which queue consumes which CRM object, from the enabled flows of the mapping config. */
export function routeOf(config: SyncConfig, apiName: string): QueueRole | undefined {
  if (apiName === 'AccountObj' && config.flows.accountToCustomer?.enabled) return 'accountToCustomer';
  if (
    (apiName === 'SalesOrderObj' || apiName === 'SalesOrderProductObj') &&
    config.flows.salesOrderToSaleOrder?.enabled
  ) {
    return 'salesOrderToSaleOrder';
  }
  return undefined;
}

/** A short JSON reply. */
export function jsonReply(
  statusCode: number,
  code: string,
  message: string,
): APIGatewayProxyStructuredResultV2 {
  return {
    statusCode,
    headers: { 'content-type': JSON_TYPE },
    body: JSON.stringify({ error: code, message }),
  };
}

/**
 * Handle one push request (see the module comment). Never throws: every failure becomes a short reply.
 */
export async function handleWebhook(
  event: APIGatewayProxyEventV2,
  runtime: SyncRuntime,
): Promise<APIGatewayProxyStructuredResultV2> {
  const logger = runtime.logger.child({ fn: 'fxiaoke-webhook', requestId: event.requestContext?.requestId });
  const maxBytes = DEFAULT_PUSH_MAX_BODY_BYTES;
  const raw = event.body ?? '';
  // Base64 grows 4/3: refuse before decoding a body that cannot fit.
  if (raw.length > (event.isBase64Encoded ? Math.ceil((maxBytes * 4) / 3) + 4 : maxBytes * 4)) {
    logger.warn('sync.webhook.rejected', { status: 413, code: 'PUSH_TOO_LARGE', bytes: raw.length });
    return jsonReply(
      413,
      'PUSH_TOO_LARGE',
      `请求体超过 ${maxBytes} 字节 / body is larger than ${maxBytes} bytes`,
    );
  }
  const rawBody = event.isBase64Encoded ? Buffer.from(raw, 'base64').toString('utf8') : raw;

  let fxConfig: ReturnType<SyncRuntime['fxConfig']>;
  try {
    fxConfig = runtime.fxConfig();
  } catch (error) {
    logger.error('sync.webhook.misconfigured', { error });
    return jsonReply(
      500,
      'WEBHOOK_MISCONFIGURED',
      '接收端配置错误 / receiver misconfigured (see the function log)',
    );
  }
  const now = runtime.clock();
  const result = receiveFxiaokePush(
    {
      method: event.requestContext?.http?.method ?? 'POST',
      headers: event.headers ?? {},
      rawBody,
    },
    {
      aesKey: fxConfig.aesKey,
      enterpriseAccount: fxConfig.enterpriseAccount,
      aplHmacSecret: fxConfig.aplHmacSecret,
      pushMaxAgeMs: fxConfig.pushMaxAgeMs,
      maxBodyBytes: maxBytes,
      tenantId: runtime.settings.fxiaokeTenantId,
    },
    now,
  );
  if (!result.ok) {
    logger.warn('sync.webhook.rejected', { status: result.status, code: result.code, reason: result.reason });
    return { statusCode: result.status, headers: { 'content-type': result.contentType }, body: result.body };
  }
  const ev = result.event;
  const reply: APIGatewayProxyStructuredResultV2 = {
    statusCode: result.reply.status,
    headers: { 'content-type': result.reply.contentType },
    body: result.reply.body,
  };
  const role = routeOf(runtime.config, ev.apiName);
  if (role === undefined) {
    logger.info('sync.webhook.ignored', {
      apiName: ev.apiName,
      dataId: ev.dataId,
      messageId: ev.messageId,
      reason: 'no enabled flow maps this object',
    });
    return reply;
  }
  const message = changeMessage({
    kind: 'change',
    messageId: ev.messageId,
    apiName: ev.apiName,
    dataId: ev.dataId,
    eventType: ev.eventType,
    receivedAtMs: now,
    changedAtMs: ev.changedAtMs,
    via: ev.via,
  });
  try {
    let receipt: InboxReceipt;
    if (ev.via === 'push' && ev.retryTimes === 0) {
      // A first delivery (Fxiaoke sets retryTimes only when it re-sends) is new but for a reused messageId:
      // record and queue it at once, so the acknowledgement waits for the slower of the two writes, not
      // their sum. Both must succeed before `success` is answered; if either fails, the 500 makes Fxiaoke
      // redeliver (with retryTimes), and that redelivery takes the checked path below.
      const [recorded] = await Promise.all([
        runtime.state.inbox.recordIfNew(ev),
        runtime.queues.send(role, [message]),
      ]);
      receipt = recorded;
    } else {
      receipt = await runtime.state.inbox.recordIfNew(ev);
      if (receipt === 'duplicate') {
        logger.info('sync.webhook.duplicate', {
          messageId: ev.messageId,
          apiName: ev.apiName,
          dataId: ev.dataId,
        });
        return reply;
      }
      await runtime.queues.send(role, [message]);
    }
    logger.info('sync.webhook.queued', {
      messageId: ev.messageId,
      apiName: ev.apiName,
      dataId: ev.dataId,
      queue: role,
      receipt,
    });
    return reply;
  } catch (error) {
    const failure = asSyncError(error);
    logger.error('sync.webhook.unavailable', { messageId: ev.messageId, error: failure });
    // 500 so that Fxiaoke redelivers; the inbox answers `unqueued` for it next time.
    return jsonReply(
      500,
      'WEBHOOK_UNAVAILABLE',
      '暂时无法接收，请稍后重推 / cannot accept the change right now; please redeliver',
    );
  }
}
