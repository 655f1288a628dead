/**
 * What the scheduled (polling) flows share: K3 modify times ⇄ cursor watermarks, and the run summary.
 *
 * K3Cloud answers datetimes as server wall-clock text without a zone (`2026-11-23T10:05:00.123`); cursors
 * store real instants (epoch ms) so they survive a change of `erp.utcOffsetMinutes` meaning, and are turned
 * back into K3 filter text with the configured offset.
 */
import { formatK3NaiveMs, parseK3NaiveMs } from '../mappings/k3-requests.ts';

const MINUTE_MS = 60_000;

/** A K3 datetime text as epoch ms, or undefined when it is not one. */
export function k3TextToEpochMs(text: string, utcOffsetMinutes: number): number | undefined {
  const naive = parseK3NaiveMs(text);
  return naive === undefined ? undefined : naive - utcOffsetMinutes * MINUTE_MS;
}

/** Epoch ms as K3 filter text `yyyy-MM-dd HH:mm:ss` in the server's time (milliseconds dropped). */
export function epochMsToK3Text(epochMs: number, utcOffsetMinutes: number): string {
  return formatK3NaiveMs(epochMs + utcOffsetMinutes * MINUTE_MS);
}

/** What one scheduled (or requested) run did — returned by the function and logged. */
export interface RunSummary {
  flow: string;
  trigger: 'schedule' | 'request';
  succeeded: number;
  skipped: number;
  failed: number;
  /** Whether the run stopped early (a retryable failure, the page budget, the deadline). */
  incomplete: boolean;
  /** Per-item results for requests (bill numbers) and small runs. */
  items: { key: string; outcome: 'succeeded' | 'skipped' | 'failed'; detail?: string }[];
}

/** Keep summaries small (a run can touch thousands of bills). */
export const SUMMARY_ITEM_LIMIT = 200;

/** A summary with nothing counted yet. */
export function emptySummary(flow: string, trigger: RunSummary['trigger']): RunSummary {
  return { flow, trigger, succeeded: 0, skipped: 0, failed: 0, incomplete: false, items: [] };
}

/** Count one item's outcome (and keep its detail while the summary is small). */
export function countItem(
  summary: RunSummary,
  key: string,
  outcome: RunSummary['items'][number]['outcome'],
  detail?: string,
): void {
  summary[outcome] += 1;
  if (summary.items.length < SUMMARY_ITEM_LIMIT) {
    summary.items.push({ key, outcome, ...(detail === undefined ? {} : { detail: detail.slice(0, 300) }) });
  }
}
