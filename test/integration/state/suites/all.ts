import { credentialSuite } from './credentials.ts';
import type { StateSuite } from './harness.ts';
import { inboxSuite } from './inbox.ts';
import { linkSuite } from './links.ts';

/** Every state suite, in the order they run on each engine. */
export const STATE_SUITES: readonly StateSuite[] = [credentialSuite, inboxSuite, linkSuite];
