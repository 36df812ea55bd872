import { status as Status } from "@grpc/grpc-js";

/**
 * An expected failure of a domain operation. The kit turns it into the gRPC status it names with the
 * message as given, so messages must be safe to show to the caller.
 */
export class DomainError extends Error {
  constructor(
    readonly code: Status,
    message: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** The request is malformed; `field` names the offending field (proto name, dotted for nesting). */
export class InvalidArgumentError extends DomainError {
  constructor(
    readonly field: string,
    reason: string,
  ) {
    super(Status.INVALID_ARGUMENT, `${field}: ${reason}`);
  }
}

/** The thing asked for does not exist (or must not be revealed to this caller). */
export class NotFoundError extends DomainError {
  constructor(message: string) {
    super(Status.NOT_FOUND, message);
  }
}

/** The thing to create exists already. */
export class AlreadyExistsError extends DomainError {
  constructor(message: string) {
    super(Status.ALREADY_EXISTS, message);
  }
}

/** The system is not in a state that allows the operation (for example, cancelling a shipped order). */
export class FailedPreconditionError extends DomainError {
  constructor(message: string) {
    super(Status.FAILED_PRECONDITION, message);
  }
}

/** A concurrency conflict; the caller may retry the whole operation. */
export class AbortedError extends DomainError {
  constructor(message: string) {
    super(Status.ABORTED, message);
  }
}

/** A dependency is down for now; the caller may retry with backoff. */
export class UnavailableError extends DomainError {
  constructor(message: string) {
    super(Status.UNAVAILABLE, message);
  }
}

/** The caller is not who they need to be. */
export class UnauthenticatedError extends DomainError {
  constructor(message: string) {
    super(Status.UNAUTHENTICATED, message);
  }
}

/** The caller is known but not allowed. */
export class PermissionDeniedError extends DomainError {
  constructor(message: string) {
    super(Status.PERMISSION_DENIED, message);
  }
}

/** A limit was hit (rate, quota, concurrency). */
export class ResourceExhaustedError extends DomainError {
  constructor(message: string) {
    super(Status.RESOURCE_EXHAUSTED, message);
  }
}

/** The status code names grpc-js uses, by number. */
export function statusName(code: number): string {
  return Status[code] ?? `CODE_${code}`;
}
