// The runtime's side of the bridge in protocol.ts: the two host functions
// captured at boot, the numbered ops the host answers with `resolve`, and which
// invocation is running right now (so that logs can name it).
//
// The host functions are only ever called directly (never through .call,
// .apply, Reflect or anything user code could replace), so no user-reachable
// code ever receives them.
import type { IsolateMessage, OutboundRequest, SubtleMethod } from "./protocol.js";
import { MAX_LOG_CHARS_PER_INVOCATION, MAX_RANDOM_BYTES } from "./protocol.js";

type OpRequest =
  | { name: "timer"; ms: number; id: number | null }
  | { name: "request-body-read"; id: number }
  | { name: "fetch"; id: number | null; request: OutboundRequest }
  | { name: "fetch-upload"; fetch: number; data: Uint8Array | null }
  | { name: "fetch-read"; fetch: number }
  | { name: "subtle"; method: SubtleMethod; args: unknown[] }
  | { name: "binding"; id: number | null; binding: string; method: string; args: unknown[] };

/**
 * Called once with the answer to an op: `ok` false means `value` is an error
 * message, or for `subtle` a SubtleError.
 */
export type OpSettle = (ok: boolean, value: unknown) => void;

let emitToHost: ((batch: IsolateMessage | IsolateMessage[] | string) => unknown) | null = null;
let randomFromHost: ((length: number) => unknown) | null = null;

/** Takes the host functions; index.ts deletes the globals they came in. */
export function connectHost(emit: unknown, randomBytes: unknown): void {
  if (typeof emit !== "function" || typeof randomBytes !== "function") {
    throw new Error("atoll runtime: __atoll_emit and __atoll_random_bytes must be set before the runtime runs");
  }
  emitToHost = emit as (batch: IsolateMessage | IsolateMessage[] | string) => unknown;
  randomFromHost = randomBytes as (length: number) => unknown;
}

/** Messages emitted since the last flush, or null when none are waiting. */
let outbox: IsolateMessage[] | null = null;
/** Some message in the outbox holds bytes: it crosses as a structured copy, not as JSON. */
let outboxHasBytes = false;
/** Captured at boot: user code may replace JSON's methods. */
const stringify = JSON.stringify;
/** Captured at boot: user code replacing Promise or queueMicrotask must not stop flushes. */
const settled = Promise.resolve();
const flushSoon = (): void => void settled.then(flushOutbox);

/**
 * Queues one message for the host. Messages of one turn (a response and its
 * `done`, a burst of logs) leave together at the end of the current microtask
 * checkpoint: each host callback costs a thread hop, a batch costs one.
 */
export function emit(message: IsolateMessage): void {
  if (!outboxHasBytes && carriesBytes(message)) outboxHasBytes = true;
  if (outbox === null) {
    outbox = [message];
    flushSoon();
  } else outbox.push(message);
}

/** Messages that may hold a Uint8Array (protocol.ts): those cross as a structured copy. */
function carriesBytes(message: IsolateMessage): boolean {
  switch (message.t) {
    case "response":
      return message.body instanceof Uint8Array;
    case "chunk":
      return true;
    case "op":
      return message.name === "binding" || message.name === "subtle" || message.name === "fetch-upload" || (message.name === "fetch" && message.request.body instanceof Uint8Array);
    default:
      return false;
  }
}

function flushOutbox(): void {
  const send = emitToHost;
  const batch = outbox;
  const structured = outboxHasBytes;
  outbox = null;
  outboxHasBytes = false;
  if (send === null || batch === null) return;
  try {
    // A string crosses for the cost of a copy; a structured copy of the same messages costs ~2 µs more.
    send(structured ? (batch.length === 1 ? batch[0]! : batch) : stringify(batch));
  } catch {
    // Only an uncopyable message can fail here, and every message is built
    // from strings, numbers and Uint8Arrays by the runtime itself.
  }
}

/** `length` fresh random bytes from the host (a synchronous call, ~80 µs). */
export function hostRandomBytes(length: number): Uint8Array {
  const fetchBytes = randomFromHost;
  if (fetchBytes === null || length > MAX_RANDOM_BYTES) throw new Error("crypto: random bytes are not available");
  let bytes: unknown;
  try {
    bytes = fetchBytes(length);
  } catch (error) {
    // Host errors carry host stacks and paths: keep the message only.
    throw new Error(`crypto: random bytes failed: ${messageOf(error)}`);
  }
  if (!(bytes instanceof Uint8Array) || bytes.length !== length) throw new Error("crypto: the host returned no random bytes");
  return bytes;
}

// ---- ops -------------------------------------------------------------------

let lastOp = 0;
const pendingOps = new Map<number, OpSettle>();

/** Asks the host for something asynchronous; `settle` runs when it answers. */
export function startOp(request: OpRequest, settle: OpSettle): number {
  const op = ++lastOp;
  pendingOps.set(op, settle);
  emit({ t: "op", op, ...request });
  return op;
}

/** Drops interest in an op and tells the host (clearTimeout). */
export function cancelOp(op: number): void {
  if (pendingOps.delete(op)) emit({ t: "cancel", op });
}

/**
 * Tells the host that op `op` and whatever it holds for it are no longer
 * wanted, answered or not (a fetch whose response body nobody will read).
 */
export function releaseOp(op: number): void {
  pendingOps.delete(op);
  emit({ t: "cancel", op });
}

/** Entry point: the host answers op `op`. Unknown or cancelled ops are ignored. */
export function resolveOp(op: number, ok: boolean, value: unknown): void {
  const settle = pendingOps.get(op);
  if (settle === undefined) return;
  pendingOps.delete(op);
  settle(ok === true, value);
}

// ---- which invocation is running -------------------------------------------

let runningInvocation: number | null = null;
const liveInvocations = new Set<number>();

/** Runs `fn` synchronously as part of invocation `id` (null: none). */
export function runAs<T>(id: number | null, fn: () => T): T {
  const previous = runningInvocation;
  runningInvocation = id;
  try {
    return fn();
  } finally {
    runningInvocation = previous;
  }
}

export function invocationStarted(id: number): void {
  liveInvocations.add(id);
}

export function invocationEnded(id: number): void {
  liveInvocations.delete(id);
  logChars.delete(id);
}

/** Console characters each live invocation has sent. */
const logChars = new Map<number, number>();

/**
 * Counts `chars` of console output against invocation `id`'s budget; false
 * once it is spent. The first message past it still goes: the host, which
 * enforces the budget, then says that the rest is dropped.
 */
export function spendLogChars(id: number | null, chars: number): boolean {
  if (id === null) return true;
  const before = logChars.get(id) ?? 0;
  if (before > MAX_LOG_CHARS_PER_INVOCATION) return false;
  logChars.set(id, before + chars);
  return true;
}

/**
 * The invocation that code running now belongs to, when known. Code resumed
 * after an `await` cannot be traced in a bare V8 context, so when exactly one
 * invocation is live it gets the credit.
 */
export function currentInvocation(): number | null {
  if (runningInvocation !== null) return runningInvocation;
  if (liveInvocations.size === 1) {
    for (const id of liveInvocations) return id;
  }
  return null;
}

/** The message of anything thrown, without ever throwing itself. */
export function messageOf(error: unknown): string {
  try {
    if (error !== null && typeof error === "object" && "message" in error) return String((error as { message: unknown }).message);
    return String(error);
  } catch {
    return "(unprintable error)";
  }
}
