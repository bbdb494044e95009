// Warm isolates of one worker process, by script version: an LRU bounded by
// count and by total heap, with an idle TTL. Eviction disposes an isolate only
// once it serves no invocation. One pre-booted spare (runtime loaded) makes a
// cold start cost only the bundle's evaluation and its first invocation.
import { LRUCache } from "lru-cache";
import { FunctionIsolate } from "./function-isolate.js";
import type { RuntimeImage } from "./runtime-image.js";

export interface IsolatePoolOptions {
  /** Most warm isolates kept. */
  maxIsolates: number;
  /** Most V8 heap, bytes, summed over warm isolates. */
  maxHeapBytes: number;
  /** An isolate unused for this long, ms, is disposed. */
  idleTtlMs: number;
  /** memoryLimit of the spare isolate, MB (a version asking for another size boots its own). */
  spareMemoryMb: number;
}

/**
 * Preloaded isolates no request has used yet, at most: a burst of deploys
 * (a CI pushing hundreds of scripts) keeps the newest ones warm instead of
 * filling the pool with versions nobody may call.
 */
const MAX_UNUSED_PRELOADS = 8;
/** Heap an isolate is assumed to hold before its first measurement, bytes. */
const INITIAL_HEAP_ESTIMATE = 4 * 1024 * 1024;
/** How often, at most, one isolate's heap is measured again, ms. */
const HEAP_SAMPLE_INTERVAL_MS = 1000;
/** …or after this many invocations, whichever comes first. */
const HEAP_SAMPLE_INVOCATIONS = 8;
/**
 * …or after an invocation that ran this much CPU, ms: the ones that allocate
 * much run long, and a measurement (4 µs) is small beside them, so that the
 * memory recorded for such an invocation is its own.
 */
const HEAP_SAMPLE_CPU_MS = 1;
/** Above this share of its memory limit an isolate's heap is measured after every invocation. */
const WATCH_FRACTION = 0.5;
/** At this share of its memory limit an isolate is retired once idle: the next request gets a fresh one, not a memory_mb termination. */
const RECYCLE_FRACTION = 0.8;

export class IsolatePool {
  private readonly warm: LRUCache<string, FunctionIsolate>;
  private readonly retiring = new Set<FunctionIsolate>();
  /** Preloaded versions not yet asked for, oldest first. */
  private readonly unusedPreloads = new Map<string, FunctionIsolate>();
  /** When each isolate's heap was last measured, and whether it is close enough to its limit to measure every time. */
  private readonly lastHeapSample = new WeakMap<FunctionIsolate, { at: number; watched: boolean; invocations: number; bytes: number }>();
  /** Isolates retired because their heap neared their memory limit. */
  recycled = 0;
  /** The next spare, booting or booted. */
  private spare: { memoryMb: number; isolate: Promise<FunctionIsolate> } | undefined;
  private closed = false;

  constructor(
    private readonly image: RuntimeImage,
    private readonly options: IsolatePoolOptions,
  ) {
    this.warm = new LRUCache<string, FunctionIsolate>({
      max: options.maxIsolates,
      maxSize: options.maxHeapBytes,
      sizeCalculation: () => INITIAL_HEAP_ESTIMATE,
      ttl: options.idleTtlMs,
      updateAgeOnGet: true,
      ttlAutopurge: true,
      // Idle TTLs are minutes long: a coarse clock spares every get a timer (the default is 1 ms).
      ttlResolution: 1000,
      // Evicted while serving: keep it alive until its invocations are done.
      dispose: (isolate) => {
        if (isolate.idle) isolate.dispose();
        else this.retiring.add(isolate);
      },
    });
    this.replenishSpare();
  }

  get(versionId: string): FunctionIsolate | undefined {
    if (this.unusedPreloads.size > 0) this.unusedPreloads.delete(versionId);
    return this.warm.get(versionId);
  }

  /** Whether a version is warm, without making it the most recently used. */
  has(versionId: string): boolean {
    return this.warm.has(versionId);
  }

  /** True when one more warm isolate fits without evicting one: a preload never pushes out an isolate in use. */
  hasRoom(): boolean {
    return this.warm.size < this.options.maxIsolates && this.warm.calculatedSize + INITIAL_HEAP_ESTIMATE <= this.options.maxHeapBytes;
  }

