// What is deployed right now: each script's active version (and canary, during
// a gradual deploy), the route table built from their configs, and the code
// and env workers ask for on a cold start. Every change (deploys, rollbacks,
// promotions, secrets, deletes) is serialised here so that route claims and
// the rule "a name is a var or a secret, never both" cannot race.
import { LRUCache } from "lru-cache";
import type { ScriptConfig } from "../config/script-config.js";
import { canonicalJson } from "../config/canonical-json.js";
import {
  AlreadyActiveError,
  CanaryRoutesDifferError,
  NoCanaryError,
  NoStableVersionError,
  NotFoundError,
  NothingToRollBackError,
  SecretVarClashError,
  VersionNotFoundError,
} from "../errors.js";
import type { CodeForVersion } from "../executor/executor.js";
import type { IsolateSettings, VersionKey } from "../executor/ipc.js";
import type { BindingSpec } from "../runtime/protocol.js";
import { versionId } from "../executor/ipc.js";
import type { SecretBox } from "../store/secrets.js";
import type { Canary, ClusterChange, Deployment, NewVersion, ScriptVersion, Store } from "../store/store.js";
import { assetsServiceTarget } from "./assets.js";
import { takesCanary } from "./canary.js";
import { RouteTable } from "./route-table.js";

export interface ActiveScript {
  key: VersionKey;
  config: ScriptConfig;
  /** A gradual deploy in progress: `percent` % of clients go to this version (same routes as the active one). */
  canary: { key: VersionKey; config: ScriptConfig; percent: number } | null;
}

/** What a rollback or promotion did. */
export interface DeploymentChange {
  deployment: Deployment;
  /** The canary the change ended, if there was one. */
  endedCanary: Canary | null;
}

/** What the front keeps of recent versions' bundles and code caches, bytes. */
const CODE_CACHE_BYTES = 64 * 1024 * 1024;

export class Deployments {
  private readonly active = new Map<string, ActiveScript>();
  private readonly routes: RouteTable;
  /**
   * Versions recently deployed or handed to workers, so that cold starts skip
   * the store. Bounded in bytes too: 256 bundles near the 10 MiB limit, with
   * their code caches, would otherwise be gigabytes held for scripts at rest.
   */
  private readonly code = new LRUCache<string, ScriptVersion>({ max: 256, maxSize: CODE_CACHE_BYTES, sizeCalculation: versionBytes });
  /** Per script, bumped on every secret change (VersionKey.envRevision); starts at 0 with the host, as its workers do. */
  private readonly envRevisions = new Map<string, number>();
  private queue: Promise<unknown> = Promise.resolve();
  /** Told after any change of a script's active version (triggers follow its schedules and buckets). */
  private readonly activeChangeListeners: ((script: string) => void | Promise<void>)[] = [];

  constructor(
    private readonly store: Store,
    baseDomains: readonly string[],
    private readonly secrets: SecretBox,
  ) {
    this.routes = new RouteTable(baseDomains);
  }

  async load(): Promise<void> {
    for (const script of await this.store.listScripts()) {
      let canary: ActiveScript["canary"] = null;
      if (script.canary) {
        const version = await this.store.getVersion(script.name, script.canary.version);
        if (version) canary = { key: this.keyFor(script.name, version.version), config: version.config as ScriptConfig, percent: script.canary.percent };
      }
      this.active.set(script.name, { key: this.keyFor(script.name, script.activeVersion), config: script.config as ScriptConfig, canary });
    }
    this.routes.load([...this.active.values()].map(({ config }) => ({ script: config.name, routes: config.routes })));
  }

  /**
   * Calls `listener` after every deploy, rollback, promotion, canary
   * cancellation and delete of a script, once the new state is in place and
   * before the change is acknowledged (its promise is awaited).
   */
  onActiveChange(listener: (script: string) => void | Promise<void>): void {
    this.activeChangeListeners.push(listener);
  }

  /** The script that answers this host and path. */
  route(host: string, path: string): ActiveScript | undefined {
    const script = this.routes.match(host, path);
    return script === undefined ? undefined : this.active.get(script);
  }

  /** The version one client gets: the canary for its share of clients, else the active version. */
  pick(active: ActiveScript, clientKey: () => string): VersionKey {
    const { canary } = active;
    return canary !== null && takesCanary(clientKey(), { version: canary.key.version, percent: canary.percent }) ? canary.key : active.key;
  }

  get(script: string): ActiveScript | undefined {
    return this.active.get(script);
  }

  list(): ActiveScript[] {
    return [...this.active.values()];
  }

