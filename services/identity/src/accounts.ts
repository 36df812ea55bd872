import { UnauthenticatedError } from "@agora/service-kit";
import type { Logger } from "pino";
import type { CustomerStore } from "./customer-store";
import { type NewCustomer, rolesFor } from "./customers";
import type { CustomerRow } from "./db/schema";
import type { PasswordHasher } from "./passwords";
import type { IssuedToken, TokenIssuer } from "./tokens";

/** The one answer to every failed login: it does not say whether the email or the password was wrong. */
export const loginFailedMessage = "email or password is wrong";

/** A successful login. */
export interface LoginResult {
  readonly customer: CustomerRow;
  readonly token: IssuedToken;
  readonly roles: readonly string[];
}

/**
 * Registration and login: hashing, credential checks and token issuing, independent of gRPC.
 *
 * A login with an unknown email still runs one scrypt verification (against a dummy hash with the
 * current parameters), so it takes about as long as a wrong password; both fail with
 * {@link loginFailedMessage}. Rate limiting, lockouts and finer timing side channels are out of
 * scope here (the gateway limits requests per client).
 */
export class Accounts {
  constructor(
    private readonly store: CustomerStore,
    private readonly hasher: PasswordHasher,
    private readonly tokens: TokenIssuer,
    private readonly adminEmails: ReadonlySet<string>,
    private readonly logger: Logger,
  ) {}

  /** Registers a validated customer; ALREADY_EXISTS when the email is taken. */
  async register(customer: NewCustomer): Promise<CustomerRow> {
    const passwordHash = await this.hasher.hash(customer.password);
    return this.store.register({ email: customer.email, displayName: customer.displayName, passwordHash });
  }

  /** Checks the credentials and issues a token; UNAUTHENTICATED with one message for every failure. */
  async login(credentials: { email: string; password: string }): Promise<LoginResult> {
    const customer = await this.store.findByEmail(credentials.email);
    const matches = customer
      ? await this.hasher.verify(credentials.password, customer.passwordHash)
      : await this.hasher.verifyAgainstDummy(credentials.password);
    if (!customer || !matches) throw new UnauthenticatedError(loginFailedMessage);
    if (this.hasher.needsRehash(customer.passwordHash)) await this.upgradeHash(customer, credentials.password);
    const roles = rolesFor(customer.email, this.adminEmails);
    const token = await this.tokens.issue({ customerId: customer.customerId, email: customer.email, roles });
    return { customer, token, roles };
  }

  /** Re-hashes with the current parameters; a failure only costs the upgrade, never the login. */
  private async upgradeHash(customer: CustomerRow, password: string): Promise<void> {
    try {
      const upgraded = await this.hasher.hash(password);
      await this.store.replacePasswordHash(customer.customerId, customer.passwordHash, upgraded);
      this.logger.info({ customer_id: customer.customerId }, "password hash upgraded to the current parameters");
    } catch (error) {
      this.logger.warn({ customer_id: customer.customerId, err: error }, "could not upgrade a password hash");
    }
  }
}
