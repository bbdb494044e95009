// The executor: the one boundary between "which function, which event" and
// "run it in an isolate". It supervises the worker processes, sends each
// script to the same worker (rendezvous hashing) so its isolate stays warm,
// and carries invocations, their streamed bodies and their failures.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type AtollError, ScriptQuarantinedError, WorkerCrashedError, WorkerUnavailableError } from "../errors.js";
import { encodeEvent, type FetchEvent, type HeaderList, type InstalledHandlers, type LogLevel, type TriggerEvent } from "../runtime/protocol.js";
import { createExecutionMarker, readExecutionMarker } from "./execution-marker.js";
import type { HostMetrics } from "../metrics.js";
import { isolateId, versionId, type FrontMessage, type IsolateSettings, type TerminationLimit, type ValidationFailure, type VersionKey, type WorkerMessage, type FrontHeldRef, type InvocationDone } from "./ipc.js";
import { WorkerProcess } from "./worker-process.js";
import { type HostSource, isHostStreamRef, openHostSource, putFromSource } from "./pass-through.js";
import type { WorkerSettings } from "./worker/settings.js";
import { fnv1a } from "../hash.js";

/** Reads a streamed request body, chunk by chunk, as the function asks for it. */
export interface RequestBodySource {
  /** The next chunk, or null at the end. */
  read(): Promise<Uint8Array | null>;
}

/** Reads a streamed response body from the function, one chunk per call. */
export interface ResponseBodyReader {
  read(): Promise<Uint8Array | null>;
  cancel(reason: string): void;
}

export interface InvocationResponse {
  status: number;
  statusText: string;
  headers: HeaderList;
  body: null | Uint8Array | ResponseBodyReader;
  /** True when an isolate was started for this invocation. */
  cold: boolean;
}

/** The function failed: it threw (kind "script") or could not be run (kind "host"). */
export class InvocationError extends Error {
  constructor(
    readonly kind: "script" | "host",
    message: string,
    readonly scriptStack: string,
  ) {
    super(message);
    this.name = "InvocationError";
  }
}

/** A limit of the script's config ended the invocation. */
export class InvocationTerminatedError extends Error {
  constructor(
    readonly limit: TerminationLimit,
    message: string,
  ) {
    super(message);
    this.name = "InvocationTerminatedError";
  }
}

/**
 * How a scheduled or storage event went. Never a rejection: a failure is an
 * outcome with the error (the function threw, a limit ended it, its worker
 * died, the version is quarantined).
 */
export type EventOutcome =
  | { ok: true; noRetry: boolean; cold: boolean }
  | { ok: false; error: InvocationError | InvocationTerminatedError | AtollError; noRetry: boolean };

/** One line of console output (or an uncaught error) of an invocation. */
export interface InvocationLogLine {
  level: LogLevel;
  message: string;
  /** ms since the epoch, when the front received it. */
  time: number;
}

/**
 * Keeps the log lines of one invocation for whoever asked (a direct
 * invocation answers with them), and says when the invocation is over and
 * how much CPU it used. Lines the runtime could not credit to an invocation
 * (code resumed after an await while several invocations share the isolate)
 * are not among them. With `maxLines` 0 it only waits for the end (the data
 * plane's log line).
 */
export class InvocationRecorder {
  readonly logs: InvocationLogLine[] = [];
  /** Lines past `maxLines`, counted but not kept. */
  dropped = 0;
  /** CPU time the invocation was charged, ms, once it is over; null when it never ran or its worker died. */
  cpuMs: number | null = null;
  /** Outbound fetches it made, once it is over; null as cpuMs. */
  subrequests: number | null = null;
  /** Bytes its fetches sent and received, and its isolate's memory at its end, MiB (ipc.ts InvocationDone); null as cpuMs. */
  fetchBytesOut: number | null = null;
  fetchBytesIn: number | null = null;
  heapMb: number | null = null;
  private finished = false;
  /** Who waits for the end; made on first use (most invocations are over before anyone asks). */
  private waiting: (() => void)[] | null = null;

  constructor(private readonly maxLines = 1000) {}

  /** Resolves once the invocation is over: done, ended by a limit, or lost with its worker. */
  get over(): Promise<void> {
    return this.finished ? Promise.resolve() : new Promise<void>((resolve) => this.whenOver(resolve));
  }

