/**
 * Where the CLI writes, and how its human output is laid out: bilingual labels (中文 first, then English) in
 * tables aligned by display width — a Chinese character takes two terminal columns, so padding by
 * `string.length` would tear every table that mixes 客户 and "customer".
 *
 * Results go to stdout (a table, or one JSON document with `--json`); progress, warnings and errors go to
 * stderr, so `fxk3 … --json | jq` always reads clean JSON.
 */
import type { Env } from '../lib/env.ts';

/** What `runCli` needs from its surroundings; tests pass their own. */
export interface CliIo {
  /** Results (tables, or the `--json` document). */
  stdout(text: string): void;
  /** Progress, warnings, errors. */
  stderr(text: string): void;
  /** The environment (normally `process.env`). */
  env: Env;
  /** Time source (epoch ms); default `Date.now`. */
  clock?: () => number;
}

/** The process's own streams and environment. */
export function processIo(): CliIo {
  return {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    env: process.env,
  };
}

/** East Asian wide and fullwidth ranges (Unicode UAX #11), the ones Chinese text uses. */
const WIDE_RANGES: readonly (readonly [number, number])[] = [
  [0x1100, 0x115f],
  [0x2e80, 0x303e],
  [0x3041, 0x33ff],
  [0x3400, 0x4dbf],
  [0x4e00, 0x9fff],
  [0xa000, 0xa4cf],
  [0xac00, 0xd7a3],
  [0xf900, 0xfaff],
  [0xfe30, 0xfe4f],
  [0xff00, 0xff60],
  [0xffe0, 0xffe6],
  [0x20000, 0x3fffd],
];

/** Terminal columns a text takes: wide characters count 2, combining marks 0. */
export function displayWidth(text: string): number {
  let width = 0;
  for (const char of text) {
    const code = char.codePointAt(0) ?? 0;
    if (code >= 0x300 && code <= 0x36f) continue;
    width += WIDE_RANGES.some(([low, high]) => code >= low && code <= high) ? 2 : 1;
  }
  return width;
}

/** Pad `text` with spaces to `width` display columns. */
export function padDisplay(text: string, width: number): string {
  return text + ' '.repeat(Math.max(0, width - displayWidth(text)));
}

/** An aligned table: a header row, a rule, then the rows; cells never contain line breaks. */
export function renderTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const clean = (cell: string) => cell.replace(/\s*\n\s*/g, ' ');
  const body = rows.map((row) => headers.map((_, index) => clean(row[index] ?? '')));
  const widths = headers.map((header, index) =>
    Math.max(displayWidth(header), ...body.map((row) => displayWidth(row[index] ?? ''))),
  );
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, index) => (index === cells.length - 1 ? cell : padDisplay(cell, widths[index] ?? 0)))
      .join('  ')
      .trimEnd();
  // The last column is free text: its rule stops at a sensible width instead of running off the screen.
  const rule = widths
    .map((w, index) =>
      '─'.repeat(
        index === widths.length - 1 ? Math.min(w, Math.max(displayWidth(headers[index] ?? ''), 40)) : w,
      ),
    )
    .join('  ');
  return [line(headers), rule, ...body.map(line)].join('\n');
}

/** Key/value lines with the keys aligned. */
export function renderFields(fields: readonly (readonly [string, string])[]): string {
  const width = Math.max(0, ...fields.map(([key]) => displayWidth(key)));
  return fields.map(([key, value]) => `${padDisplay(key, width)}  ${value}`).join('\n');
}

/** An instant as ISO-8601 UTC without milliseconds (what operators compare with AWS consoles). */
export function formatTime(epochMs: number | undefined): string {
  if (epochMs === undefined || !Number.isFinite(epochMs)) return '—';
  return new Date(epochMs).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** `3 min ago`-style age, bilingual. */
export function formatAge(epochMs: number | undefined, nowMs: number): string {
  if (epochMs === undefined) return '—';
  const seconds = Math.max(0, Math.round((nowMs - epochMs) / 1000));
  if (seconds < 120) return `${seconds} 秒前 / ${seconds} s ago`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 120) return `${minutes} 分钟前 / ${minutes} min ago`;
  const hours = Math.round(minutes / 60);
  if (hours < 48) return `${hours} 小时前 / ${hours} h ago`;
  const days = Math.round(hours / 24);
  return `${days} 天前 / ${days} d ago`;
}

/** Pretty JSON for people (two spaces), as the `--json` document and inside dry-run output. */
export function toJson(value: unknown): string {
  return JSON.stringify(value, null, 2);
}
