/**
 * The sync's SQS FIFO queues behind a small facade: sending (batched by 10, SQS's limit), and pushing a
 * failed message's next attempt into the future (ChangeMessageVisibility). Requests go over our own signed
 * JSON wire (`lib/aws-wire.ts`: the SDK's per-request CPU was the largest item of the webhook, whose
 * acknowledgement waits for the send); the SDK client supplies credentials, region and endpoint — it
 * honours `AWS_ENDPOINT_URL_SQS`, which is how the local stack and the tests use their own SQS endpoint.
 */
import type { SQSClient } from '@aws-sdk/client-sqs';
import { type AwsWire, sqsWire } from '../aws-wire.ts';
import { ConfigError, SyncError } from '../errors.ts';
import type { OutgoingMessage } from './messages.ts';
import type { QueueUrls } from './settings.ts';

export type QueueRole = keyof QueueUrls;

/** SendMessageBatch takes at most 10 entries. */
const SQS_BATCH_MAX = 10;
/** SQS caps a message's visibility timeout at 12 hours. */
export const SQS_MAX_VISIBILITY_SECONDS = 43_200;

const ENV_OF_ROLE: Readonly<Record<QueueRole, string>> = {
  accountToCustomer: 'SYNC_QUEUE_URL_ACCOUNT_TO_CUSTOMER',
  salesOrderToSaleOrder: 'SYNC_QUEUE_URL_SALES_ORDER_TO_SALE_ORDER',
  saleOrderToDeliveryNotice: 'SYNC_QUEUE_URL_SALE_ORDER_TO_DELIVERY_NOTICE',
  crmWriteBack: 'SYNC_QUEUE_URL_CRM_WRITE_BACK',
};

/** SQS refused or could not be reached; nothing (or not everything) was queued. */
export class QueueError extends SyncError {}

function queueError(error: unknown, what: string): QueueError {
  const name = error instanceof Error ? error.name : 'Error';
  const message = error instanceof Error ? error.message : String(error);
  const denied = ['AccessDenied', 'AccessDeniedException', 'QueueDoesNotExist', 'InvalidAddress'].includes(
    name,
  );
  return new QueueError(`SQS 调用失败（${what}）/ SQS call failed (${what}): ${name}: ${message}`, {
    kind: denied ? 'config' : 'transient',
    fault: denied ? 'ours' : 'theirs',
    code: denied ? 'SQS_REFUSED' : 'SQS_UNAVAILABLE',
    cause: error,
  });
}

/** The sync's queues by role (URLs from the `SYNC_QUEUE_URL_*` variables). One per runtime. */
interface SendMessageBatchResult {
  Successful?: { Id?: string; MessageId?: string }[];
  Failed?: { Id?: string; Code?: string; Message?: string; SenderFault?: boolean }[];
}

export class QueueClient {
  readonly #sqs: AwsWire;
  readonly #urls: QueueUrls;

  constructor(sqs: SQSClient, urls: QueueUrls) {
    this.#sqs = sqsWire(sqs);
    this.#urls = urls;
  }

  /** Whether a queue URL is configured for `role`. */
  has(role: QueueRole): boolean {
    return this.#urls[role] !== undefined;
  }

  /**
   * The URL of a queue.
   *
   * @throws {ConfigError} naming the missing variable.
   */
  url(role: QueueRole): string {
    const url = this.#urls[role];
    if (url === undefined) {
      throw new ConfigError([
        `${ENV_OF_ROLE[role]}: is required (the SQS queue URL; serverless.yml sets it from the stack)`,
      ]);
    }
    return url;
  }

  /**
   * Send messages to one queue. Either every message is accepted or a {@link QueueError} says how many were
   * not (the caller retries; FIFO de-duplication makes re-sending the accepted ones harmless for 5 minutes).
   * Returns the SQS message ids in input order.
   *
   * @throws {QueueError} `transient` when SQS fails or refuses some entries, `config` when access is denied
   *   or the queue does not exist; {@link ConfigError} when the queue URL is not configured.
   */
  async send(role: QueueRole, messages: readonly OutgoingMessage[]): Promise<string[]> {
    const url = this.url(role);
    const ids: string[] = [];
    for (let start = 0; start < messages.length; start += SQS_BATCH_MAX) {
      const part = messages.slice(start, start + SQS_BATCH_MAX);
      const entries = part.map((message, index) => ({
        Id: String(index),
        MessageBody: JSON.stringify(message.body),
        MessageGroupId: message.groupId,
        MessageDeduplicationId: message.deduplicationId,
      }));
      let out: SendMessageBatchResult;
      try {
        out = (await this.#sqs.call('SendMessageBatch', {
          QueueUrl: url,
          Entries: entries,
        })) as SendMessageBatchResult;
      } catch (error) {
        throw queueError(error, `SendMessageBatch ${role}`);
      }
      const failed = out.Failed ?? [];
      if (failed.length > 0) {
        const first = failed[0];
        throw new QueueError(
          `SQS 拒收 ${failed.length} 条消息 / SQS refused ${failed.length} message(s) on ${role}: ${first?.Code ?? ''} ${first?.Message ?? ''}`,
          { kind: 'transient', fault: 'theirs', code: 'SQS_PARTIAL_FAILURE' },
        );
      }
      const byEntry = new Map((out.Successful ?? []).map((ok) => [ok.Id, ok.MessageId ?? '']));
      part.forEach((_, index) => {
        ids.push(byEntry.get(String(index)) ?? '');
      });
    }
    return ids;
  }

  /**
   * Make a received message visible again after `delaySeconds` (the retry backoff of a failed message).
   *
   * @throws {QueueError} when SQS fails (the message then simply keeps its current visibility timeout).
   */
  async delay(role: QueueRole, receiptHandle: string, delaySeconds: number): Promise<void> {
    const seconds = Math.max(0, Math.min(SQS_MAX_VISIBILITY_SECONDS, Math.round(delaySeconds)));
    try {
      await this.#sqs.call('ChangeMessageVisibility', {
        QueueUrl: this.url(role),
        ReceiptHandle: receiptHandle,
        VisibilityTimeout: seconds,
      });
    } catch (error) {
      if (error instanceof ConfigError) throw error;
      throw queueError(error, `ChangeMessageVisibility ${role}`);
    }
  }
}
