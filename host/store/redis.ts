// The shared store on Redis, for several hosts: deployments (versions, the
// active pointer and canary, the history), secrets (sealed, as in SQLite: every
// host shares the secrets key), KV (./redis-kv.ts) and the event queue
// (./redis-queue.ts). Objects come from elsewhere (S3-compatible storage,
// ./s3-objects.ts). Every change of a script or its secrets is published on
// the change channel, and each host applies what the others changed
// (Deployments.applyClusterChange) within the time of one message.
//
// Durability is Redis's: run it with `appendonly yes` and `appendfsync
// always` (or `everysec`, accepting a second of loss on a power cut) — see the
// README's "Running several hosts".
import type { Canary, ClusterChange, Deployment, DeploymentKind, NewVersion, SealedSecret, ScriptRecord, ScriptVersion, Store, VersionSummary } from "./store.js";
import type { ObjectStore } from "./objects.js";
import { RedisKv } from "./redis-kv.js";
import { RedisQueue } from "./redis-queue.js";
import { LuaScript, redisKey, throwFirstError, type RedisConnection } from "./redis-connection.js";

const WHAT = "the shared store (Redis)";
const SCRIPTS = redisKey("scripts");
const DEPLOYMENT_SEQUENCE = redisKey("deployments", "sequence");
const SECRETS_KEY_FINGERPRINT = redisKey("secrets-key-fingerprint");
const ACTIVATIONS = new Set<DeploymentKind>(["deploy", "promote", "rollback"]);

/**
 * Saves a version and points the script at it (or makes it the canary), with
 * its history row, atomically. A deployment row is "id|kind|active|previous|canary version|canary percent|time".
 */
const PUT_VERSION = new LuaScript(
  `-- KEYS: script, versions, version counter, scripts, history, deployment sequence
   -- ARGV: name, version key prefix, created at, canary percent or '', then the version's fields
   local previous = redis.call('HGET', KEYS[1], 'active')
   if ARGV[4] ~= '' and not previous then return redis.error_reply('no active version for a canary to share with') end
   local version = redis.call('INCR', KEYS[3])
   redis.call('HSET', ARGV[2] .. version, unpack(ARGV, 5))
   redis.call('ZADD', KEYS[2], version, version)
   local id = redis.call('INCR', KEYS[6])
   local row
   if ARGV[4] ~= '' then
     redis.call('HSET', KEYS[1], 'canaryVersion', version, 'canaryPercent', ARGV[4], 'updatedAt', ARGV[3])
     row = id .. '|canary|' .. previous .. '|' .. previous .. '|' .. version .. '|' .. ARGV[4] .. '|' .. ARGV[3]
   else
     redis.call('HSET', KEYS[1], 'active', version, 'updatedAt', ARGV[3])
     redis.call('HSETNX', KEYS[1], 'createdAt', ARGV[3])
     redis.call('HDEL', KEYS[1], 'canaryVersion', 'canaryPercent')
     redis.call('ZADD', KEYS[4], 0, ARGV[1])
     row = id .. '|deploy|' .. version .. '|' .. (previous or '') .. '|||' .. ARGV[3]
   end
   redis.call('ZADD', KEYS[5], id, row)
   return version`,
  6,
);

/** Replaces a version's code cache while the version exists: a deleted script's must not come back as a stub. */
const SET_CODE_CACHE = new LuaScript(
  `-- KEYS: version. ARGV: code cache
   if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HSET', KEYS[1], 'codeCache', ARGV[1]) end
   return 0`,
  1,
);

