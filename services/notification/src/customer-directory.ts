import type { IdentityServiceService } from "@agora/contracts/agora/identity/v1/identity_service";
import { type PromiseClient, statusName } from "@agora/service-kit";
import { LRUCache } from "lru-cache";
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

/**
 * Remembers what another directory found, for `ttlMs`, up to `maxCustomers` (least recently used
 * go first). An order's events reach notification four times for the same customer within seconds;
 * this makes that one GetCustomer. Concurrent lookups of one customer share a call (lru-cache's
 * fetch). "No such customer" and failures are not remembered: a customer who registers a moment
 * later is found, and a failed lookup is retried. A changed email address is seen after `ttlMs`.
 */
export class CachedCustomerDirectory implements CustomerDirectory {
  private readonly cache: LRUCache<string, Recipient>;

  constructor(directory: CustomerDirectory, options: { ttlMs: number; maxCustomers: number }) {
    this.cache = new LRUCache<string, Recipient>({
      max: options.maxCustomers,
      ttl: options.ttlMs,
      fetchMethod: (customerId) => directory.find(customerId),
    });
  }

  find(customerId: string): Promise<Recipient | undefined> {
    return this.cache.fetch(customerId);
  }
}
