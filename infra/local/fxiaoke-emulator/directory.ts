/**
 * The emulated tenant's employees, and the two ways Fxiaoke names them.
 *
 * The current convention uses CRM employee ids (`"1000"`); the legacy convention converts them to
 * `openUserId`s (`FSUID_` + 32 upper-hex) both in requests and in returned records (`convertUserId`,
 * spec §2.3, §5.2). `-10000` is the system user and is never converted.
 */
import { createHash } from 'node:crypto';

export interface Employee {
  employeeId: string;
  openUserId: string;
  name: string;
  mobile: string;
  email: string;
  departmentId: string;
  /** CRM administrators see and change all data (spec §3); others only records they own. */
  crmAdmin: boolean;
}

export const SYSTEM_USER_ID = '-10000';
export const ADMIN_EMPLOYEE_ID = '1000';
export const SALES_REP_EMPLOYEE_ID = '1001';
/** 全公司 (spec §5.1: `999999` = whole company). */
export const WHOLE_COMPANY_DEPARTMENT = '999999';

const FSUID = /^FSUID_[0-9A-F]{32}$/;

function derivedOpenUserId(seed: string): string {
  return `FSUID_${createHash('sha256').update(seed).digest('hex').slice(0, 32).toUpperCase()}`;
}

export class Directory {
  readonly #byEmployeeId = new Map<string, Employee>();
  readonly #byOpenUserId = new Map<string, Employee>();
  readonly #byMobile = new Map<string, Employee>();

  /**
   * @param adminOpenUserId the identity's openUserId (FXIAOKE_OPEN_USER_ID); used for employee 1000 when it
   *   has the `FSUID_…` shape, otherwise a stable one is derived.
   */
  constructor(adminOpenUserId: string, enterpriseAccount: string) {
    const admin = FSUID.test(adminOpenUserId)
      ? adminOpenUserId
      : derivedOpenUserId(`${enterpriseAccount}:${ADMIN_EMPLOYEE_ID}`);
    this.#add({
      employeeId: ADMIN_EMPLOYEE_ID,
      openUserId: admin,
      name: '系统管理员',
      mobile: '13800001000',
      email: 'admin@example.com',
      departmentId: WHOLE_COMPANY_DEPARTMENT,
      crmAdmin: true,
    });
    this.#add({
      employeeId: SALES_REP_EMPLOYEE_ID,
      openUserId: derivedOpenUserId(`${enterpriseAccount}:${SALES_REP_EMPLOYEE_ID}`),
      name: '李娜',
      mobile: '13800001001',
      email: 'li.na@example.com',
      departmentId: '1001',
      crmAdmin: false,
    });
  }

  #add(employee: Employee): void {
    this.#byEmployeeId.set(employee.employeeId, employee);
    this.#byOpenUserId.set(employee.openUserId, employee);
    this.#byMobile.set(employee.mobile, employee);
  }

  list(): Employee[] {
    return [...this.#byEmployeeId.values()];
  }

  byMobile(mobile: string): Employee | undefined {
    return this.#byMobile.get(mobile);
  }

  /** An employee by employee id (`1000`) or openUserId (`FSUID_…`). */
  find(idOrOpenUserId: string): Employee | undefined {
    return this.#byEmployeeId.get(idOrOpenUserId) ?? this.#byOpenUserId.get(idOrOpenUserId);
  }

  /** Employee id for an id in either form; the system user stays `-10000`; unknown ids → undefined. */
  toEmployeeId(idOrOpenUserId: string): string | undefined {
    if (idOrOpenUserId === SYSTEM_USER_ID) return SYSTEM_USER_ID;
    return this.find(idOrOpenUserId)?.employeeId;
  }

  /** The legacy form of an employee id (`FSUID_…`); unknown ids and the system user pass unchanged. */
  toOpenUserId(employeeId: string): string {
    return this.#byEmployeeId.get(employeeId)?.openUserId ?? employeeId;
  }

  isAdmin(employeeId: string): boolean {
    return employeeId === SYSTEM_USER_ID || this.#byEmployeeId.get(employeeId)?.crmAdmin === true;
  }

  nameOf(employeeId: string): string {
    if (employeeId === SYSTEM_USER_ID) return '系统';
    return this.#byEmployeeId.get(employeeId)?.name ?? employeeId;
  }
}