const SET_DEPLOYMENT = new LuaScript(
  `-- KEYS: script, history, deployment sequence. ARGV: kind, active, canary version or '', canary percent or '', now
   local previous = redis.call('HGET', KEYS[1], 'active')
   if not previous then return redis.error_reply('no such script') end
   redis.call('HSET', KEYS[1], 'active', ARGV[2], 'updatedAt', ARGV[5])
   if ARGV[3] ~= '' then redis.call('HSET', KEYS[1], 'canaryVersion', ARGV[3], 'canaryPercent', ARGV[4])
   else redis.call('HDEL', KEYS[1], 'canaryVersion', 'canaryPercent') end
   local id = redis.call('INCR', KEYS[3])
   local row = id .. '|' .. ARGV[1] .. '|' .. ARGV[2] .. '|' .. previous .. '|' .. ARGV[3] .. '|' .. ARGV[4] .. '|' .. ARGV[5]
   redis.call('ZADD', KEYS[2], id, row)
   return row`,
  3,
);

export class RedisStore implements Store {
  readonly kv: RedisKv;
  readonly queue: RedisQueue;

  constructor(
    private readonly redis: RedisConnection,
    readonly objects: ObjectStore,
    hostId: string,
    private readonly closeObjects: () => Promise<void> = async () => {},
  ) {
    this.kv = new RedisKv(redis);
    this.queue = new RedisQueue(redis, hostId);
  }

  /** Why the store cannot be used now (Redis unreachable), or null. */
  unavailable(): string | null {
    return this.redis.unavailable();
  }

  /** Changes other hosts made: apply them (Deployments.applyClusterChange, the dispatcher's wake). */
  onClusterChange(listener: (change: ClusterChange) => void): () => void {
    return this.redis.onChange(listener);
  }

  async putVersion(input: NewVersion, options: { canaryPercent?: number } = {}): Promise<ScriptVersion> {
    const createdAt = new Date().toISOString();
    const fields: (string | Buffer)[] = [
      "config",
      JSON.stringify(input.config),
      "bundle",
      input.bundle,
      "bundleHash",
      input.bundleHash,
      "bundleBytes",
      String(input.bundleBytes),
      "bundleGzipBytes",
      String(input.bundleGzipBytes),
      "createdAt",
      createdAt,
    ];
    if (input.codeCache) fields.push("codeCache", Buffer.from(input.codeCache.buffer, input.codeCache.byteOffset, input.codeCache.byteLength));
    if (input.message !== null) fields.push("message", input.message);
    const version = Number(
      await PUT_VERSION.run(
        this.redis,
        [scriptKey(input.script), versionsKey(input.script), redisKey("version-counter", input.script), SCRIPTS, historyKey(input.script), DEPLOYMENT_SEQUENCE],
        [input.script, `${versionKey(input.script, "")}`, createdAt, options.canaryPercent === undefined ? "" : String(options.canaryPercent), ...fields],
      ),
    );
    await this.announce({ kind: "script", script: input.script });
    return { ...input, version, createdAt };
  }

  async getScript(name: string): Promise<ScriptRecord | undefined> {
    const script = await this.redis.call(WHAT, () => this.redis.client.hgetall(scriptKey(name)));
    if (script.active === undefined) return undefined;
    const config = await this.redis.call(WHAT, () => this.redis.client.hget(versionKey(name, Number(script.active)), "config"));
    if (config === null) return undefined;
    return {
      name,
      activeVersion: Number(script.active),
      config: JSON.parse(config),
      canary: script.canaryVersion === undefined || script.canaryPercent === undefined ? null : { version: Number(script.canaryVersion), percent: Number(script.canaryPercent) },
      createdAt: script.createdAt ?? script.updatedAt ?? "",
      updatedAt: script.updatedAt ?? "",
    };
  }

  async listScripts(): Promise<ScriptRecord[]> {
    const names = await this.redis.call(WHAT, () => this.redis.client.zrange(SCRIPTS, 0, -1));
    const records = await Promise.all(names.map((name) => this.getScript(name)));
    return records.filter((record): record is ScriptRecord => record !== undefined);
  }

  async setCodeCache(script: string, version: number, codeCache: Uint8Array): Promise<void> {
    await SET_CODE_CACHE.run(this.redis, [versionKey(script, version)], [Buffer.from(codeCache.buffer, codeCache.byteOffset, codeCache.byteLength)]);
  }

