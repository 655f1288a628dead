/**
 * POST /webhooks/fxiaoke — Fxiaoke's change push (事件变更订阅) or the APL variant: verify, record, queue,
 * answer `success`. See lib/sync/webhook.ts.
 */
import { warmUp, webhookHandler } from '../lib/sync/handlers.ts';

export const handler = webhookHandler();

// Init phase: the first pushes after a cold start are answered as fast as the rest.
await warmUp();
