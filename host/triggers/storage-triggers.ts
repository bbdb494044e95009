// Bucket triggers (`[[triggers.storage]]`): every durable put or delete in a
// bucket, whoever made it (a function, the CLI, the control API), becomes a
// queued storage event for each active script that watches that bucket, with
// that action, prefix and suffix. An event caused by a storage invocation is
// one deeper in its chain than that invocation; past the watching script's
// `max_chain_depth` it is not queued but logged, so a function that writes
// into the bucket that triggers it stops instead of looping forever.
import { triggersOf, type ScriptConfig } from "../config/script-config.js";
import type { ObjectEvent, ObjectStore } from "../store/objects.js";
import type { NewQueuedEvent } from "../store/queue.js";
import { currentChainDepth } from "./chain-depth.js";

export interface StorageTriggersOptions {
  /** The active scripts and their configs. */
  scripts(): Iterable<{ name: string; config: ScriptConfig }>;
  /** Queues durably; with `now`, committed before it returns (see QueueStore.enqueue). */
  enqueue(events: NewQueuedEvent[], options: { now: true }): Promise<unknown>;
  log(line: string): void;
}

interface Watch {
  script: string;
  actions: ReadonlySet<string>;
  prefix: string;
  suffix: string;
  maxRetries: number;
  maxAgeMs: number;
  maxChainDepth: number;
}

export class StorageTriggers {
  /** bucket → script → that script's rules for the bucket. */
  private watches = new Map<string, Map<string, Watch[]>>();
  /** script → the buckets it watches, so that a deploy touches only its own entries. */
  private bucketsOf = new Map<string, string[]>();
  private unsubscribe: (() => void) | null = null;

  constructor(private readonly options: StorageTriggersOptions) {}

  /** Listens to the buckets' changes. */
  subscribe(objects: Pick<ObjectStore, "onChange">): void {
    this.unsubscribe = objects.onChange((event) => this.changed(event, currentChainDepth()));
  }

  /** Builds who watches what from every active config (at start). */
  rebuild(): void {
    this.watches = new Map();
    this.bucketsOf = new Map();
    for (const { name, config } of this.options.scripts()) this.update(name, config);
  }

  /** Follows one script's change (deploy, rollback, promotion; `config` undefined once deleted). */
  update(script: string, config: ScriptConfig | undefined): void {
    const rules = new Map<string, Watch[]>();
    if (config) {
      const triggers = triggersOf(config);
      for (const rule of triggers.storage) {
        const list = rules.get(rule.bucket) ?? [];
        list.push({
          script,
          actions: new Set(rule.events),
          prefix: rule.prefix,
          suffix: rule.suffix,
          maxRetries: triggers.retries,
          maxAgeMs: triggers.max_event_age_s * 1000,
          maxChainDepth: triggers.max_chain_depth,
        });
        rules.set(rule.bucket, list);
      }
    }
    for (const bucket of this.bucketsOf.get(script) ?? []) {
      if (rules.has(bucket)) continue;
      const byScript = this.watches.get(bucket)!;
      byScript.delete(script);
      if (byScript.size === 0) this.watches.delete(bucket);
    }
    for (const [bucket, list] of rules) {
      let byScript = this.watches.get(bucket);
      if (!byScript) this.watches.set(bucket, (byScript = new Map()));
      byScript.set(script, list);
    }
    if (rules.size > 0) this.bucketsOf.set(script, [...rules.keys()]);
    else this.bucketsOf.delete(script);
  }

  /** Whether any script watches this bucket (for the control API's answers). */
  watched(bucket: string): boolean {
    return this.watches.has(bucket);
  }

  /**
   * A bucket changed: queue one storage event per watching script (one even
   * when several of its rules match). `causeDepth` is the chain depth of the
   * storage invocation that made the change (0: none).
   */
  changed(event: ObjectEvent, causeDepth: number): Promise<unknown> {
    const watching = this.watches.get(event.bucket);
    if (!watching) return Promise.resolve();
    const depth = causeDepth + 1;
    const events: NewQueuedEvent[] = [];
    for (const rules of watching.values()) {
      const watch = rules.find((rule) => rule.actions.has(event.action) && event.key.startsWith(rule.prefix) && event.key.endsWith(rule.suffix));
      if (!watch) continue;
      if (depth > watch.maxChainDepth) {
        this.options.log(
          `[triggers] ${watch.script}: storage ${event.action} ${event.bucket}/${event.key} not delivered: it was caused by a chain of ${causeDepth} storage invocations, at the limit of ${watch.maxChainDepth} (triggers.max_chain_depth): a function writing into the bucket that triggers it stops here`,
        );
        continue;
      }
      events.push({
        script: watch.script,
        event: { kind: "storage", bucket: event.bucket, key: event.key, action: event.action, size: event.size, etag: event.etag, time: event.time, depth },
        maxRetries: watch.maxRetries,
        maxAgeMs: watch.maxAgeMs,
      });
    }
    if (events.length === 0) return Promise.resolve();
    // Committed before the listener returns, so before the write that caused it is acknowledged.
    return this.options.enqueue(events, { now: true }).catch((error: unknown) => {
      this.options.log(`[triggers] storage ${event.action} ${event.bucket}/${event.key} could not be queued: ${error instanceof Error ? error.message : String(error)}`);
    });
  }

  close(): void {
    this.unsubscribe?.();
    this.unsubscribe = null;
  }
}
