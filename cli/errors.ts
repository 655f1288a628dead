/**
 * The CLI's errors, in the project's one error model (lib/errors.ts), and how a failure is shown to an
 * operator: our bilingual explanation, the classification (kind · code), and whatever K3Cloud or Fxiaoke said,
 * verbatim, on lines of its own. Expected failures never print a stack trace.
 */
import { ConfigError, InvalidInputError, SyncError, type SyncErrorOptions } from '../lib/errors.ts';

/** Exit codes (docs/cli.md §退出码 / exit codes). */
export const EXIT = {
  /** Done, healthy, nothing would fail. */
  ok: 0,
  /** Unhealthy, a remote failure, or something failed / would fail. */
  failed: 1,
  /** Bad arguments: nothing was done. */
  usage: 2,
} as const;

/** Bad command-line arguments: nothing was done; exit code 2 with the usage of the command. */
export class UsageError extends InvalidInputError {
  /** The command whose usage should be shown (undefined: the general usage). */
  readonly command: string | undefined;

  constructor(message: string, command?: string) {
    super(message, 'CLI_USAGE');
    this.command = command;
  }
}

/** An operator-facing failure of the CLI itself (no stack found, a queue missing, …). */
export class CliError extends SyncError {
  constructor(message: string, options: SyncErrorOptions) {
    super(message, options);
  }
}

/** The lines that describe a failure: message, classification, remote messages verbatim, config problems. */
export function failureLines(error: SyncError, indent = ''): string[] {
  const lines = [`${indent}✗ ${error.message.split('\n')[0] ?? ''}`];
  if (error instanceof ConfigError) {
    for (const problem of error.problems) lines.push(`${indent}    - ${problem}`);
  } else {
    for (const extra of error.message.split('\n').slice(1)) lines.push(`${indent}    ${extra}`);
  }
  lines.push(
    `${indent}    类别 kind: ${error.kind} · 代码 code: ${error.code} · 责任方 fault: ${error.fault}`,
  );
  for (const remote of error.remoteMessages) {
    lines.push(`${indent}    原文 verbatim: ${remote}`);
  }
  return lines;
}

/** The JSON shape of a failure (`--json`), the same fields the sync log keeps. */
export function failureJson(error: SyncError): Record<string, unknown> {
  return {
    ...error.toJSON(),
    ...(error instanceof ConfigError ? { problems: error.problems } : {}),
  };
}