  /**
   * Runs `prepare` (validation) and saves the version, one deploy at a time:
   * as the active version, or with `canaryPercent` as the canary next to it.
   * Throws (RouteConflictError, SecretVarClashError, and for a canary
   * NoStableVersionError or CanaryRoutesDifferError) before anything is saved.
   * An upload equal to the active version (the same bundle, by `bundleHash`,
   * and the same config, no gradual deploy in progress or asked for) saves
   * nothing: it resolves with the active version and `unchanged`.
   */
  deploy(
    config: ScriptConfig,
    bundleHash: string,
    prepare: () => Promise<Omit<NewVersion, "script" | "config">>,
    options: { canaryPercent?: number } = {},
  ): Promise<{ version: ScriptVersion; unchanged: boolean }> {
    return this.serialise(async () => {
      const name = config.name;
      const same = options.canaryPercent === undefined ? await this.activeIfSame(config, bundleHash) : undefined;
      if (same) return { version: same, unchanged: true };
      this.routes.checkClaim(name, config.routes);
      await this.checkVarsAgainstSecrets(name, config, "the uploaded config", "deploy");
      const current = this.active.get(name);
      if (options.canaryPercent !== undefined) {
        if (!current) throw new NoStableVersionError(name);
        if (!sameRoutes(current.config.routes, config.routes)) throw new CanaryRoutesDifferError(name, current.config.routes, config.routes);
      }
      const prepared = await prepare();
      const saved = await this.store.putVersion({ ...prepared, script: name, config }, options);
      this.code.set(versionId(saved), saved);
      const key = this.keyFor(name, saved.version);
      if (options.canaryPercent !== undefined && current) {
        this.active.set(name, { ...current, canary: { key, config, percent: options.canaryPercent } });
      } else {
        this.active.set(name, { key, config, canary: null });
        this.routes.set(name, config.routes);
        await this.activeChanged(name);
      }
      return { version: saved, unchanged: false };
    });
  }

  /**
   * The active version when it has this bundle (sha256) and config (parsed,
   * so with every default, and compared with sorted keys) and no canary beside
   * it. Secrets are not part of a version, so they never make an upload differ.
   * After a rollback the active version is the rolled-back-to one: an upload
   * of it is unchanged, one of the version rolled back from is not.
   */
  private async activeIfSame(config: ScriptConfig, bundleHash: string): Promise<ScriptVersion | undefined> {
    const current = this.active.get(config.name);
    if (!current || current.canary !== null || canonicalJson(current.config) !== canonicalJson(config)) return undefined;
    const version = await this.version(current.key);
    return version?.bundleHash === bundleHash ? version : undefined;
  }

  /**
   * Moves the active pointer back without re-uploading: to `version`, or by
   * default to the version active before the current one. While a canary is
   * live, a rollback without a version cancels it (the active version stays).
   */
  rollback(script: string, version?: number): Promise<DeploymentChange> {
    return this.serialise(async () => {
      const current = this.active.get(script);
      if (!current) throw new NotFoundError(`script "${script}"`);
      const endedCanary = current.canary && { version: current.canary.key.version, percent: current.canary.percent };
      const stable = current.key.version;
      if (version === undefined && endedCanary) return this.setDeployment(script, "cancel-canary", stable, current.config, endedCanary);
      let target = version;
      if (target === undefined) {
        target = (await this.store.lastActivation(script))?.previousVersion ?? undefined;
        if (target === undefined) throw new NothingToRollBackError(script, stable);
      }
      if (target === stable) {
        if (endedCanary) return this.setDeployment(script, "cancel-canary", stable, current.config, endedCanary);
        throw new AlreadyActiveError(script, target);
      }
      const saved = await this.store.getVersion(script, target);
      if (!saved) throw new VersionNotFoundError(script, target);
      this.code.set(versionId(saved), saved);
      const config = saved.config as ScriptConfig;
      // The world moved on since that version was active: another script may hold its routes now, or a secret its var names.
      this.routes.checkClaim(script, config.routes);
      await this.checkVarsAgainstSecrets(script, config, `version ${target}`, "rollback");
      return this.setDeployment(script, "rollback", target, config, endedCanary);
    });
  }

  /** Makes the canary the active version. */
  promote(script: string): Promise<DeploymentChange> {
    return this.serialise(async () => {
      const current = this.active.get(script);
      if (!current) throw new NotFoundError(`script "${script}"`);
      if (!current.canary) throw new NoCanaryError(script);
      const { key, config, percent } = current.canary;
      this.routes.checkClaim(script, config.routes);
      return this.setDeployment(script, "promote", key.version, config, { version: key.version, percent });
    });
  }

  remove(script: string): Promise<boolean> {
    return this.serialise(async () => {
      const removed = await this.store.deleteScript(script);
      this.active.delete(script);
      this.routes.delete(script);
      await this.activeChanged(script);
      return removed;
    });
  }

