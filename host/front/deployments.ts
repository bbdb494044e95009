// What is deployed right now: each script's active version, the route table
// built from their configs, and the code workers ask for on a cold start.
// Deploys and deletes are serialised here so that route claims cannot race.
import { LRUCache } from "lru-cache";
import type { ScriptConfig } from "../config/script-config.js";
import type { CodeForVersion } from "../executor/executor.js";
import type { IsolateSettings, VersionKey } from "../executor/ipc.js";
import type { BindingSpec } from "../runtime/protocol.js";
import { versionId } from "../executor/ipc.js";
import type { NewVersion, ScriptVersion, Store } from "../store/store.js";
import { RouteTable } from "./route-table.js";

export interface ActiveScript {
  key: VersionKey;
  config: ScriptConfig;
}

export class Deployments {
  private readonly active = new Map<string, ActiveScript>();
  private readonly routes: RouteTable;
  /** Versions recently handed to workers, so that cold starts skip the store. */
  private readonly code = new LRUCache<string, ScriptVersion>({ max: 256 });
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly store: Store,
    baseDomains: readonly string[],
  ) {
    this.routes = new RouteTable(baseDomains);
  }

  async load(): Promise<void> {
    for (const script of await this.store.listScripts()) {
      this.active.set(script.name, { key: { script: script.name, version: script.activeVersion }, config: script.config as ScriptConfig });
    }
    this.rebuildRoutes();
  }

  /** The active version of the script that answers this host and path. */
  route(host: string, path: string): ActiveScript | undefined {
    const script = this.routes.match(host, path);
    return script === undefined ? undefined : this.active.get(script);
  }

  get(script: string): ActiveScript | undefined {
    return this.active.get(script);
  }

  list(): ActiveScript[] {
    return [...this.active.values()];
  }

  /**
   * Runs `prepare` (validation) and saves the version, one deploy at a time;
   * throws RouteConflictError before anything is saved if a route is taken.
   */
  deploy(config: ScriptConfig, prepare: () => Promise<Omit<NewVersion, "script" | "config">>): Promise<ScriptVersion> {
    return this.serialise(async () => {
      this.routes.checkClaim(config.name, config.routes);
      const prepared = await prepare();
      const saved = await this.store.putVersion({ ...prepared, script: config.name, config });
      this.code.set(versionId(saved), saved);
      this.active.set(config.name, { key: { script: config.name, version: saved.version }, config });
      this.rebuildRoutes();
      return saved;
    });
  }

  remove(script: string): Promise<boolean> {
    return this.serialise(async () => {
      const removed = await this.store.deleteScript(script);
      this.active.delete(script);
      this.rebuildRoutes();
      return removed;
    });
  }

  /** Code for a worker's cold start. */
  async loadCode(key: VersionKey): Promise<CodeForVersion | undefined> {
    const version = await this.version(key);
    if (!version) return undefined;
    return { bundle: version.bundle, codeCache: version.codeCache, settings: isolateSettings(version.config as ScriptConfig) };
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

  private rebuildRoutes(): void {
    this.routes.load([...this.active.values()].map(({ config }) => ({ script: config.name, routes: config.routes })));
  }

  private serialise<T>(work: () => Promise<T>): Promise<T> {
    const result = this.queue.then(work, work);
    this.queue = result.catch(() => {});
    return result;
  }
}

export function isolateSettings(config: ScriptConfig): IsolateSettings {
  const { memory_mb, cpu_ms, wall_ms, subrequests } = config.limits;
  const bindings: BindingSpec[] = [
    ...config.kv_namespaces.map(({ binding }) => ({ name: binding, kind: "kv" as const })),
    ...config.buckets.map(({ binding }) => ({ name: binding, kind: "bucket" as const })),
  ];
  return { memoryMb: memory_mb, cpuMs: cpu_ms, wallMs: wall_ms, subrequests, env: { ...config.vars }, bindings };
}
