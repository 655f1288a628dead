/**
 * Flow 5: K3 deliveries (SAL_OUTSTOCK / SAL_DELIVERYNOTICE) → CRM delivery notes and order delivery status.
 * EventBridge schedule. See lib/sync/deliveries.ts.
 */
import { runDeliveryToFxiaoke } from '../lib/sync/deliveries.ts';
import { scheduledHandler } from '../lib/sync/handlers.ts';

export const handler = scheduledHandler(
  'delivery-to-fxiaoke',
  (runtime, _input, deadlineMs) =>
    runDeliveryToFxiaoke(runtime, deadlineMs === undefined ? {} : { deadlineMs }),
  { acceptsRequests: false },
);
