/**
 * Flow 2: CRM sales orders (SalesOrderObj + lines) → K3 sales orders (SAL_SaleOrder). SQS FIFO trigger.
 * See lib/sync/sales-orders.ts.
 */
import { queueHandler } from '../lib/sync/handlers.ts';
import { changeMessageSchema } from '../lib/sync/messages.ts';
import { processSalesOrderChanges } from '../lib/sync/sales-orders.ts';

export const handler = queueHandler('sales-order-to-sale-order', {
  queue: 'salesOrderToSaleOrder',
  flow: 'sales-order-to-sale-order',
  schema: changeMessageSchema,
  process: processSalesOrderChanges,
});
