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

/** Heap an isolate is assumed to hold before its first measurement, bytes. */
const INITIAL_HEAP_ESTIMATE = 4 * 1024 * 1024;
/** How often, at most, one isolate's heap is measured again, ms. */
const HEAP_SAMPLE_INTERVAL_MS = 1000;

export class IsolatePool {
  private readonly warm: LRUCache<string, FunctionIsolate>;
  private readonly retiring = new Set<FunctionIsolate>();
  private readonly lastHeapSample = new WeakMap<FunctionIsolate, number>();
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
      // Evicted while serving: keep it alive until its invocations are done.
      dispose: (isolate) => {
        if (isolate.idle) isolate.dispose();
        else this.retiring.add(isolate);
      },
    });
    this.replenishSpare();
  }

  get(versionId: string): FunctionIsolate | undefined {
    return this.warm.get(versionId);
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

  /** Called when an invocation on `isolate` ended: finish retirements, re-measure heaps, boot the next spare. */
  released(versionId: string, isolate: FunctionIsolate): void {
    // Booting the next spare waits for an invocation to end, so that it does
    // not compete for the cores with the cold start that took the last one.
    this.replenishSpare();
    if (this.retiring.has(isolate)) {
      if (isolate.idle) {
        this.retiring.delete(isolate);
        isolate.dispose();
      }
      return;
    }
    const now = performance.now();
    if (now - (this.lastHeapSample.get(isolate) ?? 0) < HEAP_SAMPLE_INTERVAL_MS) return;
    this.lastHeapSample.set(isolate, now);
    isolate.heapBytes().then(
      (bytes) => {
        if (this.warm.peek(versionId) === isolate) this.warm.set(versionId, isolate, { size: Math.max(1, bytes), noDisposeOnSet: true });
      },
      () => {},
    );
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
    const isolate = FunctionIsolate.boot(this.image, memoryMb);
    this.spare = { memoryMb, isolate };
    isolate.catch(() => {
      // A spare that failed to boot is simply not there: the next cold start boots its own.
      if (this.spare?.isolate === isolate) this.spare = undefined;
    });
  }
}
