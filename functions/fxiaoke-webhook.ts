/**
 * POST /webhooks/fxiaoke — Fxiaoke's change push (事件变更订阅) or the APL variant: verify, record, queue,
 * answer `success`. See lib/sync/webhook.ts.
 */
import { webhookHandler } from '../lib/sync/handlers.ts';

export const handler = webhookHandler();
