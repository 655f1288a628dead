/**
 * Command-line parsing: every command's flags, and every mistake answered with a bilingual UsageError (exit
 * code 2) naming the flag — before anything is read or written.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_REPLAY_LIMIT, parseCommandLine, parseInstant } from '../../../cli/args.ts';
import { backfillCursorName, defaultRunId } from '../../../cli/commands/backfill.ts';
import { UsageError } from '../../../cli/errors.ts';

const NOW = Date.parse('2026-11-23T12:00:00Z');
const parse = (line: string) => parseCommandLine(line.split(' ').filter(Boolean), NOW);

function usageError(line: string, pattern: RegExp): void {
  assert.throws(
    () => parse(line),
    (error: unknown) => {
      assert.ok(error instanceof UsageError, `UsageError for "${line}"`);
      assert.match(error.message, pattern);
      assert.equal(error.kind, 'invalid-input');
      assert.equal(error.fault, 'caller');
      return true;
    },
  );
}

describe('parseCommandLine', () => {
  it('status with the deployment options', () => {
    assert.deepEqual(parse('status --json --stage prod --region ap-east-1'), {
      command: 'status',
      global: { json: true, verbose: false, stage: 'prod', region: 'ap-east-1', local: false },
    });
    assert.equal(parse('status --local -v').global.local, true);
  });

  it('no command or --help: the general help; `help <command>` and `<command> --help`: its help', () => {
    assert.equal(parse('').command, 'help');
    assert.deepEqual(parse('help replay'), {
      command: 'help',
      topic: 'replay',
      global: { json: false, verbose: false, stage: undefined, region: undefined, local: false },
    });
    const help = parse('backfill --help');
    assert.equal(help.command === 'help' && help.topic, 'backfill');
  });

  it('dry-run takes the object and the id', () => {
    const parsed = parse('dry-run SalesOrderProductObj 5f9cd4e6e4400e0001217faa --json');
    assert.ok(parsed.command === 'dry-run');
    assert.equal(parsed.apiName, 'SalesOrderProductObj');
    assert.equal(parsed.id, '5f9cd4e6e4400e0001217faa');
  });

  it('replay by record, by filter (default window 24 h), or from a DLQ', () => {
    const records = parse('replay --record AccountObj:a1 --record SalesOrderObj:b2 --force');
    assert.ok(records.command === 'replay');
    assert.deepEqual(records.selection, {
      kind: 'records',
      records: [
        { type: 'AccountObj', id: 'a1' },
        { type: 'SalesOrderObj', id: 'b2' },
      ],
    });
    assert.equal(records.force, true);
    assert.equal(records.limit, DEFAULT_REPLAY_LIMIT);

    const filter = parse('replay --flow account-to-customer --code K3_MSGCODE_11 --all --dry-run --limit 50');
    assert.ok(filter.command === 'replay');
    assert.deepEqual(filter.selection, {
      kind: 'filter',
      flow: 'account-to-customer',
      sinceMs: NOW - 24 * 3_600_000,
      code: 'K3_MSGCODE_11',
      all: true,
    });
    assert.deepEqual([filter.dryRun, filter.limit], [true, 50]);

    const dlq = parse('replay --dlq crm-write-back');
    assert.ok(dlq.command === 'replay');
    assert.deepEqual(dlq.selection, { kind: 'dlq', flow: 'crm-write-back' });
  });

  it('backfill with its options', () => {
    const parsed = parse(
      'backfill SalesOrderObj --since 7d --limit 3000 --after 5f9c --run first-load --dry-run',
    );
    assert.ok(parsed.command === 'backfill');
    assert.deepEqual(
      [parsed.apiName, parsed.sinceMs, parsed.limit, parsed.after, parsed.runId, parsed.dryRun],
      ['SalesOrderObj', NOW - 7 * 86_400_000, 3000, '5f9c', 'first-load', true],
    );
  });

  it('bad arguments are usage errors in both languages, naming the problem', () => {
    usageError('bogus', /未知命令 "bogus".*unknown command "bogus"/);
    usageError('--json status', /put the command first/);
    usageError('status --colour', /参数有误 \/ invalid arguments: .*--colour/);
    usageError('status extra', /unexpected argument/);
    usageError('status --stage "prod env"', /--stage/);
    usageError('status --region ap-east-1', /--region only goes with --stage/);
    usageError('status --local --stage prod', /either --local or --stage/);
    usageError('status --stage bad_stage!', /--stage must be 1–32 letters/);
    usageError('dry-run AccountObj', /give the object and the record id/);
    usageError(
      'dry-run ContactObj 1',
      /invalid <apiName> "ContactObj": expected one of AccountObj, SalesOrderObj, SalesOrderProductObj/,
    );
    usageError('replay', /choose what to replay/);
    usageError('replay --record AccountObj:1 --flow account-to-customer', /use only one of/);
    usageError('replay --record 5f9c', /--record must be <object>:<id>/);
    usageError('replay --flow customers', /invalid --flow "customers"/);
    usageError('replay --dlq purchase-order-to-in-stock', /invalid --dlq/);
    usageError('replay --dlq crm-write-back --force', /--force does not apply to --dlq/);
    usageError('replay --since yesterday', /--since must be a date/);
    usageError('replay --since 2026-02-30', /--since must be a date/);
    usageError('replay --since 2027-01-01', /is in the future/);
    usageError('replay --flow crm-write-back --limit 1.5', /--limit must be a whole number/);
    usageError('backfill', /give the object/);
    usageError('backfill SalesOrderProductObj', /use fxk3 backfill SalesOrderObj/);
    usageError('backfill AccountObj --run a/b', /--run must be/);
    usageError('backfill AccountObj --limit 0', /--limit must be a whole number from 1/);
  });
});

describe('parseInstant', () => {
  it('dates at local midnight, times with their zone, durations back from now', () => {
    assert.equal(parseInstant('2026-11-20', '--since', 'replay', NOW), new Date(2026, 10, 20).getTime());
    assert.equal(
      parseInstant('2026-11-20T08:00+08:00', '--since', 'replay', NOW),
      Date.parse('2026-11-20T00:00:00Z'),
    );
    assert.equal(
      parseInstant('2026-11-20T08:00:00Z', '--since', 'replay', NOW),
      Date.parse('2026-11-20T08:00:00Z'),
    );
    assert.equal(parseInstant('30m', '--since', 'replay', NOW), NOW - 30 * 60_000);
    assert.equal(parseInstant('24h', '--since', 'replay', NOW), NOW - 24 * 3_600_000);
  });
});

describe('defaultRunId', () => {
  it('names a backfill by its --since day as typed, or "all"', () => {
    assert.equal(defaultRunId(undefined), 'all');
    assert.equal(defaultRunId(new Date(2026, 10, 20).getTime()), 'since-20261120');
    assert.equal(backfillCursorName('AccountObj', 'all'), 'backfill.AccountObj.all');
  });
});
