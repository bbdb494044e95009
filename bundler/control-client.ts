// A small client of the host's control API (bearer token, JSON). Used by the
// CLI commands and by the host's start-up to deploy fixtures.
import type { ScriptConfig } from "../host/config/script-config.js";
import { ControlApiError, ControlUnreachableError, TokenRefusedError } from "./errors.js";

/** Where the control API is and how to authenticate to it. */
export interface ControlOptions {
  /** Base URL, e.g. "http://127.0.0.1:8788" (no trailing slash needed). */
  controlUrl: string;
  /** The admin bearer token (the host's `<data-dir>/admin-token`). */
  token: string;
}

/** The body of `PUT /v1/scripts/:name`. */
export interface UploadRequest {
  config: ScriptConfig;
  /** The bundle: one self-contained ES module. */
  bundle: string;
  /** A note kept with the version (`atoll deploy -m`). */
  message?: string;
  /** A gradual deploy: the share of clients (1 to 99) the new version serves as a canary (`atoll deploy --percent`). */
  percent?: number;
}

/** The answer to `PUT /v1/scripts/:name`: the new version, active or (with `percent`) a canary. */
export interface UploadResult {
  name: string;
  version: number;
  /** The version serving everyone else (the new one, unless it is a canary). Absent from older hosts. */
  active_version?: number;
  /** True when the upload equalled the active version: no version was made, `version` is the active one. Absent from older hosts. */
  unchanged?: boolean;
  canary?: CanaryInfo | null;
  bundle_bytes: number;
  bundle_gzip_bytes: number;
  /** Where the function answers, e.g. "http://hello.localhost:8787/". */
  urls: string[];
  /** ISO 8601. */
  created_at: string;
}

/** A gradual deploy in progress. */
export interface CanaryInfo {
  version: number;
  /** 1 to 99. */
  percent: number;
}

/** One entry of `GET /v1/scripts/:name/versions`. */
export interface VersionInfo {
  version: number;
  /** ISO 8601. */
  created_at: string;
  message: string | null;
  /** sha256 of the bundle, hex. */
  bundle_hash: string;
  bundle_bytes: number;
  bundle_gzip_bytes: number;
  active: boolean;
  canary: boolean;
}

/** The answer to `GET /v1/scripts/:name/versions`. */
export interface VersionList {
  name: string;
  active_version: number;
  canary: CanaryInfo | null;
  /** Where a rollback without a version goes (while no canary is live). */
  previous_version: number | null;
  /** Newest first. */
  versions: VersionInfo[];
  /** `before` for the next page; null on the last one. */
  next_before: number | null;
}

/** The answer to a rollback or promotion. */
export interface DeploymentChangeResult {
  name: string;
  kind: "rollback" | "promote" | "cancel-canary";
  active_version: number;
  previous_version: number | null;
  /** The canary the change ended (promoted or cancelled). */
  ended_canary: CanaryInfo | null;
  created_at: string;
}

/** One entry of `GET /v1/scripts/:name/secrets`: never a value. */
export interface SecretInfo {
  key: string;
  /** ISO 8601. */
  updated_at: string;
}

/** One entry of `GET /v1/scripts`. */
export interface ScriptSummary {
  name: string;
  active_version: number;
  routes: string[];
  /** ISO 8601. */
  updated_at: string;
}

/** The answer to `GET /v1/scripts/:name` (fields beyond these may follow). */
export interface ScriptDetails {
  name: string;
  active_version: number;
  config: ScriptConfig;
  /** How many versions the script has. */
  versions: number;
  /** Where the function answers. */
  urls: string[];
  [field: string]: unknown;
}

/** The body of `POST /v1/scripts/:name/invoke`. */
export type InvokeRequest = (
  | { kind: "http"; method?: string; path?: string; headers?: [string, string][]; body?: string; encoding?: "text" | "base64" }
  | { kind: "scheduled"; cron?: string }
  | { kind: "storage"; action: "put" | "delete"; bucket: string; key: string }
) & { async?: boolean };

/** One log line of an invocation. */
export interface InvocationLogLine {
  level: string;
  message: string;
  /** ISO 8601. */
  time: string;
}

