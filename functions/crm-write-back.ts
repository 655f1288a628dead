/**
 * CRM write-backs (ERP numbers, delivery statuses) at the rate Fxiaoke allows. SQS FIFO trigger. See
 * lib/sync/write-back.ts.
 */
import { queueHandler } from '../lib/sync/handlers.ts';
import { writeBackMessageSchema } from '../lib/sync/messages.ts';
import { processWriteBacks } from '../lib/sync/write-back.ts';

export const handler = queueHandler('crm-write-back', {
  queue: 'crmWriteBack',
  flow: 'crm-write-back',
  schema: writeBackMessageSchema,
  process: processWriteBacks,
});
