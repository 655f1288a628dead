/**
 * The same state suites on DynamoDB Local, AWS's own engine (Java 17, one JVM for this file). Skipped with
 * the reason shown when Java is missing; CI installs it (.ci/run).
 */
import { STATE_SUITES } from './suites/all.ts';
import { runStateSuites } from './suites/harness.ts';

runStateSuites('dynamodb-local', STATE_SUITES);
