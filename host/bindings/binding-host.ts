// The front's side of functions' binding calls (env.<KV>.get(...), ...): finds
// what the binding names in the calling version's config, checks the method
// and its arguments (the isolate is hostile), and runs it against the store.
// Every call but a KV get on the embedded store comes through here (workers
// answer those from their own read of the SQLite file: executor/worker/local-kv.ts).
// So do the Cache API's (runtime/cache.ts), handed to ./cache-host.ts.
import { LRUCache } from "lru-cache";
import type { ScriptConfig } from "../config/script-config.js";
import type { VersionKey } from "../executor/ipc.js";
import { versionId } from "../executor/ipc.js";
import type { Store } from "../store/store.js";
import { BindingCallError, plainObject } from "./binding-error.js";
import { CacheHost, isCacheBinding } from "./cache-host.js";
import { KvNamespace } from "./kv-namespace.js";
import { Bucket, BucketHandles } from "./bucket.js";

type Resolved = { kind: "kv"; namespace: KvNamespace } | { kind: "bucket"; bucket: string };

export class BindingHost {
  /** Per version: binding name → what it points at. */
  private readonly resolved = new LRUCache<string, Map<string, Resolved>>({ max: 1024 });
  /** Streamed bucket uploads and reads in progress, for every caller. */
  readonly bucketHandles = new BucketHandles();
  /** The Cache API's calls (`caches:…` bindings). */
  private readonly caches: CacheHost;

  constructor(
    private readonly store: Store,
    private readonly configOf: (key: VersionKey) => Promise<ScriptConfig | undefined>,
    /** Told of every call's kind, method and outcome, and the calling script (metrics, usage). */
    private readonly onCall: (kind: "kv" | "bucket" | "cache", method: string, ok: boolean, script: string) => void = () => {},
  ) {
    this.caches = new CacheHost(store.objects, this.bucketHandles);
  }

  /** Runs one call; throws BindingCallError with what the function should see. */
  async call(key: VersionKey, binding: string, method: string, args: unknown[]): Promise<unknown> {
    if (isCacheBinding(binding)) {
      try {
        const result = await this.caches.call(key, binding, method, args);
        this.onCall("cache", method, true, key.script);
        return result;
      } catch (error) {
        this.onCall("cache", method, false, key.script);
        throw error;
      }
    }
    const target = (await this.bindingsOf(key)).get(binding);
    if (!target) {
      throw new BindingCallError(
        "Error",
        `env.${binding} is not a binding of ${key.script} version ${key.version}: declare it in atoll.toml ([[kv_namespaces]] or [[buckets]]) and deploy again`,
      );
    }
    try {
      const result =
        target.kind === "kv"
          ? await this.callKv(target.namespace, method, args)
          : await this.callBucket(new Bucket(this.store.objects, target.bucket, this.bucketHandles, versionId(key)), method, args);
      this.onCall(target.kind, method, true, key.script);
      return result;
    } catch (error) {
      this.onCall(target.kind, method, false, key.script);
      throw error;
    }
  }

  /** Bucket `name` for the control API (its handles are the control API's own). */
  bucket(name: string): Bucket {
    return new Bucket(this.store.objects, name, this.bucketHandles, "(control API)");
  }

  close(): void {
    this.caches.close();
    this.bucketHandles.closeAll();
  }

  private callBucket(bucket: Bucket, method: string, args: unknown[]): Promise<unknown> | unknown {
    switch (method) {
      case "head":
        return bucket.head(args[0]);
      case "get":
        return bucket.get(args[0], plainObject(args[1], "bucket get: options"));
      case "read":
        return bucket.read(args[0]);
      case "cancel":
        return bucket.cancel(args[0]);
      case "put":
        return bucket.put(args[0], args[1], plainObject(args[2], "bucket put: options"));
      case "beginPut":
        return bucket.beginPut();
      case "putChunk":
        return bucket.putChunk(args[0], args[1]);
      case "commitPut":
        return bucket.commitPut(args[0], args[1], plainObject(args[2], "bucket put: options"));
      case "delete":
        return bucket.delete(args[0]);
      case "list":
        return bucket.list(plainObject(args[0], "bucket list: options"));
      default:
        throw BindingCallError.badArgument(`buckets have no method ${JSON.stringify(method)}`);
    }
  }

  /** The KV namespace `id`, for the control API. */
  kvNamespace(id: string): KvNamespace {
    return new KvNamespace(this.store.kv, id);
  }

  private async callKv(namespace: KvNamespace, method: string, args: unknown[]): Promise<unknown> {
    switch (method) {
      case "get":
        return namespace.get(args[0], args[1] === true);
      case "put": {
        const options = plainObject(args[2], "KV put: options");
        return namespace
          .put(args[0], args[1], {
            ...(options.expiration !== undefined ? { expiration: options.expiration as number } : {}),
            ...(options.expirationTtl !== undefined ? { expirationTtl: options.expirationTtl as number } : {}),
            ...(options.metadata !== undefined ? { metadata: options.metadata as string } : {}),
          })
          .then(() => null);
      }
      case "delete":
        return namespace.delete(args[0]).then(() => null);
      case "list": {
        const options = plainObject(args[0], "KV list: options");
        return namespace.list({
          ...(options.prefix !== undefined ? { prefix: options.prefix as string } : {}),
          ...(options.limit !== undefined ? { limit: options.limit as number } : {}),
          ...(options.cursor !== undefined ? { cursor: options.cursor as string } : {}),
        });
      }
      default:
        throw BindingCallError.badArgument(`KV has no method ${JSON.stringify(method)}`);
    }
  }

  private async bindingsOf(key: VersionKey): Promise<Map<string, Resolved>> {
    const id = versionId(key);
    const cached = this.resolved.get(id);
    if (cached) return cached;
    const config = await this.configOf(key);
    const bindings = new Map<string, Resolved>();
    for (const kv of config?.kv_namespaces ?? []) bindings.set(kv.binding, { kind: "kv", namespace: this.kvNamespace(kv.id) });
    for (const bucket of config?.buckets ?? []) bindings.set(bucket.binding, { kind: "bucket", bucket: bucket.bucket_name });
    this.resolved.set(id, bindings);
    return bindings;
  }
}

// ---- the Cache API -------------------------------------------------------------

/** What binding names of the Cache API start with: a `:` no config binding (a JS identifier) has. */
