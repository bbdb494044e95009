// The store interface: deployments (immutable versions, an active pointer and
// an optional canary per script, the history of activations), secrets, KV
// and the event queue. One interface, several backends: the embedded SQLite file (sqlite.ts)
// today, Redis for several hosts sharing one state later. Async on purpose, so
// that a networked backend fits the same shape.
import type { KvStore } from "./kv.js";
import type { QueueStore } from "./queue.js";
import type { ObjectStore } from "./objects.js";

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
  /** A gradual deploy in progress: a share of clients goes to this version. */
  canary: Canary | null;
  createdAt: string;
  updatedAt: string;
}

/** A version that serves `percent` % of clients while the active version serves the rest. */
export interface Canary {
  version: number;
  /** 1 to 99. */
  percent: number;
}

/** What changed a script's active version or canary, as the history records it. */
export type DeploymentKind =
  /** An upload became the active version (a canary, if any, was dropped). */
  | "deploy"
  /** An upload became the canary. */
  | "canary"
  /** The canary became the active version. */
  | "promote"
  /** The active pointer moved back to an older version (a canary, if any, was dropped). */
  | "rollback"
  /** The canary was dropped; the active version serves everyone again. */
  | "cancel-canary";

/** One row of a script's deployment history. */
export interface Deployment {
  /** Increases with every change, across scripts. */
  id: number;
  script: string;
  kind: DeploymentKind;
  /** The active version after the change. */
  activeVersion: number;
  /** The active version before it (null on a script's first deploy). */
  previousVersion: number | null;
  /** The canary after the change. */
  canary: Canary | null;
  /** ISO 8601. */
  createdAt: string;
}

/** A version without its bundle: what listings show. */
export interface VersionSummary {
  version: number;
  createdAt: string;
  message: string | null;
  bundleHash: string;
  bundleBytes: number;
  bundleGzipBytes: number;
}

/** A secret as stored: only ever sealed (./secrets.ts), never plaintext. */
export interface SealedSecret {
  key: string;
  sealed: Uint8Array;
  /** ISO 8601. */
  updatedAt: string;
}

/** What another host changed, as a shared store (Redis) tells the others. */
export type ClusterChange =
  /** A script's active version, canary or existence changed: reload it from the store. */
  | { kind: "script"; script: string }
  /** A script's secrets changed: its isolates must be rebuilt with the new ones. */
  | { kind: "secrets"; script: string }
  /** Events were queued (or replayed): look at the queue. */
  | { kind: "queue" }
  /** The change channel came back after a disconnect: messages may have been missed, reload everything. */
  | { kind: "resync" };

export interface Store {
  /**
   * Set on a store that several hosts share (Redis): why it cannot be reached
   * now, or null when it can.
   */
  unavailable?(): string | null;
  /** Set on a store that several hosts share: calls `listener` with each change another host made. */
  onClusterChange?(listener: (change: ClusterChange) => void): () => void;
  /** KV namespaces (./kv.ts). */
  readonly kv: KvStore;
  /** The durable event queue, dead letters and cron schedules' last ticks (./queue.ts). */
  readonly queue: QueueStore;
  /** Buckets (./objects.ts). */
  readonly objects: ObjectStore;
  /**
   * Saves a new version and makes it the script's active one (or, with
   * `canaryPercent`, its canary), recording the change in the history, in one
   * durable transaction: once this resolves, the version survives a crash.
   */
  putVersion(input: NewVersion, options?: { canaryPercent?: number }): Promise<ScriptVersion>;
  getScript(name: string): Promise<ScriptRecord | undefined>;
  listScripts(): Promise<ScriptRecord[]>;
  getVersion(script: string, version: number): Promise<ScriptVersion | undefined>;
  /** Replaces a version's code cache (a worker made a better one); nothing when the version is gone. */
  setCodeCache(script: string, version: number, codeCache: Uint8Array): Promise<void>;
  countVersions(script: string): Promise<number>;
  /** Deletes the script, all its versions, its history, its secrets and its queued and dead-lettered events; false when there was none. */
  deleteScript(name: string): Promise<boolean>;
  close(): Promise<void>;

  // ---- Deployments: versions, history, rollback, gradual deploys ----------

  /** Versions newest first, those below `before` when given; at most `limit`. */
  listVersions(script: string, page: { limit: number; before?: number }): Promise<VersionSummary[]>;
  /**
   * Points the script at `activeVersion` with `canary` (or none), recording
   * `kind` in the history, in one durable transaction. The script must exist.
   */
  setDeployment(script: string, change: { kind: Exclude<DeploymentKind, "deploy" | "canary">; activeVersion: number; canary: Canary | null }): Promise<Deployment>;
  /** The latest change that moved the script's active version (deploy, promote or rollback). */
  lastActivation(script: string): Promise<Deployment | undefined>;
  /** The history, newest first. */
  listDeployments(script: string, limit: number): Promise<Deployment[]>;

  // ---- Secrets (sealed by ./secrets.ts before they reach the store) -------

  /** Saves a sealed secret, replacing one of the same key; durable once it resolves. */
  putSecret(script: string, key: string, sealed: Uint8Array): Promise<{ updatedAt: string; created: boolean }>;
  /** The script's secrets, sorted by key. */
  getSecrets(script: string): Promise<SealedSecret[]>;
  /** False when there was no such secret. */
  deleteSecret(script: string, key: string): Promise<boolean>;
  /** How many secrets the store holds, over every script. */
  countSecrets(): Promise<number>;
  /** The fingerprint of the key the secrets are sealed with (./secrets.ts), once one was recorded. */
  getSecretsKeyFingerprint(): Promise<string | undefined>;
  setSecretsKeyFingerprint(fingerprint: string): Promise<void>;
}
