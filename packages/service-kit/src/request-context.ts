import { AsyncLocalStorage } from "node:async_hooks";

/** What the kit knows about the request being handled, available anywhere below the handler. */
export interface RequestContext {
  /** Id tying together everything one outside request caused, across services and events. */
  readonly correlationId: string;
  /** When the caller stops waiting; outgoing calls never get a later deadline. */
  readonly deadline?: Date;
  /** Aborted when the caller cancels or the deadline passes. */
  readonly signal?: AbortSignal;
  /** The authenticated customer, when the gateway passed one. */
  readonly customerId?: string;
}

const storage = new AsyncLocalStorage<RequestContext>();

/** The context of the request being handled, if any. */
export function currentRequestContext(): RequestContext | undefined {
  return storage.getStore();
}

/** Runs `fn` with `context` as the current request context. */
export function runWithRequestContext<T>(context: RequestContext, fn: () => T): T {
  return storage.run(context, fn);
}

/** Metadata keys the kit reads and writes. */
export const metadataKeys = {
  correlationId: "x-correlation-id",
  customerId: "x-agora-customer-id",
  requestId: "x-request-id",
} as const;
