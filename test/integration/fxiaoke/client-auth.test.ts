import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { FxiaokeEmulator } from '../../../infra/local/fxiaoke-emulator/api.ts';
import type { FxiaokeCallInfo } from '../../../lib/fxiaoke/client.ts';
import type { FxiaokeAuthFlow } from '../../../lib/fxiaoke/config.ts';
import { clientFor, type ManualClock, manualClock, startEmulator } from './emulator-harness.ts';

const S = 1000;

for (const flow of ['legacy', 'oauth2'] as const satisfies readonly FxiaokeAuthFlow[]) {
  describe(`Fxiaoke client against the emulator — ${flow} token flow`, () => {
    let clock: ManualClock;
    let emulator: FxiaokeEmulator;

    before(async () => {
      clock = manualClock();
      // require-unique: the emulator refuses a reused thirdTraceId on current-convention calls
      emulator = await startEmulator(clock, { thirdTraceId: 'require-unique' });
    });
    after(() => emulator.close());

    it('creates and reads a record with one token for many calls', async () => {
      emulator.resetStats();
      const client = clientFor(emulator, flow, clock);
      try {
        const { dataId } = await client.create('AccountObj', { name: `${flow} 测试客户` });
        const record = await client.get('AccountObj', dataId);
        assert.equal(record.name, `${flow} 测试客户`);
        assert.equal(record._id, dataId);
        for (let i = 0; i < 5; i++) await client.get('AccountObj', dataId);
        const stats = emulator.stats();
        assert.equal(stats.tokenCalls, 1);
        assert.equal(stats.tokensIssued, 1);
      } finally {
        await client.close();
      }
    });

    it('keeps the token until 6600 s, renews in the 6600–7200 s window, never hits 20016', async () => {
      clock.set(clock.now() + 10_000 * S); // a fresh epoch: any earlier token has expired
      emulator.resetStats();
      const outcomes: FxiaokeCallInfo['outcome'][] = [];
      const client = clientFor(emulator, flow, clock, { onCall: (info) => outcomes.push(info.outcome) });
      try {
        const { dataId } = await client.create('AccountObj', { name: '续期测试' });
        const start = clock.now();
        assert.equal(emulator.stats().tokensIssued, 1);

        clock.set(start + 6590 * S);
        await client.get('AccountObj', dataId);
        assert.equal(emulator.stats().tokenCalls, 1, 'no token call before 6600 s');

        clock.set(start + 6610 * S);
        await client.get('AccountObj', dataId); // served with the old token while the renewal runs
        clock.set(start + 7210 * S); // the first token is dead now
        await client.get('AccountObj', dataId);
        await client.get('AccountObj', dataId);

        const stats = emulator.stats();
        assert.equal(stats.tokensIssued, 2, 'exactly one renewal');
        assert.equal(stats.tokenCalls, 2);
        assert.deepEqual(
          outcomes.filter((o) => o !== 'ok'),
          [],
          'no call failed — in particular no 20016',
        );
      } finally {
        await client.close();
      }
    });

    it('after a long pause it gets a new token instead of using one past 7200 s', async () => {
      clock.set(clock.now() + 20_000 * S);
      emulator.resetStats();
      const outcomes: FxiaokeCallInfo['outcome'][] = [];
      const client = clientFor(emulator, flow, clock, { onCall: (info) => outcomes.push(info.outcome) });
      try {
        const { dataId } = await client.create('AccountObj', { name: '过期测试' });
        clock.advance(7300 * S);
        await client.get('AccountObj', dataId);
        assert.equal(emulator.stats().tokensIssued, 2);
        assert.ok(!outcomes.includes('session-expired'), 'the expired token was never sent');
      } finally {
        await client.close();
      }
    });

    it('20016 (token expired on the server) → one refresh and one retry, transparently', async () => {
      clock.advance(20_000 * S);
      const outcomes: FxiaokeCallInfo['outcome'][] = [];
      const client = clientFor(emulator, flow, clock, { onCall: (info) => outcomes.push(info.outcome) });
      try {
        const { dataId } = await client.create('AccountObj', { name: '20016 测试' });
        emulator.resetStats();
        outcomes.length = 0;
        emulator.setFaults({ expireTokens: true });
        const record = await client.get('AccountObj', dataId);
        emulator.setFaults({});
        assert.equal(record._id, dataId);
        assert.deepEqual(outcomes, ['session-expired', 'ok', 'ok'], 'refused call, token call, retried call');
        assert.equal(emulator.stats().tokensIssued, 1, 'one new token');

        // a write refused with 20016 is retried too (it was not executed): still exactly one record
        emulator.setFaults({ expireTokens: true });
        await client.update('AccountObj', dataId, { remark: '改过' });
        emulator.setFaults({});
        assert.equal((await client.get('AccountObj', dataId)).remark, '改过');
      } finally {
        emulator.setFaults({});
        await client.close();
      }
    });
  });
}
