// One host's connection to the shared Redis: a command client, a subscriber
// for the change channel, Lua scripts for the writes that must be atomic,
// and one rule for failures: a command that cannot reach Redis fails at once
// with StoreUnavailableError (no offline queue: a request must not hang on a
// server that is down), and the clients reconnect by themselves.
//
// Keys all start with "atoll:"; each variable part (a script name, a KV
// namespace, a key) is percent-encoded, so no part can contain the ":" that
// separates them. One Redis server (or a primary with replicas), not Redis
// Cluster: the Lua scripts touch keys that a cluster would put in different slots.
import { createHash, randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { StoreUnavailableError } from "../errors.js";
import type { ClusterChange } from "./store.js";

const CHANGES_CHANNEL = "atoll:changes";

/** A Lua script run by its SHA-1 (sent whole only when the server does not know it yet). */
export class LuaScript {
  private readonly sha: string;
  constructor(
    private readonly lua: string,
    private readonly keyCount: number,
  ) {
    this.sha = createHash("sha1").update(lua).digest("hex");
  }

  async run(connection: RedisConnection, keys: readonly string[], args: readonly (string | number | Buffer)[]): Promise<unknown> {
    if (keys.length !== this.keyCount) throw new Error(`a Lua script expects ${this.keyCount} keys, got ${keys.length}`);
    const client = connection.client;
    return connection.call("the shared store (Redis)", async () => {
      try {
        return await client.evalsha(this.sha, keys.length, ...keys, ...args);
      } catch (error) {
        if (!(error instanceof Error) || !error.message.startsWith("NOSCRIPT")) throw error;
        return client.eval(this.lua, keys.length, ...keys, ...args);
      }
    });
  }
}

export class RedisConnection {
  readonly client: Redis;
  private readonly subscriber: Redis;
  /** Tells this host's own messages from other hosts'. */
  readonly origin = randomUUID();
  private readonly listeners = new Set<(change: ClusterChange) => void>();
  private subscribedOnce = false;
  private closed = false;
  /** Why Redis is unreachable now, or null while it is connected. */
  private down: string | null = null;

  private constructor(readonly url: string) {
    const options = {
      lazyConnect: true,
      // Fail fast while disconnected: a caller gets a clear 503 rather than waiting for a server that may not come back.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      retryStrategy: (attempt: number) => Math.min(100 * attempt, 2000),
      connectTimeout: 5000,
    };
    this.client = new Redis(url, options);
    // The subscriber queues its SUBSCRIBE until connected and re-subscribes after every reconnect.
    this.subscriber = new Redis(url, { ...options, enableOfflineQueue: true, maxRetriesPerRequest: null });
    this.client.on("error", (error: Error) => (this.down = error.message));
    this.client.on("close", () => (this.down ??= "the connection closed"));
    this.client.on("ready", () => (this.down = null));
    this.subscriber.on("error", () => {});
    this.subscriber.on("message", (_channel: string, message: string) => this.receive(message));
    this.subscriber.on("ready", () => {
      // After a reconnect, changes published meanwhile were missed.
      if (this.subscribedOnce) this.emit({ kind: "resync" });
      this.subscribedOnce = true;
    });
  }

  /** Connects both clients; rejects with StoreUnavailableError when Redis does not answer. */
  static async open(url: string): Promise<RedisConnection> {
    const connection = new RedisConnection(url);
    try {
      await connection.client.connect();
      await connection.subscriber.connect();
      await connection.subscriber.subscribe(CHANGES_CHANNEL);
    } catch (error) {
      connection.client.disconnect();
      connection.subscriber.disconnect();
      // The client's own error (ECONNREFUSED …) says more than the rejection ("Connection is closed.").
      const reason = connection.down ?? (error instanceof Error ? error.message : String(error));
      throw new StoreUnavailableError(`Redis at ${redactedUrl(url)}`, reason, "start it, or fix --store, then start the host again");
    }
    return connection;
  }

  /** Why the store cannot be used now, or null when it can. */
  unavailable(): string | null {
    if (this.closed) return "the host is stopping";
    return this.client.status === "ready" ? null : (this.down ?? `the connection is ${this.client.status}`);
  }

  /** Runs a command; a failure to reach Redis becomes StoreUnavailableError, other errors pass as they are. */
  async call<T>(what: string, command: () => Promise<T>): Promise<T> {
    const reason = this.unavailable();
    if (reason !== null) throw new StoreUnavailableError(what, reason);
    try {
      return await command();
    } catch (error) {
      if (isConnectionFailure(error) || this.unavailable() !== null) {
        throw new StoreUnavailableError(what, error instanceof Error ? error.message : String(error));
      }
      throw error;
    }
  }

  /** Tells the other hosts; a failure is only logged by the caller (they resync when they reconnect). */
  async publish(change: ClusterChange): Promise<void> {
    const body = change.kind === "script" || change.kind === "secrets" ? `${change.kind}|${change.script}` : change.kind;
    await this.call("the shared store (Redis)", () => this.client.publish(CHANGES_CHANNEL, `${this.origin}|${body}`));
  }

  onChange(listener: (change: ClusterChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.listeners.clear();
    // QUIT lets replies in flight arrive; a server that is down gets no more than a second of waiting.
    if (this.client.status === "ready") await Promise.race([this.client.quit().catch(() => {}), new Promise((resolve) => setTimeout(resolve, 1000).unref())]);
    this.client.disconnect();
    this.subscriber.disconnect();
  }

  private receive(message: string): void {
    const [origin, kind, ...rest] = message.split("|");
    if (origin === this.origin) return;
    const script = rest.join("|");
    if ((kind === "script" || kind === "secrets") && script !== "") this.emit({ kind, script });
    else if (kind === "queue") this.emit({ kind: "queue" });
  }

  private emit(change: ClusterChange): void {
    for (const listener of this.listeners) {
      try {
        listener(change);
      } catch {
        // A listener reports its own failures.
      }
    }
  }
}

/** "atoll:" and the parts, each percent-encoded. */
export function redisKey(...parts: (string | number)[]): string {
  return `atoll:${parts.map((part) => encodeURIComponent(String(part))).join(":")}`;
}

/** The URL without its password, for messages. */
export function redactedUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = "***";
    return parsed.toString();
  } catch {
    return "(a URL that does not parse)";
  }
}

function isConnectionFailure(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (error.name === "MaxRetriesPerRequestError") return true;
  return /Stream isn't writeable|Connection is closed|ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|connect ETIMEDOUT/.test(error.message);
}

/** A MULTI's replies: the first error, thrown. */
export function throwFirstError(replies: [Error | null, unknown][] | null): void {
  if (replies === null) throw new Error("the Redis transaction was discarded");
  for (const [error] of replies) if (error) throw error;
}
