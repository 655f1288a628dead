import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { syncConfigSchema } from '../../../lib/mappings/config.ts';
import { listConfigKeys } from '../../../lib/mappings/config-report.ts';

const doc = readFileSync(new URL('../../../docs/mapping-config.md', import.meta.url), 'utf8');

describe('docs/mapping-config.md', () => {
  it('documents every config key the schema accepts', () => {
    const missing: string[] = [];
    for (const path of listConfigKeys(syncConfigSchema)) {
      // Rule, dictionary and external key members are documented once, in their own tables (§5–§7).
      const shared = /(?:^|\.)(?:fields|entryFields|dictionaries)\.\*\.([A-Za-z]+)$/.exec(path);
      const key = /\.(externalKey\.[A-Za-z]+)$/.exec(path);
      const wanted = shared ? `\`${shared[1]}\`` : key ? `\`${key[1]}\`` : `\`${path}\``;
      if (!doc.includes(wanted)) missing.push(path);
    }
    assert.deepEqual(missing, []);
  });
});