  // ---- Changes made by other hosts sharing the store -------------------------

  /**
   * Applies what another host changed (a store several hosts share tells of
   * it): a script deployed, rolled back, promoted or deleted is reloaded from
   * the store; changed secrets rebuild the script's isolates; after a missed
   * stretch of messages (`resync`), every script is reloaded and rebuilt.
   */
  applyClusterChange(change: Exclude<ClusterChange, { kind: "queue" }>): Promise<void> {
    return this.serialise(async () => {
      if (change.kind === "secrets") {
        this.secretsChanged(change.script);
        return;
      }
      if (change.kind === "script") {
        await this.reload(change.script);
        return;
      }
      const names = new Set([...(await this.store.listScripts()).map((script) => script.name), ...this.active.keys()]);
      for (const name of names) {
        this.secretsChanged(name);
        await this.reload(name);
      }
    });
  }

  /**
   * The script as the store has it now, for work that must not act on a stale
   * view: an event another host queued just after deploying the script may
   * arrive before the message that tells of the deploy.
   */
  async current(script: string): Promise<ActiveScript | undefined> {
    await this.serialise(() => this.reload(script));
    return this.active.get(script);
  }

  /** Brings one script in line with the store; listeners hear of a change of its active version. */
  private async reload(name: string): Promise<void> {
    const record = await this.store.getScript(name);
    const current = this.active.get(name);
    if (!record) {
      if (!current) return;
      this.active.delete(name);
      this.routes.delete(name);
      await this.activeChanged(name);
      return;
    }
    let canary: ActiveScript["canary"] = null;
    if (record.canary) {
      const version = await this.version({ script: name, version: record.canary.version });
      if (version) canary = { key: this.keyFor(name, version.version), config: version.config as ScriptConfig, percent: record.canary.percent };
    }
    const config = record.config as ScriptConfig;
    const moved = !current || current.key.version !== record.activeVersion;
    this.active.set(name, { key: this.keyFor(name, record.activeVersion), config, canary });
    if (moved) {
      this.routes.set(name, config.routes);
      await this.activeChanged(name);
    }
  }

  // ---- Secrets ---------------------------------------------------------------

  /** Seals and saves a secret; the script's next requests run in isolates that see it. */
  putSecret(script: string, key: string, value: string): Promise<{ updatedAt: string; created: boolean }> {
    return this.serialise(async () => {
      const current = this.active.get(script);
      if (!current) throw new NotFoundError(`script "${script}" (deploy it before giving it secrets)`);
      for (const [config, where] of [
        [current.config, `version ${current.key.version}, the active one`],
        [current.canary?.config, `version ${current.canary?.key.version}, the canary`],
      ] as const) {
        if (config && Object.hasOwn(config.vars, key)) throw new SecretVarClashError(script, key, where, "secret");
      }
      const saved = await this.store.putSecret(script, key, this.secrets.seal(script, key, value));
      this.secretsChanged(script);
      return saved;
    });
  }

  /** False when the script has no such secret. */
  deleteSecret(script: string, key: string): Promise<boolean> {
    return this.serialise(async () => {
      if (!this.active.has(script)) throw new NotFoundError(`script "${script}"`);
      const deleted = await this.store.deleteSecret(script, key);
      if (deleted) this.secretsChanged(script);
      return deleted;
    });
  }

  /** Names and update times only: values never leave the store but sealed, and reach only isolates. */
  async listSecrets(script: string): Promise<{ key: string; updatedAt: string }[]> {
    if (!this.active.has(script)) throw new NotFoundError(`script "${script}"`);
    return (await this.store.getSecrets(script)).map(({ key, updatedAt }) => ({ key, updatedAt }));
  }

  /** Code and settings for a worker's cold start; env is the version's vars and the script's secrets now. */
  async loadCode(key: VersionKey): Promise<CodeForVersion | undefined> {
    const version = await this.version(key);
    if (!version) return undefined;
    const settings = isolateSettings(version.config as ScriptConfig, version.version);
    for (const secret of await this.store.getSecrets(key.script)) settings.env[secret.key] = this.secrets.open(key.script, secret.key, secret.sealed);
    return { bundle: version.bundle, codeCache: version.codeCache, settings };
  }

  /**
   * A better code cache for a version, made by a worker after the version's
   * first request: its later cold starts, here and on hosts that share the
   * store, start from it. When the write fails, the old cache serves on.
   */
  keepCodeCache(key: VersionKey, codeCache: Uint8Array, log: (line: string) => void): void {
    const id = versionId(key);
    const version = this.code.get(id);
    if (version) this.code.set(id, { ...version, codeCache });
    this.store.setCodeCache(key.script, key.version, codeCache).catch((error: unknown) => {
      log(`the code cache of ${id} was not saved (its next cold starts use the one from its upload): ${error instanceof Error ? error.message : String(error)}`);
    });
  }

