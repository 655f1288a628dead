/** Small statistics and formatting helpers of the benchmark report. */

/** The q-quantile (0–1) by the nearest-rank method; NaN for no values. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(q * sorted.length)));
  return sorted[rank - 1] ?? Number.NaN;
}

export function fixed(value: number | undefined, digits = 1): string {
  return value === undefined || !Number.isFinite(value) ? 'n/a' : value.toFixed(digits);
}

export function mib(bytes: number | undefined): string {
  return bytes === undefined ? 'n/a' : `${(bytes / 1024 / 1024).toFixed(0)} MiB`;
}

/** Sum of a record of counters. */
export function total(counts: Readonly<Record<string, number>>): number {
  return Object.values(counts).reduce((sum, n) => sum + n, 0);
}

/** `after − before` per key (keys missing before count from 0). */
export function delta(
  before: Readonly<Record<string, number>>,
  after: Readonly<Record<string, number>>,
): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [key, value] of Object.entries(after)) {
    const diff = value - (before[key] ?? 0);
    if (diff !== 0) out[key] = diff;
  }
  return out;
}

/** A plain text table: the first row is the header; columns padded to the widest cell (CJK counted 2). */
export function table(rows: readonly (readonly string[])[]): string {
  const width = (text: string) => [...text].reduce((w, ch) => w + (/[\u1100-\uffff]/.test(ch) ? 2 : 1), 0);
  const columns = Math.max(...rows.map((row) => row.length));
  const widths = Array.from({ length: columns }, (_, c) =>
    Math.max(...rows.map((row) => width(row[c] ?? ''))),
  );
  const line = (row: readonly string[]) =>
    row.map((cell, c) => cell + ' '.repeat(Math.max(0, (widths[c] ?? 0) - width(cell)))).join('  ');
  const [head, ...body] = rows;
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  return [line(head ?? []), rule, ...body.map(line)].join('\n');
}