  async getVersion(script: string, version: number): Promise<ScriptVersion | undefined> {
    const fields = await this.redis.call(WHAT, () => this.redis.client.hgetallBuffer(versionKey(script, version)));
    if (fields.bundle === undefined) return undefined;
    const text = (name: string) => fields[name]?.toString("utf8");
    return {
      script,
      version,
      config: JSON.parse(text("config")!),
      bundle: text("bundle")!,
      bundleHash: text("bundleHash")!,
      bundleBytes: Number(text("bundleBytes")),
      bundleGzipBytes: Number(text("bundleGzipBytes")),
      codeCache: fields.codeCache ? new Uint8Array(fields.codeCache.buffer, fields.codeCache.byteOffset, fields.codeCache.byteLength) : null,
      message: text("message") ?? null,
      createdAt: text("createdAt")!,
    };
  }

  async countVersions(script: string): Promise<number> {
    return this.redis.call(WHAT, () => this.redis.client.zcard(versionsKey(script)));
  }

  async deleteScript(name: string): Promise<boolean> {
    const existed = (await this.redis.call(WHAT, () => this.redis.client.exists(scriptKey(name)))) === 1;
    const versions = await this.redis.call(WHAT, () => this.redis.client.zrange(versionsKey(name), 0, -1));
    await this.redis.call(WHAT, async () => {
      // The version counter stays: a re-created script never reuses a version number.
      const multi = this.redis.client.multi().del(scriptKey(name)).zrem(SCRIPTS, name).del(versionsKey(name), historyKey(name), secretsKey(name), secretTimesKey(name));
      for (const version of versions) multi.del(versionKey(name, Number(version)));
      throwFirstError(await multi.exec());
    });
    await this.queue.forgetScript(name);
    await this.announce({ kind: "script", script: name });
    return existed;
  }

  async close(): Promise<void> {
    await this.closeObjects();
    await this.redis.close();
  }

  // ---- Deployments ----------------------------------------------------------

  async listVersions(script: string, page: { limit: number; before?: number }): Promise<VersionSummary[]> {
    const max = page.before === undefined ? "+inf" : `(${page.before}`;
    const numbers = await this.redis.call(WHAT, () => this.redis.client.zrevrangebyscore(versionsKey(script), max, "-inf", "LIMIT", 0, page.limit));
    const pipeline = this.redis.client.pipeline();
    for (const version of numbers) pipeline.hmget(versionKey(script, Number(version)), "createdAt", "message", "bundleHash", "bundleBytes", "bundleGzipBytes");
    const replies = await this.redis.call(WHAT, () => pipeline.exec());
    throwFirstError(replies);
    return numbers.map((version, index) => {
      const [createdAt, message, bundleHash, bundleBytes, bundleGzipBytes] = replies![index]![1] as (string | null)[];
      return { version: Number(version), createdAt: createdAt ?? "", message: message ?? null, bundleHash: bundleHash ?? "", bundleBytes: Number(bundleBytes), bundleGzipBytes: Number(bundleGzipBytes) };
    });
  }

  async setDeployment(script: string, change: { kind: Exclude<DeploymentKind, "deploy" | "canary">; activeVersion: number; canary: Canary | null }): Promise<Deployment> {
    const row = String(
      await SET_DEPLOYMENT.run(
        this.redis,
        [scriptKey(script), historyKey(script), DEPLOYMENT_SEQUENCE],
        [change.kind, change.activeVersion, change.canary ? String(change.canary.version) : "", change.canary ? String(change.canary.percent) : "", new Date().toISOString()],
      ),
    );
    await this.announce({ kind: "script", script });
    return toDeployment(script, row);
  }

