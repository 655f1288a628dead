/**
 * Matching the lines of a source record to the rows an earlier sync created in the target, so an update
 * keeps each row's identity (K3 FEntryID, CRM detail `_id`) instead of deleting and re-creating rows —
 * which would break anything linked to them (a delivery notice pushed from an order line, for example).
 *
 * 1. When rows carry a line key (an entry extension field holding the CRM line id), lines and rows with the
 *    same key match exactly.
 * 2. Remaining lines match remaining rows *without* a key (rows created before the key existed, or when no
 *    key is configured) by item — material number or product id — in order: the first line with WL0001
 *    takes the first row with WL0001. A row whose key belongs to no current line is never reused: that
 *    line was deleted in the source.
 * 3. Rows left over are removed; lines left over are new.
 */

export interface SourceLine {
  /** Stable id of the source line (CRM detail `_id`, or ERP entry id). */
  lineId: string;
  /** The value the target stores as the line key, when keys are in use. */
  key: string | undefined;
  /** Material number / product id: the fallback criterion. */
  item: string;
}

export interface TargetRow<Id> {
  id: Id;
  key: string | undefined;
  item: string | undefined;
}

export interface RowMatch<Id> {
  /** Source line id → target row id. */
  matched: Map<string, Id>;
  /** Source line ids with no target row (new rows). */
  added: string[];
  /** Target row ids no source line claims (rows to delete). */
  removed: Id[];
}

/** Match source lines to target rows (see the module comment for the rules). */
export function matchRows<Id>(
  lines: readonly SourceLine[],
  rows: readonly TargetRow<Id>[],
  useKeys: boolean,
): RowMatch<Id> {
  const free = new Set(rows.keys());
  const matched = new Map<string, Id>();
  const claim = (line: SourceLine, accepts: (row: TargetRow<Id>) => boolean): void => {
    for (const index of free) {
      const row = rows[index];
      if (row !== undefined && accepts(row)) {
        free.delete(index);
        matched.set(line.lineId, row.id);
        return;
      }
    }
  };
  if (useKeys) {
    for (const line of lines) if (line.key !== undefined) claim(line, (row) => row.key === line.key);
  }
  for (const line of lines) {
    if (!matched.has(line.lineId)) {
      claim(line, (row) => (!useKeys || row.key === undefined) && row.item === line.item);
    }
  }
  return {
    matched,
    added: lines.filter((line) => !matched.has(line.lineId)).map((line) => line.lineId),
    removed: [...free].flatMap((index) => {
      const row = rows[index];
      return row === undefined ? [] : [row.id];
    }),
  };
}
