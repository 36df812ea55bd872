import { randomUUID } from "node:crypto";
import { AlreadyExistsError, type Db, NotFoundError, type Tx } from "@agora/service-kit";
import { and, eq } from "drizzle-orm";
import { type CustomerRow, customers } from "./db/schema";

type Schema = { customers: typeof customers };

/** What happens in the transaction that registers a customer: main.ts records the event in the outbox. */
export type CustomerRegisteredHook = (tx: Tx<Schema>, customer: CustomerRow) => Promise<void>;

/** Reads and writes customers. */
export class CustomerStore {
  constructor(
    private readonly db: Db<Schema>,
    private readonly registered: CustomerRegisteredHook,
  ) {}

  /** Stores a new customer with a fresh id; ALREADY_EXISTS when the email is taken. */
  async register(customer: { email: string; displayName: string; passwordHash: string }): Promise<CustomerRow> {
    return this.db.transaction(async (tx) => {
      const [row] = await tx
        .insert(customers)
        .values({ customerId: randomUUID(), ...customer })
        .onConflictDoNothing({ target: customers.email })
        .returning();
      if (!row) throw new AlreadyExistsError(`a customer with email ${customer.email} is already registered`);
      await this.registered(tx, row);
      return row;
    });
  }

  /** The customer with this (lower-case) email, if any. */
  async findByEmail(email: string): Promise<CustomerRow | undefined> {
    const [row] = await this.db.select().from(customers).where(eq(customers.email, email));
    return row;
  }

  /** The customer or NOT_FOUND. */
  async get(customerId: string): Promise<CustomerRow> {
    const [row] = await this.db.select().from(customers).where(eq(customers.customerId, customerId));
    if (!row) throw new NotFoundError(`customer ${customerId} not found`);
    return row;
  }

  /**
   * Replaces a password hash made with older parameters, after a login proved the password. Only
   * when the stored hash is still `expected`, so a concurrent change is never overwritten.
   */
  async replacePasswordHash(customerId: string, expected: string, passwordHash: string): Promise<void> {
    await this.db
      .update(customers)
      .set({ passwordHash, updatedAt: new Date() })
      .where(and(eq(customers.customerId, customerId), eq(customers.passwordHash, expected)));
  }
}
