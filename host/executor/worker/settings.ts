// Worker settings, passed by the front through the environment at fork time.
import type { EgressSettings } from "./egress.js";
import type { IsolatePoolOptions } from "./isolate-pool.js";
import type { KvWorkerReads } from "../../store/kv.js";

export interface WorkerSettings {
  pool: IsolatePoolOptions;
  /** CPU budget of a bundle's top-level evaluation, ms. */
  evaluateTimeoutMs: number;
  /** Where functions' outbound fetches may connect. */
  egress: EgressSettings;
  /** The execution marker file (../execution-marker.ts) the front reads if this worker dies; set per worker by the executor. */
  executionMarkerFile: string | null;
  /** Past this resident set size the worker asks to be drained and replaced, bytes. */
  maxRssBytes: number;
  /** Where this worker may answer KV gets itself (null: the store is not one it can read). */
  kvReads: KvWorkerReads | null;
  /** The front's service socket and its token, for service-binding calls (null: none, as in tests of the executor alone). */
  services: { socketPath: string; token: string } | null;
}

export const WORKER_SETTINGS_ENV = "ATOLL_WORKER_SETTINGS";

export function workerSettingsFromEnv(env: NodeJS.ProcessEnv): WorkerSettings {
  const raw = env[WORKER_SETTINGS_ENV];
  if (!raw) throw new Error(`${WORKER_SETTINGS_ENV} is not set: worker processes are started by the host, not by hand`);
  return JSON.parse(raw) as WorkerSettings;
}
