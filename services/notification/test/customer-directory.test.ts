import { setTimeout as sleep } from "node:timers/promises";
import { CachedCustomerDirectory, type CustomerDirectory } from "../src/customer-directory";
import type { Recipient } from "../src/messages";

/** A directory that answers from a map, counts its lookups, and can be made to fail. */
class CountingDirectory implements CustomerDirectory {
  readonly lookups: string[] = [];
  failing = false;
  constructor(readonly known: Map<string, Recipient>) {}
  async find(customerId: string): Promise<Recipient | undefined> {
    this.lookups.push(customerId);
    await sleep(5);
    if (this.failing) throw new Error("identity is down");
    return this.known.get(customerId);
  }
}

const ada: Recipient = { email: "ada@example.com", displayName: "Ada" };

describe("the customer cache in front of identity", () => {
  it("asks once for a customer looked up repeatedly and concurrently", async () => {
    const identity = new CountingDirectory(new Map([["c-1", ada]]));
    const cached = new CachedCustomerDirectory(identity, { ttlMs: 60_000, maxCustomers: 10 });
    const concurrent = await Promise.all([cached.find("c-1"), cached.find("c-1"), cached.find("c-1")]);
    expect(concurrent).toEqual([ada, ada, ada]);
    expect(await cached.find("c-1")).toEqual(ada);
    expect(identity.lookups).toEqual(["c-1"]);
  });

  it("does not remember an unknown customer or a failure", async () => {
    const identity = new CountingDirectory(new Map());
    const cached = new CachedCustomerDirectory(identity, { ttlMs: 60_000, maxCustomers: 10 });
    expect(await cached.find("c-2")).toBeUndefined();
    identity.known.set("c-2", ada);
    expect(await cached.find("c-2")).toEqual(ada);

    identity.failing = true;
    await expect(cached.find("c-3")).rejects.toThrow("identity is down");
    identity.failing = false;
    identity.known.set("c-3", ada);
    expect(await cached.find("c-3")).toEqual(ada);
    expect(identity.lookups).toEqual(["c-2", "c-2", "c-3", "c-3"]);
  });

  it("asks again once the entry is older than the TTL, and keeps at most maxCustomers", async () => {
    const identity = new CountingDirectory(
      new Map([
        ["a", ada],
        ["b", ada],
        ["c", ada],
      ]),
    );
    const cached = new CachedCustomerDirectory(identity, { ttlMs: 50, maxCustomers: 2 });
    await cached.find("a");
    await sleep(80);
    await cached.find("a");
    await cached.find("b");
    await cached.find("c"); // evicts "a", the least recently used
    await cached.find("a");
    expect(identity.lookups).toEqual(["a", "a", "b", "c", "a"]);
  });
});
