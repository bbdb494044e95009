// Every invocation's record goes through here: numbered, shown at once to the
// tails that want it (./filter.ts), and written to the invocation store in
// batches, off the request path. Retention is applied as batches go out.
// Recording costs the request path a push onto an array; a tail that cannot
// keep up is its own problem (the control API drops it), never the functions'.
import type { RecordFilter } from "./filter.js";
import { matches } from "./filter.js";
import { bindingCounter, type BindingCalls, type InvocationStore, type Retention } from "./invocation-store.js";
import type { InvocationRecord, NewInvocationRecord } from "./records.js";

export interface ObserverOptions {
  /** Where records are kept; null: live tails only. */
  store: InvocationStore | null;
  retention: Retention;
  /** A batch is written this long after its first record, ms. */
  flushDelayMs?: number;
  /** …or once it holds this many records. */
  batchRecords?: number;
  /** Records waiting past this (the store is failing) are dropped, oldest first. */
  maxPending?: number;
  /** Sees every record as it is made, whether or not a store keeps it (GET /metrics); must be cheap, it runs on the request path. */
  onRecord?(record: InvocationRecord): void;
  log(line: string): void;
}

/** Someone watching a script's invocations live. */
export interface TailSubscription {
  readonly script: string;
  readonly filter: RecordFilter;
  /** Share of matching records sent, 0 < rate ≤ 1. */
  readonly sample: number;
  send(record: InvocationRecord): void;
}

const DEFAULT_FLUSH_DELAY_MS = 200;
const DEFAULT_BATCH_RECORDS = 500;
const DEFAULT_MAX_PENDING = 20_000;
const HOUR_MS = 3600 * 1000;
/** Retention runs at most this often, ms. */
const PRUNE_INTERVAL_MS = 10_000;

export class Observer {
  private nextId = 1;
  private pending: InvocationRecord[] = [];
  private timer: NodeJS.Timeout | null = null;
  private lastPrune = 0;
  private readonly tails = new Map<string, Set<TailSubscription>>();
  /** Binding calls per script and hour, written with the next batch (./invocation-store.ts BindingCalls). */
  private pendingCalls = new Map<string, BindingCalls>();
  /** Records lost because the store could not take them (metrics, tests). */
  droppedRecords = 0;
  private storeFailing = false;

  constructor(private readonly options: ObserverOptions) {}

  /** Where records are kept (null: nowhere). */
  get store(): InvocationStore | null {
    return this.options.store;
  }

  record(fields: NewInvocationRecord): void {
    // Numbered in place: the caller made the object for this call alone.
    const record = fields as InvocationRecord;
    record.id = this.nextId++;
    this.options.onRecord?.(record);
    const watching = this.tails.get(record.script);
    if (watching) {
      for (const tail of watching) {
        if ((tail.sample >= 1 || Math.random() < tail.sample) && matches(record, tail.filter)) tail.send(record);
      }
    }
    if (!this.options.store) return;
    this.pending.push(record);
    const max = this.options.maxPending ?? DEFAULT_MAX_PENDING;
    if (this.pending.length > max) {
      this.droppedRecords += this.pending.length - max;
      this.pending.splice(0, this.pending.length - max);
    }
    if (this.pending.length >= (this.options.batchRecords ?? DEFAULT_BATCH_RECORDS)) this.schedule(0);
    else this.schedule(this.options.flushDelayMs ?? DEFAULT_FLUSH_DELAY_MS);
  }

  /** Meters `count` binding calls of `script` (KV, bucket; the usage's counters). */
  countBindingCalls(script: string, kind: "kv" | "bucket" | "cache", method: string, count = 1): void {
    const counter = bindingCounter(kind, method);
    if (counter === null || !this.options.store) return;
    const hour = Math.floor(Date.now() / HOUR_MS) * HOUR_MS;
    const id = `${script}\n${hour}`;
    let calls = this.pendingCalls.get(id);
    if (!calls) this.pendingCalls.set(id, (calls = { script, hour, counts: { kv_reads: 0, kv_writes: 0, kv_lists: 0, bucket_class_a: 0, bucket_class_b: 0 } }));
    calls.counts[counter] += count;
    this.schedule(this.options.flushDelayMs ?? DEFAULT_FLUSH_DELAY_MS);
  }

  /** Starts sending `tail` the records it asks for; returns what stops it. */
  subscribe(tail: TailSubscription): () => void {
    let set = this.tails.get(tail.script);
    if (!set) this.tails.set(tail.script, (set = new Set()));
    set.add(tail);
    return () => {
      set.delete(tail);
      if (set.size === 0 && this.tails.get(tail.script) === set) this.tails.delete(tail.script);
    };
  }

  /** Tails attached now, over every script. */
  get tailCount(): number {
    let count = 0;
    for (const set of this.tails.values()) count += set.size;
    return count;
  }

  /** Writes what is waiting now (queries call it, so that they see every record made so far). */
  flush(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    const store = this.options.store;
    if (!store || (this.pending.length === 0 && this.pendingCalls.size === 0)) return;
    const batch = this.pending;
    this.pending = [];
    const calls = this.pendingCalls;
    this.pendingCalls = new Map();
    try {
      store.write(batch, [...calls.values()]);
      if (this.storeFailing) this.options.log("invocation records are being written again");
      this.storeFailing = false;
      const now = Date.now();
      if (now - this.lastPrune >= PRUNE_INTERVAL_MS) {
        this.lastPrune = now;
        store.prune(this.options.retention, now);
      }
    } catch (error) {
      // Kept for the next try (within maxPending); said once, not per batch.
      this.pending = batch.concat(this.pending);
      for (const [id, call] of calls) {
        const newer = this.pendingCalls.get(id);
        if (newer) for (const counter of Object.keys(call.counts) as (keyof typeof call.counts)[]) newer.counts[counter] += call.counts[counter];
        else this.pendingCalls.set(id, call);
      }
      if (!this.storeFailing) this.options.log(`invocation records could not be written (kept in memory, up to ${this.options.maxPending ?? DEFAULT_MAX_PENDING}): ${error instanceof Error ? error.message : String(error)}`);
      this.storeFailing = true;
      this.schedule(1000);
    }
  }

  close(): void {
    this.flush();
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.tails.clear();
    this.options.store?.close();
  }

  private schedule(delayMs: number): void {
    if (this.timer && delayMs > 0) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.flush();
    }, delayMs);
    this.timer.unref();
  }
}
