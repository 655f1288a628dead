/**
 * The emulator's answers have the byte shape of the real captures in `test/fixtures/k3cloud/captured/`:
 * same keys in the same order, same value types, `ErrorCode` only on failure.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { K3CloudEmulator } from '../../../infra/local/k3cloud-emulator/api.ts';
import {
  post,
  SANDBOX,
  Session,
  saleOrderModel,
  service,
  shapeDifferences,
  startEmulator,
} from './support.ts';

const fixture = (name: string): unknown =>
  JSON.parse(readFileSync(new URL(`../../fixtures/k3cloud/captured/${name}`, import.meta.url), 'utf8'));

function assertShape(actual: unknown, name: string): void {
  const differences = shapeDifferences(actual, fixture(name));
  assert.deepEqual(differences, [], `${name}: ${JSON.stringify(actual)}`);
}

describe('k3cloud emulator: captured wire fixtures', () => {
  let emulator: K3CloudEmulator;
  let session: Session;
  before(async () => {
    emulator = await startEmulator();
    session = await Session.open(emulator.url);
  });
  after(() => emulator.close());

  it('ValidateUser LoginResult', async () => {
    const response = await post(emulator.url, service('AuthService.ValidateUser'), {
      acctID: SANDBOX.acctId,
      username: SANDBOX.username,
      password: SANDBOX.password,
      lcid: 2052,
    });
    assertShape(response.json(), 'validate-user-login-result.json');
  });

  it('Save success (no ErrorCode key), then duplicate number', async () => {
    const saved = await session.save('SAL_SaleOrder', saleOrderModel({ FBillNo: 'test5' }));
    assertShape(saved, 'save-success.json');
    assert.equal('ErrorCode' in saved.Result.ResponseStatus, false);
    const duplicate = await session.save('SAL_SaleOrder', saleOrderModel({ FBillNo: 'test5' }));
    assertShape(duplicate, 'duplicate-number.json');
    assert.equal(
      duplicate.Result.ResponseStatus.Errors[0]?.Message,
      '违反字段唯一性要求：编码唯一。[test5]在当前系统中已经被使用。',
    );
  });

  it('Audit success and Audit failure (already audited)', async () => {
    const saved = await session.save('SAL_SaleOrder', saleOrderModel());
    const number = saved.Result.Number ?? '';
    await session.op('Submit', 'SAL_SaleOrder', { Numbers: [number] });
    assertShape(await session.op('Audit', 'SAL_SaleOrder', { Numbers: [number] }), 'audit-success.json');
    const again = await session.op('Audit', 'SAL_SaleOrder', { Numbers: [number] });
    assertShape(again, 'audit-failure-already-audited.json');
    assert.equal(
      again.Result.ResponseStatus.Errors[0]?.Message,
      `单据编号为“${number}”的销售订单，单据已经审核！`,
    );
  });

  it('session lost', async () => {
    const response = await post(emulator.url, service('DynamicFormService.Save'), {
      formid: 'BD_Customer',
      data: { Model: { FName: 'x' } },
    });
    assertShape(response.json(), 'session-lost.json');
  });

  it('ExecuteBillQuery [[…]] error for an unknown field', async () => {
    const response = await session.call('ExecuteBillQuery', {
      data: { FormId: 'SAL_SaleOrder', FieldKeys: 'FBillNo,FIssueType' },
    });
    const body = response.json() as [[{ Result: { ResponseStatus: { Errors: { Message: string }[] } } }]];
    assert.equal(body[0][0].Result.ResponseStatus.Errors[0]?.Message, '元数据中标识为FIssueType的字段不存在');
    assertShape(body, 'execute-bill-query-error.json');
  });
});
