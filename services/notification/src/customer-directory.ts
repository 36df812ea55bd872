import type { IdentityServiceService } from "@agora/contracts/agora/identity/v1/identity_service";
import { type PromiseClient, statusName } from "@agora/service-kit";
import type { Recipient } from "./messages";

/** Finds where and how to address a customer. */
export interface CustomerDirectory {
  /** The customer's address and name; undefined when no such customer exists. Throws when it cannot tell. */
  find(customerId: string): Promise<Recipient | undefined>;
}

/**
 * Asks identity (GetCustomer, as a trusted service: no customer metadata). NOT_FOUND and a
 * malformed id mean "no such customer"; anything else (identity down, circuit open, deadline)
 * throws, so the kit retries the event with backoff.
 */
export class IdentityDirectory implements CustomerDirectory {
  constructor(private readonly identity: PromiseClient<typeof IdentityServiceService>) {}

  async find(customerId: string): Promise<Recipient | undefined> {
    try {
      const { customer } = await this.identity.getCustomer({ customerId });
      return customer ? { email: customer.email, displayName: customer.displayName } : undefined;
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      const name = typeof code === "number" ? statusName(code) : "";
      if (name === "NOT_FOUND" || name === "INVALID_ARGUMENT") return undefined;
      throw error;
    }
  }
}
