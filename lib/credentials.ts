/**
 * Shared credentials (the K3Cloud session, the Fxiaoke corpAccessToken) behind one small interface.
 *
 * Both vendors punish careless logins: K3Cloud sessions are heavyweight server objects, and Fxiaoke's token
 * endpoint allows ~10 calls per minute and no concurrency. So every client asks a {@link CredentialStore}
 * for the current credential, and only the store decides when to issue a new one — once, for everybody
 * ("single-flight"). The in-memory store below serves one process; `lib/state` provides the DynamoDB store
 * that serves every concurrent Lambda copy with the same contract.
 */

/** What every stored credential carries besides its vendor-specific payload. */
export interface Credential {
  /**
   * Identifies this particular credential (e.g. a hash of the session id or the token). Used for
   * compare-and-delete in {@link CredentialStore.invalidate}: a report about an old credential must not
   * discard a newer one that another caller has already obtained.
   */
  id: string;
  /** Epoch ms after which a renewal should be attempted (the old credential is still usable until expiry). */
  renewAtMs: number;
  /** Epoch ms after which the credential must not be used any more. */
  expiresAtMs: number;
}

/** Issues a brand-new credential by calling the vendor's login / token endpoint. */
export type IssueCredential<T extends Credential> = () => Promise<T>;

export interface CredentialStore<T extends Credential> {
  /**
   * The credential to use now for `key` (e.g. `k3cloud:<acctId>:<user>`).
   *
   * - none stored, or stored one past `expiresAtMs` → `issue()` is called by exactly one caller; the others
   *   wait for and share its result;
   * - past `renewAtMs` but before `expiresAtMs` → one caller renews; callers that find a renewal already
   *   under way keep using the current credential instead of waiting;
   * - otherwise the stored credential is returned without any remote call.
   *
   * @throws whatever `issue()` throws (a login failure is reported to every waiting caller).
   */
  get(key: string, issue: IssueCredential<T>): Promise<T>;

  /**
   * Report that the server rejected credential `id` (K3 MsgCode 1, Fxiaoke 20016). If it is still the stored
   * one it is discarded, so the next {@link get} issues a new one; a report about a credential that has
   * already been replaced is ignored. Many callers reporting the same dead credential cause one re-issue.
   */
  invalidate(key: string, id: string): Promise<void>;
}

/** Source of the current time in epoch ms; injected so tests can move time without waiting. */
export type Clock = () => number;

export const systemClock: Clock = () => Date.now();

/**
 * Process-local store: single-flight through a shared promise per key. Suitable for one long-running process
 * (the local stack, the CLI, tests); Lambda deployments use the DynamoDB store from `lib/state`.
 */
export class InMemoryCredentialStore<T extends Credential> implements CredentialStore<T> {
  readonly #current = new Map<string, T>();
  readonly #inFlight = new Map<string, Promise<T>>();
  readonly #clock: Clock;

  constructor(clock: Clock = systemClock) {
    this.#clock = clock;
  }

  async get(key: string, issue: IssueCredential<T>): Promise<T> {
    const now = this.#clock();
    const current = this.#current.get(key);
    if (current && now < current.renewAtMs) return current;
    const pending = this.#inFlight.get(key);
    if (current && now < current.expiresAtMs) {
      // Renewal window: start one renewal, but keep serving the still-valid credential meanwhile.
      if (!pending) this.#startIssue(key, issue).catch(() => {});
      return current;
    }
    return pending ?? this.#startIssue(key, issue);
  }

  async invalidate(key: string, id: string): Promise<void> {
    if (this.#current.get(key)?.id === id) this.#current.delete(key);
  }

  #startIssue(key: string, issue: IssueCredential<T>): Promise<T> {
    const promise = issue()
      .then((credential) => {
        this.#current.set(key, credential);
        return credential;
      })
      .finally(() => {
        if (this.#inFlight.get(key) === promise) this.#inFlight.delete(key);
      });
    this.#inFlight.set(key, promise);
    return promise;
  }
}
