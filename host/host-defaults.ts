// Host-wide settings and their defaults, in one place (units in the names).
import type { WorkerSettings } from "./executor/worker/settings.js";

export const HOST_DEFAULTS = {
  /** `<script>.<domain>` reaches a script on any of these domains. */
  baseDomains: ["localhost"] as readonly string[],
  /** Largest bundle an upload may carry, bytes (10 MiB). */
  maxBundleBytes: 10 * 1024 * 1024,
  /** How long and how many invocation records are kept (`atoll logs`). */
  invocationRecords: { maxAgeMs: 7 * 24 * 3600 * 1000, maxRecords: 100_000 },
  /** Largest request body the data plane passes to a function, bytes (100 MiB). */
  maxRequestBodyBytes: 100 * 1024 * 1024,
  /** Time a client has to send a request's head, ms: slow-loris connections are closed after it. */
  headersTimeoutMs: 10_000,
  /** Function-to-function fetch hops a request may be from its client before it gets 508. */
  maxFetchDepth: 16,
  /** Scripts that get their own `script` label in GET /metrics, the first seen; later ones count as `_other` (host/metrics.ts). */
  metricScripts: 200,
  /** The durable event queue behind cron, bucket and async triggers (host/triggers/). */
  /**
   * The claim lease on a queue several hosts share (Redis), ms: a host that
   * dies holds its events this long at most; a live one renews its claims
   * every third of it while they run.
   */
  sharedQueueLeaseMs: 30_000,
  triggers: {
    /** Queued events run at once, over every script. */
    concurrency: 8,
    /** The first retry of a failed event waits this long; each next one twice as long, ms. */
    retryBaseDelayMs: 1000,
    /** No retry waits longer than this, ms (10 minutes). */
    retryMaxDelayMs: 10 * 60 * 1000,
    /** How long a claim on an event holds, ms (1 hour; a run ends sooner, at its wall_ms, and a restart releases claims). */
    leaseMs: 60 * 60 * 1000,
    /** How long a stopping host waits for the events it is running to settle, ms (beyond that they run again at the next start). */
    drainMs: 5000,
  },
  /** Largest request body a direct invocation (POST /v1/scripts/:name/invoke) carries, bytes (1 MiB). */
  maxInvokeBodyBytes: 1024 * 1024,
  worker: {
    pool: {
      /** Warm isolates per worker. */
      maxIsolates: 500,
      /** V8 heap summed over a worker's warm isolates, bytes (2 GiB). */
      maxHeapBytes: 2 * 1024 * 1024 * 1024,
      /** An isolate idle this long is disposed, ms (5 minutes). */
      idleTtlMs: 5 * 60 * 1000,
      /** memoryLimit of the pre-booted spare isolate, MB (the default `limits.memory_mb`). */
      spareMemoryMb: 128,
    },
    /** CPU time a bundle's top-level evaluation may take, ms. */
    evaluateTimeoutMs: 1000,
    egress: {
      allowPrivate: false,
      allow: [] as string[],
      connectTimeoutMs: 10_000,
      responseTimeoutMs: 60_000,
    },
    executionMarkerFile: null,
    /** A worker past this RSS is drained and replaced (3 GiB: the warm pool alone may hold 2 GiB of heap). */
    maxRssBytes: 3 * 1024 * 1024 * 1024,
    /** Set from the store at start. */
    kvReads: null,
    services: null,
  } satisfies WorkerSettings,
};