/** The answer to a direct (not async) invocation. */
export interface InvokeResult {
  name: string;
  version: number;
  kind: "http" | "scheduled" | "storage";
  /** What ran: { kind: "scheduled", cron, scheduledTime }, { kind: "storage", action, bucket, key, … } or the HTTP request without its body. */
  event: Record<string, unknown>;
  outcome: "ok" | "error";
  duration_ms: number;
  /** CPU time charged to the invocation; null when it did not run to its end. Absent from older hosts. */
  cpu_ms?: number | null;
  cold: boolean;
  no_retry: boolean;
  error: { code: string; message: string; stack?: string } | null;
  response: { status: number; status_text: string; headers: [string, string][]; body: string; body_encoding: "text" | "base64"; truncated: boolean } | null;
  logs: InvocationLogLine[];
  dropped_logs: number;
}

/** The answer to an async invocation: the event is in the queue. */
export interface InvokeQueued {
  name: string;
  kind: "http" | "scheduled" | "storage";
  queued: true;
  id: number;
  enqueued_at: string;
}

/** One entry of `GET /v1/scripts/:name/dlq`. */
export interface DeadLetterInfo {
  id: number;
  kind: "http" | "scheduled" | "storage";
  event: Record<string, unknown>;
  attempts: number;
  enqueued_at: string;
  failed_at: string;
  error: string;
}

export class ControlClient {
  private readonly baseUrl: string;

  constructor(private readonly options: ControlOptions) {
    this.baseUrl = options.controlUrl.replace(/\/+$/, "");
  }

  /** Which of these static assets (SHA-256, hex) the host does not hold yet. */
  async missingAssets(hashes: string[]): Promise<string[]> {
    return (await this.request<{ missing: string[] }>("POST", "/v1/assets/missing", { hashes })).missing;
  }

  /** Uploads one static asset's bytes under their SHA-256. */
  async putAsset(hash: string, bytes: Uint8Array): Promise<void> {
    await this.raw("PUT", `/v1/assets/${hash}`, { body: bytes, headers: { "content-type": "application/octet-stream" } });
  }

  uploadScript(name: string, body: UploadRequest): Promise<UploadResult> {
    return this.request<UploadResult>("PUT", `/v1/scripts/${encodeURIComponent(name)}`, body);
  }

  async listScripts(): Promise<ScriptSummary[]> {
    const answer = await this.request<{ scripts?: ScriptSummary[] }>("GET", "/v1/scripts");
    return answer.scripts ?? [];
  }

  getScript(name: string): Promise<ScriptDetails> {
    return this.request<ScriptDetails>("GET", `/v1/scripts/${encodeURIComponent(name)}`);
  }

  deleteScript(name: string): Promise<{ deleted: string }> {
    return this.request<{ deleted: string }>("DELETE", `/v1/scripts/${encodeURIComponent(name)}`);
  }

