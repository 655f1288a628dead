/**
 * Flow 4: audited K3 purchase orders → in-stock bills (PUR_PurchaseOrder-STK_InStock). EventBridge schedule,
 * or a direct invoke `{"billNos": ["CGDD000001"]}` (IAM lambda:InvokeFunction). See
 * lib/sync/purchase-in-stock.ts.
 */
import { scheduledHandler } from '../lib/sync/handlers.ts';
import { runPurchaseOrderToInStock } from '../lib/sync/purchase-in-stock.ts';

export const handler = scheduledHandler(
  'purchase-order-to-in-stock',
  (runtime, input, deadlineMs) =>
    runPurchaseOrderToInStock(runtime, {
      ...(input.kind === 'request' ? { billNos: input.billNos } : {}),
      ...(deadlineMs === undefined ? {} : { deadlineMs }),
    }),
  { acceptsRequests: true },
);