  /** Runs `callback` once the invocation is over (now, if it is). */
  whenOver(callback: () => void): void {
    if (this.finished) callback();
    else (this.waiting ??= []).push(callback);
  }

  add(level: LogLevel, message: string): void {
    if (this.logs.length < this.maxLines) this.logs.push({ level, message, time: Date.now() });
    else this.dropped++;
  }

  /** @internal the executor calls it when the invocation is over, with what it used when it ran to its end. */
  finish(usage?: InvocationDone): void {
    if (this.finished) return;
    if (usage) {
      this.cpuMs = usage.cpuMs;
      this.subrequests = usage.subrequests ?? 0;
      this.fetchBytesOut = usage.fetchBytesOut ?? 0;
      this.fetchBytesIn = usage.fetchBytesIn ?? 0;
      this.heapMb = usage.heapMb ?? null;
    }
    this.finished = true;
    const waiting = this.waiting;
    this.waiting = null;
    if (waiting) for (const callback of waiting) callback();
  }
}

export interface CodeForVersion {
  bundle: string;
  codeCache: Uint8Array | null;
  settings: IsolateSettings;
}

export interface LogEntry {
  key: VersionKey;
  level: LogLevel;
  message: string;
  /** The invocation it belongs to (the executor's number), when the runtime could tell. */
  invocation: number | null;
}

export type ValidationResult =
  | { ok: true; handlers: InstalledHandlers; codeCache: Uint8Array | null; compileMs: number }
  | { ok: false; error: ValidationFailure };

export interface ExecutorOptions {
  /** Worker processes to run. */
  workers: number;
  workerSettings: WorkerSettings;
  /** Where workers get a version's code on its cold start. */
  loadCode(key: VersionKey): Promise<CodeForVersion | undefined>;
  /** A worker made a better code cache for a version (after its first request): keep it for its next cold starts. */
  onCodeCache?(key: VersionKey, codeCache: Uint8Array): void;
  /** console output and uncaught errors of functions. */
  onLog(entry: LogEntry): void;
  /** Host events worth a log line (worker exits and restarts). */
  onEvent(message: string): void;
  /**
   * A function called one of its bindings (KV, bucket). Resolves with plain
   * data; rejects with an error whose `errorName` ("TypeError" | "Error") and
   * message the function sees. `chain`: the storage-trigger chain depth of
   * the invocation that called (0 outside storage events).
   */
  onBinding(key: VersionKey, binding: string, method: string, args: unknown[], chain: number): Promise<unknown>;
  /** Worker exits, quarantines and the KV gets workers answer themselves, for GET /metrics. */
  metrics?: Pick<HostMetrics, "workerExits" | "quarantined" | "bindingCalls">;
  /** The KV gets workers answered themselves, per script (the usage meter). */
  onLocalKvReads?(script: string, count: number): void;
}

interface Invocation {
  worker: WorkerProcess;
  key: VersionKey;
  resolveHead(response: InvocationResponse): void;
  rejectHead(error: Error): void;
  headSent: boolean;
  body: RequestBodySource | null;
  pendingRead: { resolve(chunk: Uint8Array | null): void; reject(error: Error): void } | null;
  /** Set when the response body ended, failed or was cancelled. */
  finished: boolean;
  /** Keeps the invocation's logs for a direct invocation; null: nobody asked. */
  recorder: InvocationRecorder | null;
  /** A scheduled or storage event: what happened so far, and who waits for the outcome. */
  trigger: TriggerRun | null;
}

interface TriggerRun {
  handled: boolean;
  cold: boolean;
  error: InvocationError | InvocationTerminatedError | null;
  resolve(outcome: EventOutcome): void;
}

const NO_HEAD = () => {};

/** Restarts within this window count towards a crash loop, ms. */
const CRASH_WINDOW_MS = 10_000;
const CRASHES_BEFORE_BACKOFF = 5;
const RESTART_BACKOFF_MS = 1000;
/** A version executing when its worker died this many times within the window is quarantined. */
const CRASHES_BEFORE_QUARANTINE = 3;
const QUARANTINE_WINDOW_MS = 10 * 60 * 1000;

