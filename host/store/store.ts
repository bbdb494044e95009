// The store interface: deployments (immutable versions and an active pointer per
// script). One interface, several backends: the embedded SQLite file (sqlite.ts)
// today, Redis for several hosts sharing one state later. Async on purpose, so
// that a networked backend fits the same shape.
import type { KvStore } from "./kv.js";

/** What an upload saves: the parts of a version the store does not assign. */
export interface NewVersion {
  script: string;
  /** The validated config (atoll.toml) as JSON. */
  config: unknown;
  /** The bundle: one self-contained ES module. */
  bundle: string;
  /** sha256 of the bundle, hex. */
  bundleHash: string;
  bundleBytes: number;
  bundleGzipBytes: number;
  /** V8 code cache produced by the host when the upload was validated (never by users). */
  codeCache: Uint8Array | null;
  /** The author's message (`atoll deploy -m`), if any. */
  message: string | null;
}

/** One immutable upload of a script. */
export interface ScriptVersion extends NewVersion {
  /** 1, 2, 3 … per script, never reused. */
  version: number;
  /** ISO 8601. */
  createdAt: string;
}

export interface ScriptRecord {
  name: string;
  activeVersion: number;
  /** The active version's config. */
  config: unknown;
  createdAt: string;
  updatedAt: string;
}

export interface Store {
  /** KV namespaces (./kv.ts). */
  readonly kv: KvStore;
  /**
   * Saves a new version and makes it the script's active one, in one durable
   * transaction: once this resolves, the version survives a crash.
   */
  putVersion(input: NewVersion): Promise<ScriptVersion>;
  getScript(name: string): Promise<ScriptRecord | undefined>;
  listScripts(): Promise<ScriptRecord[]>;
  getVersion(script: string, version: number): Promise<ScriptVersion | undefined>;
  countVersions(script: string): Promise<number>;
  /** Deletes the script and all its versions; false when there was none. */
  deleteScript(name: string): Promise<boolean>;
  close(): Promise<void>;
}
