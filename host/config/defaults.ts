// The one place where the defaults of atoll.toml live; the schema, the docs
// (wrangler-like.toml.example) and the host all read them from here.

/** Per-invocation limits a script gets when its `[limits]` table leaves a key out. */
export const DEFAULT_LIMITS = {
  /** CPU time per invocation, in milliseconds. */
  cpu_ms: 50,
  /** Isolate heap, in megabytes. */
  memory_mb: 128,
  /** Wall-clock time per invocation, in milliseconds. */
  wall_ms: 30_000,
  /** Outbound fetch calls per invocation. */
  subrequests: 50,
  /** Largest request body the function receives, in megabytes (capped by the host's maximum). */
  request_body_mb: 100,
  /** Largest response body the function may send, in megabytes. */
  response_body_mb: 5120,
} as const;

/** The smallest isolate heap V8 (through isolated-vm) accepts, in megabytes. */
export const MIN_MEMORY_MB = 8;

/** Build options a script gets when its `[build]` table leaves a key out. */
export const DEFAULT_BUILD = {
  /** Minify the bundle (esbuild `minify`). */
  minify: false,
} as const;

/** The config file the CLI looks for in a project directory. */
export const CONFIG_FILE_NAME = "atoll.toml";

/** Event triggers a script gets when its `[triggers]` table leaves a key out. */
export const DEFAULT_TRIGGERS = {
  /** The time zone cron expressions are read in (an IANA name). */
  timezone: "UTC",
  /** Retries of a failed scheduled, storage or async event after its first attempt. */
  retries: 2,
  /** An event still undelivered this long after it was queued is dead-lettered, in seconds (6 hours). */
  max_event_age_s: 6 * 60 * 60,
  /** Storage events caused by storage invocations, one after another, before the chain is stopped. */
  max_chain_depth: 4,
} as const;

/** Bounds of the `[triggers]` keys. */
export const TRIGGER_BOUNDS = {
  maxRetries: 10,
  /** 7 days, in seconds. */
  maxEventAgeS: 7 * 24 * 60 * 60,
  maxChainDepth: 16,
  maxCrons: 20,
  maxStorageTriggers: 20,
} as const;