export class Executor {
  private readonly workers: WorkerProcess[] = [];
  private readonly invocations = new Map<number, Invocation>();
  private readonly validations = new Map<number, { worker: WorkerProcess; resolve: (result: ValidationResult) => void }>();
  /** Workers over their memory ceiling, finishing their invocations while a replacement serves new ones. */
  private readonly draining = new Set<WorkerProcess>();
  private generation = 0;
  private readonly crashes: number[][] = [];
  private nextId = 1;
  private closing = false;
  /** Execution marker files, one per worker slot (./execution-marker.ts). */
  private readonly markerDir = mkdtempSync(join(tmpdir(), "atoll-execution-"));
  /** When each version was caught executing in a worker that died. */
  private readonly crashesByVersion = new Map<string, number[]>();
  /** Versions refused until redeployed, with the reason. */
  private readonly quarantined = new Map<string, string>();
  /** Each script's worker slot (rendezvous hashing, cached: the worker count never changes). */
  private readonly slots = new Map<string, number>();

  constructor(private readonly options: ExecutorOptions) {
    for (let slot = 0; slot < options.workers; slot++) {
      this.crashes.push([]);
      this.workers.push(this.spawn(slot));
    }
  }

  /**
   * Runs an HTTP event; resolves with the response head once the function has one.
   * `whenClientGone` registers the callback to run if the client disconnects
   * first (a plain callback: an AbortSignal per request costs measurably).
   */
  fetch(
    key: VersionKey,
    event: FetchEvent,
    body: RequestBodySource | null,
    whenClientGone?: (abort: () => void) => void,
    depth = 0,
    recorder: InvocationRecorder | null = null,
  ): Promise<InvocationResponse> {
    const quarantine = this.quarantined.size === 0 ? undefined : this.quarantined.get(versionId(key));
    if (quarantine !== undefined) {
      recorder?.finish();
      return Promise.reject(new ScriptQuarantinedError(`${key.script} version ${key.version}`, quarantine));
    }
    const worker = this.workers[this.slotFor(key.script)]!;
    if (!worker.alive) {
      recorder?.finish();
      return Promise.reject(new WorkerUnavailableError("the worker for this script is restarting"));
    }
    const id = this.nextId++;
    return new Promise<InvocationResponse>((resolveHead, rejectHead) => {
      this.invocations.set(id, { worker, key, resolveHead, rejectHead, headSent: false, body, pendingRead: null, finished: false, recorder, trigger: null });
      const encoded = encodeEvent(event);
      this.sendInvoke(
        worker,
        encoded.body === "stream"
          ? { t: "invoke", id, key, event: encoded.json, body: null, bodyStream: true, depth }
          : { t: "invoke", id, key, event: encoded.json, body: encoded.body, depth },
      );
      whenClientGone?.(() => {
        const invocation = this.invocations.get(id);
        if (invocation && !invocation.finished) worker.send({ t: "abort", id, reason: "the client went away" });
      });
    });
  }

  /**
   * Runs a scheduled or storage event against a version, on the worker its
   * HTTP requests go to, under the same CPU, wall-clock and memory limits.
   * Resolves with the outcome once the invocation is over (every
   * ctx.waitUntil settled); never rejects. `chain`: the storage-trigger chain
   * depth of a storage event (bucket writes it makes cause events one deeper).
   */
  run(key: VersionKey, event: TriggerEvent, options: { chain?: number; recorder?: InvocationRecorder } = {}): Promise<EventOutcome> {
    const recorder = options.recorder ?? null;
    const failed = (error: AtollError): Promise<EventOutcome> => {
      recorder?.finish();
      return Promise.resolve({ ok: false, error, noRetry: false });
    };
    const quarantine = this.quarantined.size === 0 ? undefined : this.quarantined.get(versionId(key));
    if (quarantine !== undefined) return failed(new ScriptQuarantinedError(`${key.script} version ${key.version}`, quarantine));
    const worker = this.workers[this.slotFor(key.script)]!;
    if (!worker.alive) return failed(new WorkerUnavailableError("the worker for this script is restarting"));
    const id = this.nextId++;
    return new Promise<EventOutcome>((resolve) => {
      const trigger: TriggerRun = { handled: false, cold: false, error: null, resolve };
      this.invocations.set(id, { worker, key, resolveHead: NO_HEAD, rejectHead: NO_HEAD, headSent: true, body: null, pendingRead: null, finished: false, recorder, trigger });
      const message: Extract<FrontMessage, { t: "invoke" }> = { t: "invoke", id, key, event: encodeEvent(event).json, body: null, depth: 0 };
      if (options.chain) message.chain = options.chain;
      this.sendInvoke(worker, message);
    });
  }