  /** The config of any version, active or not (a binding call names its version). */
  async versionConfig(key: VersionKey): Promise<ScriptConfig | undefined> {
    return (await this.version(key))?.config as ScriptConfig | undefined;
  }

  private async version(key: VersionKey): Promise<ScriptVersion | undefined> {
    const id = versionId(key);
    let version = this.code.get(id);
    if (!version) {
      version = await this.store.getVersion(key.script, key.version);
      if (!version) return undefined;
      this.code.set(id, version);
    }
    return version;
  }
  private async setDeployment(script: string, kind: "rollback" | "promote" | "cancel-canary", version: number, config: ScriptConfig, endedCanary: Canary | null): Promise<DeploymentChange> {
    const deployment = await this.store.setDeployment(script, { kind, activeVersion: version, canary: null });
    this.active.set(script, { key: this.keyFor(script, version), config, canary: null });
    this.routes.set(script, config.routes);
    await this.activeChanged(script);
    return { deployment, endedCanary };
  }

  /** Tells the listeners; one that fails is logged by its owner, never undoes the change. */
  private async activeChanged(script: string): Promise<void> {
    for (const listener of this.activeChangeListeners) {
      try {
        await listener(script);
      } catch {
        // The change is saved; a listener reports its own failures.
      }
    }
  }

  private async checkVarsAgainstSecrets(script: string, config: ScriptConfig, where: string, writing: "deploy" | "rollback"): Promise<void> {
    const names = Object.keys(config.vars);
    if (names.length === 0) return;
    for (const { key } of await this.store.getSecrets(script)) if (names.includes(key)) throw new SecretVarClashError(script, key, where, writing);
  }

  /** New keys for the script's versions: workers build new isolates (with the new secrets) and retire the old ones. */
  private secretsChanged(script: string): void {
    this.envRevisions.set(script, (this.envRevisions.get(script) ?? 0) + 1);
    const current = this.active.get(script);
    if (!current) return;
    this.active.set(script, {
      ...current,
      key: this.keyFor(script, current.key.version),
      canary: current.canary && { ...current.canary, key: this.keyFor(script, current.canary.key.version) },
    });
  }

  private keyFor(script: string, version: number): VersionKey {
    const envRevision = this.envRevisions.get(script) ?? 0;
    return envRevision === 0 ? { script, version } : { script, version, envRevision };
  }

  private serialise<T>(work: () => Promise<T>): Promise<T> {
    const result = this.queue.then(work, work);
    this.queue = result.catch(() => {});
    return result;
  }
}

/** A bundle's length stands for its bytes: bundles are mostly ASCII, which V8 holds a byte a character. */
function versionBytes(version: ScriptVersion): number {
  return version.bundle.length + (version.codeCache?.byteLength ?? 0) + 1;
}

/** What an isolate of `version` (0 while a bundle is validated) is given of its config. */
export function isolateSettings(config: ScriptConfig, version = 0): IsolateSettings {
  const { memory_mb, cpu_ms, wall_ms, subrequests } = config.limits;
  const assetsBinding = config.assets?.binding;
  const bindings: BindingSpec[] = [
    ...config.kv_namespaces.map(({ binding }) => ({ name: binding, kind: "kv" as const })),
    ...config.buckets.map(({ binding }) => ({ name: binding, kind: "bucket" as const })),
    // Versions saved before [[services]] existed have none.
    ...(config.services ?? []).map(({ binding }) => ({ name: binding, kind: "service" as const })),
    // env.ASSETS.fetch() is a service call whose target is the version's own files.
    ...(assetsBinding !== undefined ? [{ name: assetsBinding, kind: "service" as const }] : []),
  ];
  const kvNamespaces = Object.fromEntries(config.kv_namespaces.map(({ binding, id }) => [binding, id]));
  const services = Object.fromEntries((config.services ?? []).map(({ binding, service }) => [binding, service]));
  if (assetsBinding !== undefined) services[assetsBinding] = assetsServiceTarget(config.name, version);
  return { memoryMb: memory_mb, cpuMs: cpu_ms, wallMs: wall_ms, subrequests, env: { ...config.vars }, bindings, kvNamespaces, services };
}

/** Routes compared as sets: their order in atoll.toml does not change what a script serves. */
function sameRoutes(a: readonly string[], b: readonly string[]): boolean {
  const set = new Set(a);
  return set.size === new Set(b).size && b.every((route) => set.has(route));
}
