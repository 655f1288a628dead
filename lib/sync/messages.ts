/**
 * The messages the sync puts on its SQS FIFO queues, one schema per queue, and how each is grouped and
 * de-duplicated.
 *
 * FIFO semantics we rely on: messages with the same `MessageGroupId` are delivered in order and one at a time
 * (while one is in flight, the rest of its group waits); `MessageDeduplicationId` makes a second send of the
 * same id within 5 minutes a no-op. Groups are per record (`apiName:dataId`), so one record's events are
 * processed in order while different records proceed in parallel.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';

/** SQS limits for both ids: 1–128 characters of alphanumerics and punctuation. */
const SQS_ID_MAX = 128;

/**
 * A CRM change event, as the webhook queues it for the flow that owns its apiName. Thin, like the push
 * itself: the worker re-reads the record.
 */
export const changeMessageSchema = z.object({
  kind: z.literal('change'),
  /** Fxiaoke's messageId (the inbox key). */
  messageId: z.string().min(1),
  apiName: z.string().min(1),
  dataId: z.string().min(1),
  eventType: z.string(),
  /** When the webhook received the push (epoch ms): a re-read must be at least this new. */
  receivedAtMs: z.number(),
  changedAtMs: z.number().optional(),
  via: z.string().optional(),
});
export type ChangeMessage = z.output<typeof changeMessageSchema>;

/** "Push this synced order to a delivery notice" — sent by the sales order flow when the trigger holds. */
export const deliveryNoticeMessageSchema = z.object({
  kind: z.literal('delivery-notice'),
  /** CRM SalesOrderObj `_id`. */
  orderId: z.string().min(1),
  /** CRM version of the order that satisfied the trigger. */
  orderVersion: z.number(),
  /** The inbox messageId of the change that led here (for the sync log), when known. */
  sourceMessageId: z.string().optional(),
  requestedAtMs: z.number(),
});
export type DeliveryNoticeMessage = z.output<typeof deliveryNoticeMessageSchema>;

/** A field update to write back to the CRM at the rate Fxiaoke allows (`triggerWorkFlow: false`). */
export const writeBackMessageSchema = z.object({
  kind: z.literal('write-back'),
  apiName: z.string().min(1),
  id: z.string().min(1),
  fields: z.record(z.string(), z.unknown()),
  /** The flow that asked for it (sync log). */
  flow: z.string().min(1),
  /** Why, for people reading the log: `erp-number`, `delivery-status`. */
  reason: z.string(),
  requestedAtMs: z.number(),
});
export type WriteBackMessage = z.output<typeof writeBackMessageSchema>;

/** One message to send to a FIFO queue. */
export interface OutgoingMessage {
  body: ChangeMessage | DeliveryNoticeMessage | WriteBackMessage;
  groupId: string;
  deduplicationId: string;
}

/** FIFO ids must stay within 128 allowed characters: long or unusual ids are replaced by their hash. */
function sqsId(text: string): string {
  const safe = /^[A-Za-z0-9!"#$%&'()*+,\-./:;<=>?@[\\\]^_`{|}~]+$/;
  return text.length <= SQS_ID_MAX && safe.test(text)
    ? text
    : `h:${createHash('sha256').update(text).digest('hex')}`;
}

/** Group = one CRM record, so its events stay in order; dedup = Fxiaoke's messageId. */
export function changeMessage(body: ChangeMessage): OutgoingMessage {
  return {
    body,
    groupId: sqsId(`${body.apiName}:${body.dataId}`),
    deduplicationId: sqsId(body.messageId),
  };
}

/** One request per order version: a redelivered trigger within 5 minutes is dropped by SQS itself. */
export function deliveryNoticeMessage(body: DeliveryNoticeMessage): OutgoingMessage {
  return {
    body,
    groupId: sqsId(`SalesOrderObj:${body.orderId}`),
    deduplicationId: sqsId(`notice:${body.orderId}:${body.orderVersion}`),
  };
}

/** Grouped per CRM record (updates of one record keep their order); dedup by content. */
export function writeBackMessage(body: WriteBackMessage): OutgoingMessage {
  const content = JSON.stringify([body.apiName, body.id, Object.entries(body.fields).sort()]);
  return {
    body,
    groupId: sqsId(`${body.apiName}:${body.id}`),
    deduplicationId: `wb:${createHash('sha256').update(content).digest('hex').slice(0, 64)}`,
  };
}
