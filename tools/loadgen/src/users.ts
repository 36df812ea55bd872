import type { NewCustomer, Session } from "./shop-api";

/** How a virtual user signs in: the flow context's step runner and the API calls, bound to the flow. */
export interface SignIn {
  register(customer: NewCustomer): Promise<unknown>;
  login(email: string, password: string): Promise<Session>;
}

/** Tokens are renewed this long before they expire. */
const renewBeforeMs = 30_000;

/**
 * One simulated shopper. It keeps its customer account and access token across flows: the first
 * flow that needs a session registers and logs in (concurrent flows of the same user wait for that
 * one sign-in), later flows reuse the token until it is about to expire or was refused.
 */
export class VirtualUser {
  private credentials: NewCustomer | undefined;
  private current: Session | undefined;
  private pending: Promise<Session> | undefined;
  private accounts = 0;

  constructor(
    readonly index: number,
    private readonly runId: string,
  ) {}

  /** Name used on orders and accounts. */
  get displayName(): string {
    return `Load User ${this.index}`;
  }

  /** A never-used account for this user (unique per run, user and attempt). */
  newCustomer(): NewCustomer {
    this.accounts++;
    return {
      email: `loadgen+${this.runId}-${this.index}-${this.accounts}@example.com`,
      password: `loadgen-${this.runId}-password`,
      displayName: this.displayName,
    };
  }

  /** A valid session, signing in (registering first if this user has no account yet) when needed. */
  session(signIn: SignIn, now = Date.now()): Promise<Session> {
    if (this.current && this.current.expiresAt - renewBeforeMs > now) return Promise.resolve(this.current);
    this.pending ??= this.signIn(signIn).finally(() => {
      this.pending = undefined;
    });
    return this.pending;
  }

  /** Takes over an account and session made by the register-login flow. */
  adopt(customer: NewCustomer, session: Session): void {
    this.credentials = customer;
    this.current = session;
  }

  /** Forgets the token (after the API refused it); the next flow logs in again. */
  invalidate(): void {
    this.current = undefined;
  }

  private async signIn(signIn: SignIn): Promise<Session> {
    if (!this.credentials) {
      const customer = this.newCustomer();
      await signIn.register(customer);
      this.credentials = customer;
    }
    this.current = await signIn.login(this.credentials.email, this.credentials.password);
    return this.current;
  }
}
