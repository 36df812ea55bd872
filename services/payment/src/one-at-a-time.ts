/**
 * Runs tasks that share a key one after another, in the order they arrive; tasks of different keys
 * run at once. Payment keys its operations by payment id, so in one process a capture, void or refund
 * of a payment — processor call included — never overlaps another of the same payment, without holding
 * a database transaction (or a row lock) across the processor call. Across processes the database
 * re-check after the call is what keeps a payment consistent.
 */
export class OneAtATime {
  private readonly tails = new Map<string, Promise<void>>();

  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const result = previous.then(task);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return result;
  }

  /** Keys with a task running or waiting (for tests). */
  get busyKeys(): number {
    return this.tails.size;
  }
}
