/**
 * K3Cloud status operations (Submit, Audit, UnAudit, Allocate…) for a whole batch at once, without giving
 * up per-record error isolation.
 *
 * K3 takes `Numbers` as an array, so a batch of ten customers is submitted with one call. When that call
 * fails on a business rule, K3 reports the bills it did process (`SuccessEntitys`); the remaining ones are
 * then sent one by one, so each record gets its own verdict and K3's own message. A transient or unknown
 * failure of the batch call is reported for every bill of the call: nothing is re-sent blindly, and the
 * next attempt starts from the bills' actual status (see `crm-to-erp.ts`).
 */
import { asSyncError, type SyncError } from '../errors.ts';
import { K3CloudError } from '../k3cloud/errors.ts';

/** Calls sent at once when a batch falls back to one call per bill. */
const FALLBACK_CONCURRENCY = 4;

/**
 * Run `operation` for `keys` (bill numbers or ids) in one call, falling back to one call per key when a
 * business rule refused part of the batch. Returns the failures by key (empty = all succeeded).
 */
export async function runBatched(
  keys: readonly string[],
  operation: (keys: readonly string[]) => Promise<unknown>,
): Promise<Map<string, SyncError>> {
  const failures = new Map<string, SyncError>();
  const unique = [...new Set(keys)];
  if (unique.length === 0) return failures;
  try {
    await operation(unique);
    return failures;
  } catch (error) {
    const syncError = asSyncError(error);
    const isolatable = syncError.kind === 'business' || syncError.kind === 'not-found';
    if (unique.length === 1 || !isolatable) {
      for (const key of unique) failures.set(key, syncError);
      return failures;
    }
    const done = new Set<string>();
    if (error instanceof K3CloudError) {
      for (const entity of error.successEntities) {
        if (entity.number !== null) done.add(entity.number);
        if (entity.id !== null) done.add(entity.id);
      }
    }
    const rest = unique.filter((key) => !done.has(key));
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < rest.length) {
        const key = rest[next];
        next += 1;
        if (key === undefined) continue;
        try {
          await operation([key]);
        } catch (single) {
          failures.set(key, asSyncError(single));
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(FALLBACK_CONCURRENCY, rest.length) }, worker));
    return failures;
  }
}

/** Run async work over items with bounded concurrency, keeping input order in the results. */
export async function mapLimited<T, U>(
  items: readonly T[],
  limit: number,
  work: (item: T, index: number) => Promise<U>,
): Promise<U[]> {
  const results: U[] = new Array(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next;
      next += 1;
      const item = items[index];
      if (item !== undefined) results[index] = await work(item, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(Math.max(1, limit), items.length) }, worker));
  return results;
}
