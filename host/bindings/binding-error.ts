// What a binding call (KV, bucket) fails with: it reaches the function as a
// TypeError (bad argument) or an Error (anything else), with this message and
// no host stack.
export class BindingCallError extends Error {
  constructor(
    readonly errorName: "TypeError" | "Error",
    message: string,
  ) {
    super(message);
    this.name = "BindingCallError";
  }

  static badArgument(message: string): BindingCallError {
    return new BindingCallError("TypeError", message);
  }
}

/** An options argument: a plain object, or {} when absent; a TypeError for the function otherwise. */
export function plainObject(value: unknown, what: string): Record<string, unknown> {
  if (value === undefined || value === null) return {};
  if (typeof value !== "object" || Array.isArray(value)) throw BindingCallError.badArgument(`${what} must be an object`);
  return value as Record<string, unknown>;
}
