/** The state suites on dynalite, the embedded engine of the local stack (in-process, fast). */
import { STATE_SUITES } from './suites/all.ts';
import { runStateSuites } from './suites/harness.ts';

runStateSuites('dynalite', STATE_SUITES);
