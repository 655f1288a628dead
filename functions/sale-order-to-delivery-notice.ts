/**
 * Flow 3: push a synced K3 sales order to a delivery notice (SaleOrder-DeliveryNotice) when the CRM order
 * reaches the configured state. SQS FIFO trigger (requests from flow 2). See lib/sync/delivery-notices.ts.
 */
import { processDeliveryNoticeRequests } from '../lib/sync/delivery-notices.ts';
import { queueHandler } from '../lib/sync/handlers.ts';
import { deliveryNoticeMessageSchema } from '../lib/sync/messages.ts';

export const handler = queueHandler('sale-order-to-delivery-notice', {
  queue: 'saleOrderToDeliveryNotice',
  flow: 'sale-order-to-delivery-notice',
  schema: deliveryNoticeMessageSchema,
  process: processDeliveryNoticeRequests,
});
