/**
 * Flow 1: CRM accounts (AccountObj) → K3 customers (BD_Customer). SQS FIFO trigger. See
 * lib/sync/customers.ts.
 */
import { processAccountChanges } from '../lib/sync/customers.ts';
import { queueHandler } from '../lib/sync/handlers.ts';
import { changeMessageSchema } from '../lib/sync/messages.ts';

export const handler = queueHandler('account-to-customer', {
  queue: 'accountToCustomer',
  flow: 'account-to-customer',
  schema: changeMessageSchema,
  process: processAccountChanges,
});
