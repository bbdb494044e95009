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