  /**
   * The first invoke of a version on a worker carries the version's code, so
   * that the cold start does not wait for the worker to ask for it (one round
   * trip between the processes); later ones go as they are. A worker that
   * dropped the version since asks with `need-code`, as before.
   */
  private sendInvoke(worker: WorkerProcess, message: Extract<FrontMessage, { t: "invoke" }>): void {
    const vid = isolateId(message.key);
    if (worker.codeSent.has(vid)) {
      worker.send(message);
      return;
    }
    this.noteCodeSent(worker, vid);
    this.options.loadCode(message.key).then(
      (code) => {
        if (code) message.code = code;
        worker.send(message);
      },
      // The worker asks for the code and reports why it cannot be had.
      () => worker.send(message),
    );
  }

  private noteCodeSent(worker: WorkerProcess, vid: string): void {
    // A bound, not an LRU: forgetting costs one need-code round trip, no more.
    if (worker.codeSent.size >= 100_000) worker.codeSent.clear();
    worker.codeSent.add(vid);
  }

  /**
   * Sends a version's code to its worker ahead of its first request (after a
   * deploy or a rollback): the worker loads it when it has room, so that the
   * first request finds it warm. Best effort, never fails.
   */
  preload(key: VersionKey): void {
    if (this.quarantined.size > 0 && this.quarantined.has(versionId(key))) return;
    const worker = this.workers[this.slotFor(key.script)]!;
    if (!worker.alive) return;
    this.noteCodeSent(worker, isolateId(key));
    this.options.loadCode(key).then(
      (code) => {
        if (code && worker.alive) worker.send({ t: "code", key, ...code, preload: true });
      },
      () => {
        // The first request will ask again and report the reason.
      },
    );
  }

  /** Compiles and evaluates a bundle in a throwaway isolate on the script's worker. */
  validate(script: string, bundle: string, settings: IsolateSettings): Promise<ValidationResult> {
    const worker = this.workers[this.slotFor(script)]!;
    const id = this.nextId++;
    return new Promise<ValidationResult>((resolve, reject) => {
      this.validations.set(id, { worker, resolve });
      if (!worker.alive) {
        this.validations.delete(id);
        reject(new WorkerUnavailableError("the worker is restarting"));
        return;
      }
      worker.send({ t: "validate", id, script, bundle, settings });
    });
  }

  /** Process ids of the live workers (for tests and the operator). */
  get workerPids(): number[] {
    return this.workers.filter((worker) => worker.alive).map((worker) => worker.pid).filter((pid): pid is number => pid !== undefined);
  }

  /** Why a version is quarantined, or undefined when it is not. */
  quarantineOf(key: VersionKey): string | undefined {
    return this.quarantined.get(versionId(key));
  }

  async close(): Promise<void> {
    this.closing = true;
    await Promise.all([...this.workers, ...this.draining].map((worker) => worker.stop()));
    rmSync(this.markerDir, { recursive: true, force: true });
  }

  private spawn(slot: number): WorkerProcess {
    const executionMarkerFile = join(this.markerDir, `worker-${slot}-${++this.generation}`);
    createExecutionMarker(executionMarkerFile);
    const worker: WorkerProcess = new WorkerProcess(
      slot,
      { ...this.options.workerSettings, executionMarkerFile },
      (message) => this.receive(worker, message),
      (code, signal) => this.workerExited(worker, executionMarkerFile, code, signal),
    );
    return worker;
  }

  /**
   * A worker went over its memory ceiling: a replacement takes its slot (new
   * invocations go there), and it finishes what it has, then exits.
   */
  private drain(worker: WorkerProcess, rssBytes: number): void {
    if (this.closing || this.workers[worker.slot] !== worker) return;
    this.draining.add(worker);
    this.workers[worker.slot] = this.spawn(worker.slot);
    const mib = (bytes: number) => `${Math.round(bytes / 1024 / 1024)} MiB`;
    this.options.onEvent(
      `worker ${worker.slot} uses ${mib(rssBytes)}, over its ceiling of ${mib(this.options.workerSettings.maxRssBytes)}: draining it; a replacement takes new requests`,
    );
    // Ordered after every invocation already sent to it: from here on it gets none.
    worker.send({ t: "drain" });
  }