  /** A version loaded ahead of its first request (after a deploy): warm, and the next spare booted behind it. */
  preloaded(versionId: string, isolate: FunctionIsolate): void {
    this.warm.set(versionId, isolate);
    this.unusedPreloads.set(versionId, isolate);
    for (const [id, preloaded] of this.unusedPreloads) {
      if (this.unusedPreloads.size <= MAX_UNUSED_PRELOADS) break;
      this.unusedPreloads.delete(id);
      // Still warm and still unused (nothing took it since): it makes room for the newer one.
      if (this.warm.peek(id) === preloaded) this.warm.delete(id);
    }
    this.replenishSpare();
  }


  /** A fresh isolate with the runtime loaded: the spare when it fits, else a new one. */
  take(memoryMb: number): Promise<FunctionIsolate> {
    const spare = this.spare;
    this.spare = undefined;
    if (spare && spare.memoryMb === memoryMb) return spare.isolate;
    spare?.isolate.then((isolate) => isolate.dispose(), () => {});
    return FunctionIsolate.boot(this.image, memoryMb);
  }

  add(versionId: string, isolate: FunctionIsolate): void {
    this.warm.set(versionId, isolate);
  }

  /**
   * Called when an invocation on `isolate` ended: finish retirements,
   * re-measure heaps, boot the next spare. Returns the isolate's memory in
   * use, bytes: measured now, or at its last measurement (at most
   * HEAP_SAMPLE_INTERVAL_MS or HEAP_SAMPLE_INVOCATIONS ago, and never before
   * an invocation that ran `cpuMs` ≥ HEAP_SAMPLE_CPU_MS).
   */
  released(versionId: string, isolate: FunctionIsolate, cpuMs: number): number {
    // Booting the next spare waits for an invocation to end, so that it does
    // not compete for the cores with the cold start that took the last one.
    this.replenishSpare();
    if (this.retiring.has(isolate)) {
      const bytes = isolate.heapBytes();
      if (isolate.idle) {
        this.retiring.delete(isolate);
        isolate.dispose();
      }
      return bytes;
    }
    const now = performance.now();
    const last = this.lastHeapSample.get(isolate);
    if (last && !last.watched && cpuMs < HEAP_SAMPLE_CPU_MS && now - last.at < HEAP_SAMPLE_INTERVAL_MS && ++last.invocations < HEAP_SAMPLE_INVOCATIONS) return last.bytes;
    const bytes = isolate.heapBytes();
    if (this.warm.peek(versionId) !== isolate) return bytes;
    const limitBytes = isolate.memoryMb * 1024 * 1024;
    if (bytes >= RECYCLE_FRACTION * limitBytes) {
      this.recycled++;
      this.warm.delete(versionId);
      return bytes;
    }
    this.lastHeapSample.set(isolate, { at: now, watched: bytes >= WATCH_FRACTION * limitBytes, invocations: 0, bytes });
    this.warm.set(versionId, isolate, { size: Math.max(1, bytes), noDisposeOnSet: true });
    return bytes;
  }

  /** Retires every warm isolate of a script (its settings changed): each is disposed once idle. */
  retireScript(script: string): void {
    const prefix = `${script}@`;
    for (const id of [...this.warm.keys()]) if (id.startsWith(prefix)) this.warm.delete(id);
  }

  /** Drops an isolate that must not serve again (it failed), disposing it when idle. */
  discard(versionId: string, isolate: FunctionIsolate): void {
    if (this.warm.peek(versionId) === isolate) this.warm.delete(versionId);
    else if (isolate.idle) {
      this.retiring.delete(isolate);
      isolate.dispose();
    }
  }

  close(): void {
    this.closed = true;
    this.spare?.isolate.then((isolate) => isolate.dispose(), () => {});
    this.spare = undefined;
    for (const isolate of this.retiring) isolate.dispose();
    this.retiring.clear();
    this.warm.clear();
  }

  private replenishSpare(): void {
    if (this.closed || this.spare) return;
    const memoryMb = this.options.spareMemoryMb;
    // Two turns on: the response of the invocation that just ended is sent first (creating an isolate takes
    // a millisecond or more of this thread). One turn was not enough: the channel's flush is a setImmediate
    // queued after this one (by the `done` that called us), and a cold start's response waited ~2 ms for it.
    const isolate = new Promise<void>((resolve) => setImmediate(() => setImmediate(resolve))).then(() => FunctionIsolate.boot(this.image, memoryMb));
    this.spare = { memoryMb, isolate };
    isolate.catch(() => {
      // A spare that failed to boot is simply not there: the next cold start boots its own.
      if (this.spare?.isolate === isolate) this.spare = undefined;
    });
  }
}
