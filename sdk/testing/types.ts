// The public face of `atoll/sdk/testing`: what a user's test sees. Only web
// types (Request, Response, URL) appear here, so it type-checks with Node's
// typings as well as with atoll/sdk/globals. The implementation is ./index.ts.

/** Options of `createTestHost`. */
export interface TestHostOptions {
  /** The function's folder, holding atoll.toml. Default: the current directory. */
  dir?: string;
  /** Values that replace (or add to) atoll.toml's `[vars]` on this host. */
  vars?: Record<string, TestVarValue>;
  /**
   * Secrets the function finds in env. Default: those of the project's
   * `.dev.vars`, if it has one; these are added to them.
   */
  secrets?: Record<string, string>;
  /** Let the function fetch loopback and private addresses, e.g. a mock server the test runs. Default false, as on a production host. */
  allowPrivateFetch?: boolean;
  /** Called with every host log line (invocations, console output, errors with stacks mapped to the sources). Default: kept in `logs` only. */
  onLog?: (line: string) => void;
}

/** A value in `[vars]`. */
export type TestVarValue = string | number | boolean | TestVarValue[] | { [key: string]: TestVarValue };

/** How a scheduled run or a storage event went. */
export interface TestInvocation {
  ok: boolean;
  /** Why it failed: an ATOLL_* code (ATOLL_SCRIPT_THREW, ATOLL_CPU_LIMIT …), the message, and the stack mapped to your sources. */
  error: { code: string; message: string; stack?: string } | null;
  /** The handler called `noRetry()`. */
  noRetry: boolean;
  /** Its console output, in order. */
  logs: { level: string; message: string }[];
  /** Wall-clock time, ms. */
  durationMs: number;
  /** CPU time charged to it, ms (null when it did not run to its end). */
  cpuMs: number | null;
}

/** A storage event to send: a put (default) or delete of `key` in `bucket` (default: the first bucket the function watches). */
export interface TestStorageEvent {
  key: string;
  action?: "put" | "delete";
  bucket?: string;
}

/** A KV namespace, read and written from the test as an operator would (through the host's control API). */
export interface TestKVNamespace {
  /** The value as text, or null. */
  get(key: string): Promise<string | null>;
  /** The value parsed as JSON, or null. */
  getJSON<T = unknown>(key: string): Promise<T | null>;
  put(key: string, value: string | Uint8Array, options?: { expirationTtl?: number; metadata?: unknown }): Promise<void>;
  delete(key: string): Promise<void>;
  /** Every key name, in key order (or those starting with `prefix`). */
  keys(prefix?: string): Promise<string[]>;
}

/** A bucket, read and written from the test (through the host's control API). A put or delete here fires the storage triggers watching it, as any write does. */
export interface TestBucket {
  /** The object as a Response (body, Content-Type, ETag …), or null when there is none. */
  get(key: string): Promise<Response | null>;
  /** The object's bytes as text, or null. */
  text(key: string): Promise<string | null>;
  put(key: string, value: string | Uint8Array, options?: { contentType?: string; customMetadata?: Record<string, string> }): Promise<void>;
  delete(key: string): Promise<void>;
  /** Every key, in key order (or those starting with `prefix`). */
  keys(prefix?: string): Promise<string[]>;
}

/** A real Atoll host running one function, for a test. */
export interface TestHost {
  /** The function's name (atoll.toml `name`). */
  readonly name: string;
  /** Where it answers: `http://<name>.localhost:<port>`. */
  readonly url: string;
  /** The version deployed last. */
  readonly version: number;
  /**
   * The host's log lines so far: one per invocation (written once the
   * invocation is over, so just after its response), the function's console
   * output, errors with their stacks mapped to your sources.
   */
  readonly logs: readonly string[];
  /** Resolves with the first log line (already there, or to come) that matches; rejects after `timeoutMs` (default 5000). */
  waitForLog(pattern: RegExp | string, timeoutMs?: number): Promise<string>;
  /**
   * Sends a request to the function through the host's data plane. A path
   * ("/users/42") goes to `url`; a full URL keeps its host name (for the
   * function's `routes`) and reaches this host's port whatever the name.
   */
  fetch(input: string | URL | Request, init?: RequestInit): Promise<Response>;
  /** Runs the scheduled handler once, now, for `cron` (default: the first of `[triggers] crons`). */
  scheduled(cron?: string): Promise<TestInvocation>;
  /** Runs the storage handler once, now, for this change. */
  storage(event: TestStorageEvent): Promise<TestInvocation>;
  /** A KV namespace, by its binding name in atoll.toml (`CACHE`) or its id. */
  kv(bindingOrId: string): TestKVNamespace;
  /** A bucket, by its binding name in atoll.toml (`UPLOADS`) or its bucket_name. */
  bucket(bindingOrName: string): TestBucket;
  /** Builds the function's folder again and deploys it as a new version; resolves with the version. */
  redeploy(): Promise<number>;
  /** Stops the host and deletes its data. */
  close(): Promise<void>;
}

/**
 * Starts a real Atoll host (a worker process, V8 isolates, the limits of
 * atoll.toml, a store in a temporary directory), bundles the function in
 * `dir` and deploys it. Close it when the test is over.
 *
 * ```ts
 * import { test, after } from "node:test";
 * import assert from "node:assert/strict";
 * import { createTestHost } from "atoll/sdk/testing";
 *
 * const host = await createTestHost({ dir: "." });
 * after(() => host.close());
 *
 * test("greets", async () => {
 *   const response = await host.fetch("/");
 *   assert.equal(await response.text(), "Hello");
 * });
 * ```
 */
export declare function createTestHost(options?: TestHostOptions | string): Promise<TestHost>;