  private workerExited(worker: WorkerProcess, markerFile: string, code: number | null, signal: NodeJS.Signals | null): void {
    const slot = worker.slot;
    const culprits = this.closing ? [] : readExecutionMarker(markerFile);
    rmSync(markerFile, { force: true });
    for (const [id, invocation] of this.invocations) {
      if (invocation.worker !== worker) continue;
      this.invocations.delete(id);
      const error = new WorkerCrashedError(culprits);
      if (!invocation.headSent) invocation.rejectHead(error);
      invocation.pendingRead?.reject(error);
      invocation.trigger?.resolve({ ok: false, error, noRetry: false });
      invocation.recorder?.finish();
    }
    for (const [id, validation] of this.validations) {
      if (validation.worker !== worker) continue;
      this.validations.delete(id);
      validation.resolve({ ok: false, error: { kind: "evaluate", message: "the worker process died while evaluating the bundle" } });
    }
    if (this.closing) return;
    if (this.draining.delete(worker)) {
      // Its replacement already serves; a crash while draining still counts against the culprit.
      this.options.onEvent(`worker ${slot} (drained) exited (${signal ?? `code ${code}`})`);
      this.options.metrics?.workerExits.inc({ kind: "drained" });
      if (culprits.length === 1) this.countCrash(culprits[0]!, Date.now());
      return;
    }
    const now = Date.now();
    const recent = this.crashes[slot]!.filter((at) => now - at < CRASH_WINDOW_MS);
    recent.push(now);
    this.crashes[slot] = recent;
    const delay = recent.length > CRASHES_BEFORE_BACKOFF ? RESTART_BACKOFF_MS : 0;
    const executing = culprits.length > 0 ? ` while executing ${culprits.join(", ")}` : "";
    this.options.onEvent(`worker ${slot} exited (${signal ?? `code ${code}`})${executing}; restarting${delay ? ` in ${delay} ms` : ""}`);
    this.options.metrics?.workerExits.inc({ kind: "crash" });
    // Only a death with one version executing names a culprit: with several, any of them may be innocent.
    if (culprits.length === 1) this.countCrash(culprits[0]!, now);
    // Without back-off the replacement starts now and queues requests until it is ready.
    if (delay === 0) this.workers[slot] = this.spawn(slot);
    else
      setTimeout(() => {
        if (!this.closing) this.workers[slot] = this.spawn(slot);
      }, delay);
  }

  /** A version was executing when its worker died: after a few such deaths it is quarantined. */
  private countCrash(version: string, now: number): void {
    if (!version.includes("@") || this.quarantined.has(version)) return;
    const recent = (this.crashesByVersion.get(version) ?? []).filter((at) => now - at < QUARANTINE_WINDOW_MS);
    recent.push(now);
    this.crashesByVersion.set(version, recent);
    if (recent.length < CRASHES_BEFORE_QUARANTINE) return;
    this.crashesByVersion.delete(version);
    const reason = `it was executing when its worker process died ${recent.length} times within ${QUARANTINE_WINDOW_MS / 60_000} minutes (a V8 fatal error or a crash)`;
    this.quarantined.set(version, reason);
    this.options.onEvent(`quarantined ${version}: ${reason}; its requests get 503 ATOLL_QUARANTINED until another version is deployed`);
    this.options.metrics?.quarantined.set(this.quarantined.size);
  }

