// Bytes stored, the one usage figure that is not a count of calls: what the
// buckets each script binds hold, measured by the object store and written
// into the hour's usage row (InvocationStore.setStored). R2 and S3 bill
// storage by GB-month from such samples. Measured when the host starts, at
// every hour, and shortly after a write or delete (a burst of writes costs one
// measurement); a bucket bound by several scripts is split evenly between
// them, so that the scripts' figures add up to what is stored.
import type { BucketUsage, ObjectStore } from "../store/objects.js";
import type { InvocationStore } from "./invocation-store.js";

export interface StorageSamplerOptions {
  objects: ObjectStore;
  records: InvocationStore;
  /** The buckets each deployed script binds now (active and canary versions). */
  bindings(): { script: string; buckets: readonly string[] }[];
  log(line: string): void;
  /** A changed bucket is measured this long after its first change, ms. */
  settleMs?: number;
}

const DEFAULT_SETTLE_MS = 2000;
const HOUR_MS = 3600 * 1000;

export class StorageSampler {
  private readonly measured = new Map<string, BucketUsage>();
  /** Buckets written since they were last measured. */
  private readonly changed = new Set<string>();
  /** Scripts given a figure this process: one that no longer binds a bucket gets 0, not its old figure. */
  private readonly sampledScripts = new Set<string>();
  private timer: NodeJS.Timeout | null = null;
  private hourTimer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  /** Another round was asked for while one ran. */
  private again = false;
  private closed = false;

  constructor(private readonly options: StorageSamplerOptions) {}

  /** Measures every bound bucket now, then at every hour. */
  start(): Promise<void> {
    this.scheduleHour();
    return this.sampleAll();
  }

  /** `bucket` was written or deleted from: measured again shortly. */
  bucketChanged(bucket: string): void {
    this.changed.add(bucket);
    this.schedule(this.options.settleMs ?? DEFAULT_SETTLE_MS);
  }

  /** Which buckets scripts bind changed (a deploy, a rollback): figures follow at once. */
  bindingsChanged(): void {
    this.schedule(0);
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.hourTimer) clearTimeout(this.hourTimer);
    this.timer = this.hourTimer = null;
  }

  private sampleAll(): Promise<void> {
    this.measured.clear();
    return this.round(true);
  }

  private schedule(delayMs: number): void {
    if (this.closed) return;
    if (this.timer !== null) {
      if (delayMs > 0) return;
      clearTimeout(this.timer);
    }
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.round(false);
    }, delayMs);
    this.timer.unref();
  }

  private scheduleHour(): void {
    if (this.closed) return;
    // Just past the hour, so that each hour's row gets its figure early in the hour.
    const delay = HOUR_MS - (Date.now() % HOUR_MS) + 1000;
    this.hourTimer = setTimeout(() => {
      this.scheduleHour();
      void this.sampleAll();
    }, delay);
    this.hourTimer.unref();
  }

  private round(all: boolean): Promise<void> {
    if (this.running !== null) {
      this.again = true;
      return this.running;
    }
    this.running = this.measure(all)
      .catch((error: unknown) => {
        if (!this.closed) this.options.log(`bytes stored could not be measured: ${error instanceof Error ? error.message : String(error)}`);
      })
      .finally(() => {
        this.running = null;
        if (this.again && !this.closed) {
          this.again = false;
          void this.round(false);
        }
      });
    return this.running;
  }

  private async measure(all: boolean): Promise<void> {
    const bindings = this.options.bindings();
    const bound = new Map<string, string[]>();
    for (const { script, buckets } of bindings) {
      for (const bucket of new Set(buckets)) {
        let scripts = bound.get(bucket);
        if (!scripts) bound.set(bucket, (scripts = []));
        scripts.push(script);
      }
    }
    for (const bucket of bound.keys()) {
      if (!all && this.measured.has(bucket) && !this.changed.has(bucket)) continue;
      // Cleared first: a write during the measurement marks it again.
      this.changed.delete(bucket);
      this.measured.set(bucket, await this.options.objects.usage(bucket));
    }
    const figures = new Map<string, { script: string; bytes: number; objects: number }>();
    for (const script of this.sampledScripts) figures.set(script, { script, bytes: 0, objects: 0 });
    for (const { script } of bindings) if (!figures.has(script)) figures.set(script, { script, bytes: 0, objects: 0 });
    for (const [bucket, scripts] of bound) {
      const usage = this.measured.get(bucket)!;
      scripts.sort();
      scripts.forEach((script, index) => {
        const figure = figures.get(script)!;
        // Whole bytes: the first script takes the remainder, so that the shares add up.
        figure.bytes += share(usage.bytes, scripts.length, index);
        figure.objects += share(usage.objects, scripts.length, index);
      });
    }
    const rows = [...figures.values()].filter((row) => row.bytes > 0 || row.objects > 0 || this.sampledScripts.has(row.script));
    for (const row of rows) this.sampledScripts.add(row.script);
    if (rows.length > 0 && !this.closed) this.options.records.setStored(rows);
  }
}

/** The `index`th of `parts` whole shares of `total`. */
function share(total: number, parts: number, index: number): number {
  const each = Math.floor(total / parts);
  return index === 0 ? total - each * (parts - 1) : each;
}
