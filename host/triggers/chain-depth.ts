// Which storage-trigger chain a bucket write belongs to. A storage invocation
// at depth d makes its binding calls inside `withChainDepth(d, …)`; the
// object change those calls cause is announced (ObjectStore.onChange) in the
// same async context, where `currentChainDepth()` reads d back, and the
// events it triggers get depth d + 1. Writes from anywhere else (an HTTP
// request, a cron run, the CLI) read 0.
import { AsyncLocalStorage } from "node:async_hooks";

const chain = new AsyncLocalStorage<number>();

/** Runs `work` as part of a storage chain `depth` deep (0: none, no context is made). */
export function withChainDepth<T>(depth: number, work: () => T): T {
  return depth > 0 ? chain.run(depth, work) : work();
}

/** The chain depth of the code running now: 0 outside storage invocations. */
export function currentChainDepth(): number {
  return chain.getStore() ?? 0;
}