  private receive(worker: WorkerProcess, message: WorkerMessage): void {
    switch (message.t) {
      case "ready":
        return;
      case "over-memory":
        this.drain(worker, message.rssBytes);
        return;
      case "drained":
        if (this.draining.has(worker)) void worker.stop();
        return;
      case "binding": {
        const { req } = message;
        if (message.method === "putFrom") {
          this.putFrom(message).then(
            (value) => worker.send({ t: "binding-result", req, ok: true, value }),
            (error: unknown) => worker.send({ t: "binding-result", req, ok: false, value: bindingFailure(error) }),
          );
          return;
        }
        this.options.onBinding(message.key, message.binding, message.method, message.args, message.chain ?? 0).then(
          (value) => worker.send({ t: "binding-result", req, ok: true, value: value ?? null }),
          (error: unknown) => worker.send({ t: "binding-result", req, ok: false, value: bindingFailure(error) }),
        );
        return;
      }
      case "kv-read-tally":
        for (const [script, ok, errors] of message.counts) {
          this.options.onLocalKvReads?.(script, ok + errors);
          if (ok > 0) this.options.metrics?.bindingCalls.inc({ kind: "kv", method: "get", outcome: "ok" }, ok);
          if (errors > 0) this.options.metrics?.bindingCalls.inc({ kind: "kv", method: "get", outcome: "error" }, errors);
        }
        return;
      case "need-code":
        this.options.loadCode(message.key).then(
          (code) => worker.send(code ? { t: "code", key: message.key, ...code } : { t: "code-missing", key: message.key }),
          (error: unknown) => {
            // E.g. a secret that does not decrypt: the reason names the script and the secret, never a value.
            const reason = error instanceof Error ? error.message : String(error);
            this.options.onEvent(`could not load ${versionId(message.key)}: ${reason}`);
            worker.send({ t: "code-missing", key: message.key, reason });
          },
        );
        return;
      case "code-cache":
        this.options.onCodeCache?.(message.key, message.codeCache);
        return;
      case "validated": {
        const resolve = this.validations.get(message.id)?.resolve;
        this.validations.delete(message.id);
        if (message.ok) resolve?.({ ok: true, handlers: message.handlers, codeCache: message.codeCache, compileMs: message.compileMs });
        else resolve?.({ ok: false, error: message.error });
        return;
      }
      case "log":
        if (message.id !== null) this.invocations.get(message.id)?.recorder?.add(message.level, message.message);
        this.options.onLog({ key: message.key, level: message.level, message: message.message, invocation: message.id });
        return;
      case "response": {
        const invocation = this.invocations.get(message.id);
        if (!invocation || invocation.headSent) return;
        invocation.headSent = true;
        const id = message.id;
        // Text bodies arrive as their UTF-8 bytes (./channel.ts).
        let body: ResponseBodyReader | Uint8Array | null;
        if (message.pipe !== undefined) {
          // Bytes this process holds (the request body, an object): they go out from here.
          body = this.frontHeldSource(message.pipe, invocation.key, 0);
          invocation.finished = true;
        } else {
          body = message.stream ? this.responseBodyReader(id, worker) : (message.body as Uint8Array | null);
          if (!message.stream) invocation.finished = true;
        }
        invocation.resolveHead({ status: message.status, statusText: message.statusText, headers: message.headers, body, cold: message.cold });
        if (message.done) this.invocationDone(id, message.done);
        return;
      }
      case "chunk":
      case "end": {
        const invocation = this.invocations.get(message.id);
        const read = invocation?.pendingRead;
        if (!invocation || !read) return;
        invocation.pendingRead = null;
        if (message.t === "end") invocation.finished = true;
        read.resolve(message.t === "chunk" ? message.data : null);
        return;
      }
      case "handled": {
        const trigger = this.invocations.get(message.id)?.trigger;
        if (!trigger || trigger.error) return;
        trigger.handled = true;
        trigger.cold = message.cold;
        return;
      }
      case "error":
      case "terminated": {
        const invocation = this.invocations.get(message.id);
        if (!invocation) return;
        const error =
          message.t === "error" ? new InvocationError(message.kind, message.message, message.stack) : new InvocationTerminatedError(message.limit, message.message);
        if (invocation.trigger) {
          // The first failure is the outcome; a limit that ends a handled event (in waitUntil) fails it too.
          invocation.trigger.error ??= error;
          invocation.finished = true;
          return;
        }
        invocation.finished = true;
        if (!invocation.headSent) {
          invocation.headSent = true;
          invocation.rejectHead(error);
        } else if (invocation.pendingRead) {
          invocation.pendingRead.reject(error);
          invocation.pendingRead = null;
        }
        return;
      }
      case "done":
        this.invocationDone(message.id, message);
        return;
      case "body-read": {
        const invocation = this.invocations.get(message.id);
        if (!invocation) return;
        const id = message.id;
        if (!invocation.body) {
          worker.send({ t: "body-chunk", id, data: null });
          return;
        }
        invocation.body.read().then(
          (data) => worker.send({ t: "body-chunk", id, data }),
          (error: unknown) => worker.send({ t: "body-chunk", id, data: null, error: `reading the request body failed: ${error instanceof Error ? error.message : String(error)}` }),
        );
        return;
      }
    }
  }

