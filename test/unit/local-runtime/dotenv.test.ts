import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { environmentWithDotEnv, parseDotEnv } from '../../../infra/local/runtime/dotenv.ts';
import { LocalRuntimeError } from '../../../infra/local/runtime/errors.ts';

describe('parseDotEnv', () => {
  it('reads plain, exported, quoted and multi-line values, and skips comments', () => {
    const text = [
      '# comment',
      '',
      'PLAIN=value with spaces   # trailing comment',
      'export EXPORTED=yes',
      "SINGLE='literal \\n #not a comment'",
      'DOUBLE="line1\\nline2 \\"quoted\\""',
      'MULTI="first',
      'second"',
      'EMPTY=',
      'HASH=abc#def',
      'URL=https://erp.example.com/k3cloud/',
    ].join('\n');
    assert.deepEqual(parseDotEnv(text), {
      PLAIN: 'value with spaces',
      EXPORTED: 'yes',
      SINGLE: 'literal \\n #not a comment',
      DOUBLE: 'line1\nline2 "quoted"',
      MULTI: 'first\nsecond',
      EMPTY: '',
      HASH: 'abc#def',
      URL: 'https://erp.example.com/k3cloud/',
    });
  });

  it('lists every malformed line by number without showing values', () => {
    assert.throws(
      () => parseDotEnv('GOOD=1\nno equals sign here\n1BAD=x\nOPEN="never closed-secret'),
      (error: unknown) => {
        assert.ok(error instanceof LocalRuntimeError);
        assert.equal(error.code, 'LOCAL_SETTINGS_INVALID');
        assert.match(error.message, /\.env:2: .*expected KEY=value/);
        assert.match(error.message, /\.env:3: .*invalid variable name "1BAD"/);
        assert.match(error.message, /\.env:4: .*unterminated double quote/);
        assert.doesNotMatch(error.message, /never closed-secret/);
        return true;
      },
    );
  });
});

describe('environmentWithDotEnv', () => {
  it('lets the process environment win over the file; a missing file is fine', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fxk3-env-'));
    try {
      const path = join(dir, '.env');
      writeFileSync(path, 'A=from-file\nB=from-file\n');
      const { env, loadedFrom } = environmentWithDotEnv({ B: 'from-process' }, path);
      assert.equal(env.A, 'from-file');
      assert.equal(env.B, 'from-process');
      assert.equal(loadedFrom, path);
      assert.equal(environmentWithDotEnv({}, join(dir, 'missing.env')).loadedFrom, undefined);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