  /**
   * A request whose body and answer are bytes, not JSON (KV values, bucket
   * objects). Returns the response when it is a success; throws the API's
   * error otherwise. `notFound` is returned as null instead of thrown.
   */
  async raw(method: string, path: string, init: { body?: Uint8Array | ReadableStream<Uint8Array>; headers?: Record<string, string>; notFound?: "null"; signal?: AbortSignal } = {}): Promise<Response | null> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.options.token}`, ...init.headers };
    // A streamed body needs half-duplex fetch (Node's fetch refuses it otherwise).
    const body = init.body === undefined ? {} : init.body instanceof Uint8Array ? { body: init.body } : { body: init.body, duplex: "half" as const };
    let response: Response;
    try {
      response = await fetch(`${this.baseUrl}${path}`, { method, headers, ...body, ...(init.signal ? { signal: init.signal } : {}) } as RequestInit);
    } catch (error) {
      throw new ControlUnreachableError(this.baseUrl, describeFetchFailure(error));
    }
    if (response.ok) return response;
    if (response.status === 404 && init.notFound === "null") return null;
    const text = await response.text();
    let answer: unknown = {};
    try {
      answer = JSON.parse(text);
    } catch {
      // Not an API error body: apiError falls back to the status.
    }
    throw apiError(response.status, answer, `${method} ${path}`, this.baseUrl);
  }

  /** A JSON request (the API's usual shape). */
  json<T>(method: string, path: string, body?: unknown): Promise<T> {
    return this.request<T>(method, path, body);
  }

  // ---- versions, rollback, gradual deploys --------------------------------

  listVersions(name: string, page: { limit?: number; before?: number } = {}): Promise<VersionList> {
    const query = new URLSearchParams();
    if (page.limit !== undefined) query.set("limit", String(page.limit));
    if (page.before !== undefined) query.set("before", String(page.before));
    const suffix = query.size > 0 ? `?${query}` : "";
    return this.request<VersionList>("GET", `/v1/scripts/${encodeURIComponent(name)}/versions${suffix}`);
  }

  rollback(name: string, version?: number): Promise<DeploymentChangeResult> {
    return this.request<DeploymentChangeResult>("POST", `/v1/scripts/${encodeURIComponent(name)}/rollback`, version === undefined ? {} : { version });
  }

  promote(name: string): Promise<DeploymentChangeResult> {
    return this.request<DeploymentChangeResult>("POST", `/v1/scripts/${encodeURIComponent(name)}/promote`, {});
  }

  // ---- invocation and the event queue --------------------------------------

  invoke(name: string, request: InvokeRequest): Promise<InvokeResult | InvokeQueued> {
    return this.request("POST", `/v1/scripts/${encodeURIComponent(name)}/invoke`, request);
  }

  listDeadLetters(name: string, page: { limit?: number; before?: number } = {}): Promise<{ name: string; dead_letters: DeadLetterInfo[]; next_before: number | null }> {
    const query = new URLSearchParams();
    if (page.limit !== undefined) query.set("limit", String(page.limit));
    if (page.before !== undefined) query.set("before", String(page.before));
    return this.request("GET", `/v1/scripts/${encodeURIComponent(name)}/dlq${query.size > 0 ? `?${query}` : ""}`);
  }

  replayDeadLetters(name: string, ids?: number[]): Promise<{ name: string; replayed: number[] }> {
    return this.request("POST", `/v1/scripts/${encodeURIComponent(name)}/dlq/replay`, ids === undefined ? {} : { ids });
  }

  purgeDeadLetters(name: string, ids?: number[]): Promise<{ name: string; purged: number }> {
    return this.request("POST", `/v1/scripts/${encodeURIComponent(name)}/dlq/purge`, ids === undefined ? {} : { ids });
  }

  // ---- secrets -------------------------------------------------------------

  putSecret(name: string, key: string, value: string): Promise<{ name: string; key: string; created: boolean; updated_at: string }> {
    return this.request("PUT", `/v1/scripts/${encodeURIComponent(name)}/secrets/${encodeURIComponent(key)}`, { value });
  }

  async listSecrets(name: string): Promise<SecretInfo[]> {
    const answer = await this.request<{ secrets?: SecretInfo[] }>("GET", `/v1/scripts/${encodeURIComponent(name)}/secrets`);
    return answer.secrets ?? [];
  }

  deleteSecret(name: string, key: string): Promise<{ name: string; deleted: string }> {
    return this.request("DELETE", `/v1/scripts/${encodeURIComponent(name)}/secrets/${encodeURIComponent(key)}`);
  }

  private async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.options.token}`, accept: "application/json" };
    if (body !== undefined) headers["content-type"] = "application/json";
    let response: Response;
    try {
      response = await fetch(`${this.baseUrl}${path}`, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
    } catch (error) {
      throw new ControlUnreachableError(this.baseUrl, describeFetchFailure(error));
    }
    const text = await response.text();
    let answer: unknown;
    try {
      answer = text === "" ? {} : JSON.parse(text);
    } catch {
      throw new ControlApiError(response.status, "ATOLL_CONTROL_API", `the control API at ${this.baseUrl} answered ${method} ${path} with ${response.status} and a body that is not JSON: is --control-url the host's control port?`);
    }
    if (!response.ok) throw apiError(response.status, answer, `${method} ${path}`, this.baseUrl);
    return answer as T;
  }
}

function apiError(status: number, answer: unknown, what: string, controlUrl: string): ControlApiError | TokenRefusedError {
  const error = (answer as { error?: unknown } | null)?.error;
  if (status === 401) return new TokenRefusedError(controlUrl);
  if (error && typeof error === "object") {
    const { code, message, ...details } = error as Record<string, unknown>;
    if (typeof message === "string") return new ControlApiError(status, typeof code === "string" ? code : "ATOLL_CONTROL_API", message, details);
  }
  return new ControlApiError(status, "ATOLL_CONTROL_API", `the control API answered ${what} with status ${status}`);
}

/** "connect ECONNREFUSED 127.0.0.1:8788" rather than undici's bare "fetch failed". */
function describeFetchFailure(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause;
  if (cause instanceof Error) {
    const { code } = cause as NodeJS.ErrnoException;
    return code && !cause.message.includes(code) ? `${code}: ${cause.message}` : cause.message;
  }
  if (cause && typeof cause === "object" && "code" in cause) return String((cause as { code: unknown }).code);
  return error.message;
}
