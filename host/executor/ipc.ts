// Messages between the front process and a worker process (child_process IPC
// with "advanced" serialization, so Uint8Array bodies cross without base64).
import type { FetchEvent, HeaderList, InstalledHandlers, LogLevel } from "../runtime/protocol.js";

/** Identifies the code an invocation runs: one immutable script version. */
export interface VersionKey {
  script: string;
  version: number;
}

/** Per-isolate settings derived from the version's config. */
export interface IsolateSettings {
  memoryMb: number;
  env: Record<string, unknown>;
}

export type FrontMessage =
  /** Run an HTTP event against a version. */
  | { t: "invoke"; id: number; key: VersionKey; event: FetchEvent }
  /** The code of a version, answering `need-code`. */
  | { t: "code"; key: VersionKey; bundle: string; codeCache: Uint8Array | null; settings: IsolateSettings }
  /** The version asked for with `need-code` no longer exists. */
  | { t: "code-missing"; key: VersionKey }
  /** One chunk of a streamed request body (null: the body ended), answering `body-read`. */
  | { t: "body-chunk"; id: number; data: Uint8Array | null; error?: string }
  /** The front wants the next chunk of invocation `id`'s response body. */
  | { t: "pull"; id: number }
  /** The client went away. */
  | { t: "abort"; id: number; reason: string }
  /** Compile and evaluate an uploaded bundle in a throwaway isolate. */
  | { t: "validate"; id: number; bundle: string; settings: IsolateSettings };

export type WorkerMessage =
  | { t: "ready"; pid: number }
  | { t: "need-code"; key: VersionKey }
  | { t: "response"; id: number; status: number; statusText: string; headers: HeaderList; body: null | Uint8Array | "stream"; cold: boolean }
  | { t: "chunk"; id: number; data: Uint8Array }
  | { t: "end"; id: number }
  /** The invocation failed: the handler threw, or the worker could not run it. */
  | { t: "error"; id: number; kind: "script" | "host"; message: string; stack: string }
  | { t: "done"; id: number }
  | { t: "body-read"; id: number }
  | { t: "log"; key: VersionKey; id: number | null; level: LogLevel; message: string }
  | { t: "validated"; id: number; ok: true; handlers: InstalledHandlers; codeCache: Uint8Array | null; compileMs: number }
  | { t: "validated"; id: number; ok: false; error: ValidationFailure };

export interface ValidationFailure {
  kind: "parse" | "evaluate" | "no-default-export";
  message: string;
  line?: number;
  column?: number;
}

export function versionId(key: VersionKey): string {
  return `${key.script}@${key.version}`;
}