  async lastActivation(script: string): Promise<Deployment | undefined> {
    // Rows newest first, a page at a time: activations are most of the history.
    for (let start = 0; ; start += 50) {
      const rows = await this.redis.call(WHAT, () => this.redis.client.zrevrange(historyKey(script), start, start + 49));
      for (const row of rows) {
        const deployment = toDeployment(script, row);
        if (ACTIVATIONS.has(deployment.kind)) return deployment;
      }
      if (rows.length < 50) return undefined;
    }
  }

  async listDeployments(script: string, limit: number): Promise<Deployment[]> {
    const rows = await this.redis.call(WHAT, () => this.redis.client.zrevrange(historyKey(script), 0, limit - 1));
    return rows.map((row) => toDeployment(script, row));
  }

  // ---- Secrets --------------------------------------------------------------

  async putSecret(script: string, key: string, sealed: Uint8Array): Promise<{ updatedAt: string; created: boolean }> {
    const now = new Date().toISOString();
    const replies = await this.redis.call(WHAT, () =>
      this.redis.client.multi().hset(secretsKey(script), key, Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength)).hset(secretTimesKey(script), key, now).exec(),
    );
    throwFirstError(replies);
    await this.announce({ kind: "secrets", script });
    return { updatedAt: now, created: Number(replies![0]![1]) === 1 };
  }

  async getSecrets(script: string): Promise<SealedSecret[]> {
    const [sealed, times] = await this.redis.call(WHAT, () => Promise.all([this.redis.client.hgetallBuffer(secretsKey(script)), this.redis.client.hgetall(secretTimesKey(script))]));
    return Object.keys(sealed)
      .sort()
      .map((key) => ({ key, sealed: new Uint8Array(sealed[key]!), updatedAt: times[key] ?? "" }));
  }

  async deleteSecret(script: string, key: string): Promise<boolean> {
    const replies = await this.redis.call(WHAT, () => this.redis.client.multi().hdel(secretsKey(script), key).hdel(secretTimesKey(script), key).exec());
    throwFirstError(replies);
    const deleted = Number(replies![0]![1]) === 1;
    if (deleted) await this.announce({ kind: "secrets", script });
    return deleted;
  }

  async countSecrets(): Promise<number> {
    const names = await this.redis.call(WHAT, () => this.redis.client.zrange(SCRIPTS, 0, -1));
    let count = 0;
    for (const name of names) count += await this.redis.call(WHAT, () => this.redis.client.hlen(secretsKey(name)));
    return count;
  }

  async getSecretsKeyFingerprint(): Promise<string | undefined> {
    return (await this.redis.call(WHAT, () => this.redis.client.get(SECRETS_KEY_FINGERPRINT))) ?? undefined;
  }

  async setSecretsKeyFingerprint(fingerprint: string): Promise<void> {
    await this.redis.call(WHAT, () => this.redis.client.set(SECRETS_KEY_FINGERPRINT, fingerprint));
  }

  /** Tells the other hosts; the change is saved either way (they resync when their subscription comes back). */
  private async announce(change: ClusterChange): Promise<void> {
    await this.redis.publish(change).catch(() => {});
  }
}

function toDeployment(script: string, row: string): Deployment {
  const [id, kind, active, previous, canaryVersion, canaryPercent, ...time] = row.split("|");
  return {
    id: Number(id),
    script,
    kind: kind as DeploymentKind,
    activeVersion: Number(active),
    previousVersion: previous ? Number(previous) : null,
    canary: canaryVersion && canaryPercent ? { version: Number(canaryVersion), percent: Number(canaryPercent) } : null,
    createdAt: time.join("|"),
  };
}

function scriptKey(script: string): string {
  return redisKey("script", script);
}

function versionsKey(script: string): string {
  return redisKey("versions", script);
}

/** `version` "" gives the prefix the Lua script appends the number to. */
function versionKey(script: string, version: number | ""): string {
  return `${redisKey("version", script)}:${version}`;
}

function historyKey(script: string): string {
  return redisKey("deployments", script);
}

function secretsKey(script: string): string {
  return redisKey("secrets", script);
}

function secretTimesKey(script: string): string {
  return redisKey("secret-times", script);
}
