/**
 * `fxk3` — the operator CLI of fxiaoke-k3cloud-sync: `status`, `dry-run`, `replay`, `backfill`
 * (docs/cli.md). It runs from a clone of the repository (`npx fxk3 …`, or `npm run fxk3 -- …`) with the
 * functions' own code, against the local stack or a deployed AWS stage.
 *
 * Exit codes: 0 done / healthy; 1 unhealthy, a remote failure, or something failed or would fail;
 * 2 bad arguments (nothing was done). Expected failures print our explanation, the classification and the
 * vendors' messages verbatim — never a stack trace (`--verbose` adds one for unexpected errors only).
 */
import { asSyncError, SyncError } from '../lib/errors.ts';
import { type ParsedCommand, parseCommandLine } from './args.ts';
import { backfillCommand } from './commands/backfill.ts';
import { dryRunCommand } from './commands/dry-run.ts';
import { replayCommand } from './commands/replay.ts';
import { statusCommand } from './commands/status.ts';
import { EXIT, failureJson, failureLines, UsageError } from './errors.ts';
import { type CliIo, toJson } from './io.ts';
import { type CliSession, openSession } from './session.ts';
import { usageSynopsis, usageText } from './usage.ts';

async function runCommand(
  parsed: Exclude<ParsedCommand, { command: 'help' }>,
  session: CliSession,
  io: CliIo,
) {
  const json = parsed.global.json;
  switch (parsed.command) {
    case 'status':
      return await statusCommand({ json }, session, io);
    case 'dry-run':
      return await dryRunCommand({ apiName: parsed.apiName, id: parsed.id, json }, session, io);
    case 'replay':
      return await replayCommand(
        {
          selection: parsed.selection,
          force: parsed.force,
          dryRun: parsed.dryRun,
          limit: parsed.limit,
          json,
        },
        session,
        io,
      );
    case 'backfill':
      return await backfillCommand(
        {
          apiName: parsed.apiName,
          sinceMs: parsed.sinceMs,
          limit: parsed.limit,
          after: parsed.after,
          runId: parsed.runId,
          dryRun: parsed.dryRun,
          json,
        },
        session,
        io,
      );
  }
}

/**
 * Run one command line (the arguments after `fxk3`) and answer its exit code. Never throws.
 *
 * The sync runtime is a per-process singleton: a run configures it for its deployment and resets it when done.
 */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const clock = io.clock ?? Date.now;
  const wantsJson = argv.includes('--json');
  const verbose = argv.includes('--verbose') || argv.includes('-v');
  let parsed: ParsedCommand;
  try {
    parsed = parseCommandLine(argv, clock());
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    if (wantsJson) {
      io.stdout(`${toJson({ error: failureJson(error) })}\n`);
    }
    io.stderr(`${error.message}\n\n${usageSynopsis(error.command)}\n`);
    return EXIT.usage;
  }
  if (parsed.command === 'help') {
    io.stdout(`${usageText(parsed.topic)}\n`);
    return EXIT.ok;
  }
  let session: CliSession | undefined;
  try {
    session = await openSession(parsed.global, io, { queues: parsed.command !== 'dry-run' });
    return await runCommand(parsed, session, io);
  } catch (error) {
    const failure = asSyncError(error);
    if (wantsJson) io.stdout(`${toJson({ command: parsed.command, error: failureJson(failure) })}\n`);
    const title =
      error instanceof SyncError
        ? `fxk3 ${parsed.command} 失败 / failed:`
        : `fxk3 ${parsed.command} 内部错误 / internal error:`;
    io.stderr(`${title}\n${failureLines(failure, '  ').join('\n')}\n`);
    if (!(error instanceof SyncError) && verbose && error instanceof Error && error.stack) {
      io.stderr(`${error.stack}\n`);
    }
    return error instanceof UsageError ? EXIT.usage : EXIT.failed;
  } finally {
    await session?.close().catch(() => undefined);
  }
}