  /** Invocation `id` is over (response sent, waitUntil settled): settle its outcome and its recorder. */
  private invocationDone(id: number, done: InvocationDone): void {
    const invocation = this.invocations.get(id);
    this.invocations.delete(id);
    if (!invocation) return;
    const trigger = invocation.trigger;
    if (trigger) {
      const noRetry = done.noRetry === true;
      if (trigger.error) trigger.resolve({ ok: false, error: trigger.error, noRetry });
      else if (trigger.handled) trigger.resolve({ ok: true, noRetry, cold: trigger.cold });
      else trigger.resolve({ ok: false, error: new InvocationError("host", "the function finished without an outcome", ""), noRetry });
    } else if (!invocation.headSent) invocation.rejectHead(new InvocationError("host", "the function finished without a response", ""));
    invocation.recorder?.finish(done);
  }

  /**
   * Opens a body this process holds that a function passes on (./pass-through.ts):
   * the request body of one of its invocations, or an object it is reading.
   * Captured now: the invocation may be over before the body is.
   */
  private frontHeldSource(ref: FrontHeldRef, key: VersionKey, chain: number): HostSource {
    const body = ref.from === "request" ? (this.invocations.get(ref.id)?.body ?? null) : null;
    return openHostSource(ref, {
      readRequestBody: () => (body ? body.read() : Promise.resolve(null)),
      ownsInvocation: (id) => this.invocations.has(id),
      takeFetchBody: () => null,
      callBinding: (binding, method, args) => this.options.onBinding(key, binding, method, args, chain),
    });
  }

  /** `bucket.put(key, stream)` of a body this process holds (the worker checked the ref): stored from here. */
  private putFrom(message: Extract<WorkerMessage, { t: "binding" }>): Promise<unknown> {
    const [objectKey, ref, settings] = message.args;
    if (!isHostStreamRef(ref) || ref.from === "fetch") return Promise.reject(new TypeError("bucket put: that body stream cannot be stored here"));
    const source = this.frontHeldSource(ref, message.key, message.chain ?? 0);
    const call = (binding: string, method: string, args: unknown[]) => this.options.onBinding(message.key, binding, method, args, message.chain ?? 0);
    return putFromSource(source, message.binding, objectKey, settings, call);
  }

  private responseBodyReader(id: number, worker: WorkerProcess): ResponseBodyReader {
    return {
      read: () => {
        const invocation = this.invocations.get(id);
        if (!invocation || invocation.finished) return Promise.resolve(null);
        if (invocation.pendingRead) return Promise.reject(new Error("response body: one read at a time"));
        return new Promise<Uint8Array | null>((resolve, reject) => {
          invocation.pendingRead = { resolve, reject };
          worker.send({ t: "pull", id });
        });
      },
      cancel: (reason) => {
        const invocation = this.invocations.get(id);
        if (!invocation || invocation.finished) return;
        invocation.finished = true;
        worker.send({ t: "abort", id, reason });
      },
    };
  }

  /** Rendezvous hashing: each script's worker stays the same while the worker count does. */
  private slotFor(script: string): number {
    let slot = this.slots.get(script);
    if (slot === undefined) {
      slot = this.rendezvous(script);
      if (this.slots.size >= 100_000) this.slots.clear();
      this.slots.set(script, slot);
    }
    return slot;
  }

  private rendezvous(script: string): number {
    let best = 0;
    let bestScore = -1;
    for (let slot = 0; slot < this.workers.length; slot++) {
      const score = fnv1a(`${slot}:${script}`);
      if (score > bestScore) {
        bestScore = score;
        best = slot;
      }
    }
    return best;
  }
}

/** What a failed binding call tells the function: a TypeError or an Error, with a message and nothing of the host's. */
function bindingFailure(error: unknown): { name: string; message: string } {
  const name = (error as { errorName?: unknown } | null)?.errorName;
  if (name === "TypeError" || name === "Error") return { name, message: (error as Error).message };
  return { name: "Error", message: "the host could not complete the call (see its log)" };
}

