import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidInputError } from '../../../lib/errors.ts';
import { parseScheduledInput } from '../../../lib/sync/handlers.ts';
import { epochMsToK3Text, k3TextToEpochMs } from '../../../lib/sync/scheduled.ts';
import { routeOf } from '../../../lib/sync/webhook.ts';
import { exampleConfig } from '../mappings/helpers.ts';

describe('sync/handlers parseScheduledInput', () => {
  it('recognises an EventBridge scheduled event', () => {
    assert.deepEqual(
      parseScheduledInput({ source: 'aws.events', 'detail-type': 'Scheduled Event', detail: {} }),
      { kind: 'schedule' },
    );
  });

  it('accepts a direct invoke with bill numbers (trimmed)', () => {
    assert.deepEqual(parseScheduledInput({ billNos: [' CGDD000001 ', 'CGDD000002'] }), {
      kind: 'request',
      billNos: ['CGDD000001', 'CGDD000002'],
    });
  });

  it('refuses anything else with a message showing the expected shape', () => {
    for (const bad of [
      {},
      { billNos: [] },
      { billNos: ['x'], extra: 1 },
      'CGDD000001',
      null,
      { billNos: [''] },
    ]) {
      assert.throws(
        () => parseScheduledInput(bad),
        (error: unknown) => error instanceof InvalidInputError && error.message.includes('{"billNos"'),
      );
    }
  });
});

describe('sync/webhook routeOf', () => {
  it('routes by the enabled flows of the mapping config', () => {
    const config = exampleConfig();
    assert.equal(routeOf(config, 'AccountObj'), 'accountToCustomer');
    assert.equal(routeOf(config, 'SalesOrderObj'), 'salesOrderToSaleOrder');
    assert.equal(
      routeOf(config, 'SalesOrderProductObj'),
      'salesOrderToSaleOrder',
      'a line change syncs its order',
    );
    assert.equal(routeOf(config, 'ContactObj'), undefined);
    const disabled = { ...config, flows: { ...config.flows, accountToCustomer: undefined } };
    assert.equal(routeOf(disabled, 'AccountObj'), undefined);
  });
});

describe('sync/scheduled K3 time ⇄ cursor', () => {
  it('converts K3 server wall-clock text (GMT+8) to instants and back (seconds)', () => {
    const ms = k3TextToEpochMs('2026-11-23T10:05:00.5', 480);
    assert.equal(ms, Date.UTC(2026, 10, 23, 2, 5, 0, 500));
    assert.equal(epochMsToK3Text(ms ?? 0, 480), '2026-11-23 10:05:00');
    assert.equal(k3TextToEpochMs('not a date', 480), undefined);
  });
});
