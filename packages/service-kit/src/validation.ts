import { InvalidArgumentError } from "./errors";

/**
 * Small checks for request fields that throw INVALID_ARGUMENT naming the field, so every service
 * reports bad input the same way. Field names are the proto names (snake_case), dotted for nesting.
 */
export const check = {
  /** A required string of 1..max characters (after trimming). Returns it trimmed. */
  text(field: string, value: string | undefined, options: { max: number; min?: number }): string {
    const trimmed = (value ?? "").trim();
    const min = options.min ?? 1;
    if (trimmed.length < min) {
      throw new InvalidArgumentError(field, min === 1 ? "is required" : `must have at least ${min} characters`);
    }
    if (trimmed.length > options.max)
      throw new InvalidArgumentError(field, `must have at most ${options.max} characters`);
    return trimmed;
  },

  /** An optional string of at most max characters. Returns it trimmed ("" when unset). */
  optionalText(field: string, value: string | undefined, options: { max: number }): string {
    const trimmed = (value ?? "").trim();
    if (trimmed.length > options.max)
      throw new InvalidArgumentError(field, `must have at most ${options.max} characters`);
    return trimmed;
  },

  /** A required string matching a pattern; `shape` says in words what is expected. */
  pattern(field: string, value: string | undefined, pattern: RegExp, shape: string): string {
    const trimmed = (value ?? "").trim();
    if (trimmed === "") throw new InvalidArgumentError(field, "is required");
    if (!pattern.test(trimmed)) throw new InvalidArgumentError(field, `must be ${shape}`);
    return trimmed;
  },

  /** An integer within [min, max]. */
  integer(field: string, value: number | undefined, options: { min: number; max: number }): number {
    if (value === undefined || !Number.isInteger(value)) throw new InvalidArgumentError(field, "must be an integer");
    if (value < options.min || value > options.max) {
      throw new InvalidArgumentError(field, `must be between ${options.min} and ${options.max}`);
    }
    return value;
  },

  /** A list of min..max entries. */
  list<T>(field: string, value: readonly T[] | undefined, options: { min: number; max: number }): readonly T[] {
    const list = value ?? [];
    if (list.length < options.min) {
      throw new InvalidArgumentError(
        field,
        options.min === 1 ? "must not be empty" : `needs at least ${options.min} entries`,
      );
    }
    if (list.length > options.max) throw new InvalidArgumentError(field, `must have at most ${options.max} entries`);
    return list;
  },

  /** A present sub-message. */
  present<T>(field: string, value: T | undefined): T {
    if (value === undefined || value === null) throw new InvalidArgumentError(field, "is required");
    return value;
  },

  /** A UUID (any version), as the ids Agora generates. */
  uuid(field: string, value: string | undefined): string {
    return check
      .pattern(
        field,
        value,
        /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i,
        "a UUID such as 0b6e1c1e-5d1b-4c55-9d3f-2c1e0f0a9b11",
      )
      .toLowerCase();
  },
};
