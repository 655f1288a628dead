import { credentialSuite } from './credentials.ts';
import { cursorSuite } from './cursors.ts';
import type { StateSuite } from './harness.ts';
import { inboxSuite } from './inbox.ts';
import { linkSuite } from './links.ts';
import { pendingReadsSuite } from './pending-reads.ts';
import { rateLimiterSuite } from './rate-limiter.ts';
import { syncLogSuite } from './sync-log.ts';
import { tablesSuite } from './tables.ts';

/** Every state suite, in the order they run on each engine. */
export const STATE_SUITES: readonly StateSuite[] = [
  tablesSuite,
  credentialSuite,
  inboxSuite,
  linkSuite,
  syncLogSuite,
  cursorSuite,
  rateLimiterSuite,
  pendingReadsSuite,
];
