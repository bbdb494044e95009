// A worker process: owns isolates, runs invocations the front sends it, and
// talks to the front only through the channel on its fd 3 (../channel.ts,
// messages in ../ipc.ts). Spawned by the front with --no-node-snapshot; if
// user code takes this process down, the front restarts it and nothing else
// is affected.
import { Socket } from "node:net";
import { FrameChannel } from "../channel.js";
import type { FrontMessage, InvocationDone, IsolateSettings, VersionCode, VersionKey, WorkerMessage } from "../ipc.js";
import { isolateId, versionId, CHANNEL_CODEC } from "../ipc.js";
import type { FetchEvent } from "../../runtime/protocol.js";
import { FunctionIsolate, messageOf, useExecutionMarker, type CheckedMessage, type LoadedBundle } from "./function-isolate.js";
import { IsolatePool } from "./isolate-pool.js";
import { RuntimeImage } from "./runtime-image.js";
import { BundleLoadError, StartupTimeoutError } from "./bundle-errors.js";
import { lexerReady, planScript, type ScriptPlan } from "./bundle-script.js";
import { workerSettingsFromEnv } from "./settings.js";
import { warmUpRuntime } from "./runtime-warmup.js";
import { EgressPolicy } from "./egress.js";
import { ExecutionMarkerWriter } from "../execution-marker.js";
import { type HostSource, type SourceAccess, BadPipeError, isHostStreamRef, openHostSource, putFromSource } from "../pass-through.js";
import type { HostStreamRef } from "../../runtime/protocol.js";
import { LocalKvReads } from "./local-kv.js";
import { Agent } from "undici";
import type { ServiceCalls } from "./subrequests.js";
import { BindingCallError } from "../../bindings/binding-error.js";

const settings = workerSettingsFromEnv(process.env);
if (settings.executionMarkerFile) useExecutionMarker(new ExecutionMarkerWriter(settings.executionMarkerFile));
const image = RuntimeImage.load();
// Before the first spare boots: every isolate of this process starts from the cache it leaves.
await warmUpRuntime(image).catch((error: unknown) => process.stderr.write(`atoll worker: runtime warm-up failed: ${messageOf(error)}\n`));
const pool = new IsolatePool(image, settings.pool);
/** Every function's outbound fetches go through this Agent: one connection pool per worker, every address checked. */
const egress = new EgressPolicy(settings.egress).createAgent();
/** Service-binding calls go to the front's service socket, one connection pool for every isolate here. */
const serviceCalls: ServiceCalls | null = settings.services ? { dispatcher: new Agent({ connect: { socketPath: settings.services.socketPath } }), token: settings.services.token } : null;
/** KV gets answered in this process when the store allows it (./local-kv.ts). */
const localKv = settings.kvReads ? new LocalKvReads(settings.kvReads) : null;
/** How often the gets answered here are reported to the front's metrics, ms. */
const KV_TALLY_INTERVAL_MS = 1000;
if (localKv) setInterval(sendKvTally, KV_TALLY_INTERVAL_MS).unref();

/** The front: our only reason to live. When the channel closes, go. */
const channel = new FrameChannel<FrontMessage, WorkerMessage>(new Socket({ fd: 3, readable: true, writable: true }), CHANNEL_CODEC, receive, () => {
  pool.close();
  localKv?.close();
  // Give disposed isolates a moment: exiting right after disposing a busy one can segfault.
  setTimeout(() => process.exit(0), 50).unref();
});

function send(message: WorkerMessage): void {
  channel.send(message);
}

/** The isolate each running invocation lives in. */
const running = new Map<number, FunctionIsolate>();
/** Invocations waiting for their version's code to arrive. */
const waitingForCode = new Map<string, Pending[]>();
type Answer = (ok: boolean, value: unknown) => void;
/** Request-body reads in flight (one per invocation): invocation id → who gets the chunk. */
const bodyReads = new Map<number, Answer>();
/** Binding calls (KV, buckets) the front is answering: request number → who gets the result. */
const bindingCalls = new Map<number, Answer>();
let lastBindingCall = 0;
/** Invocations whose isolate was booted for them, reported as cold. */
const coldInvocations = new Set<number>();

/** An invocation to start once its isolate is ready. */
interface Pending {
  id: number;
  /** The event as JSON (ipc.ts `invoke`), and a fetch event's body. */
  event: string;
  body: FetchEvent["body"];
  depth: number;
  /** Storage-trigger chain depth (ipc.ts `invoke`). */
  chain: number;
}

/** The latest env revision seen per script (ipc.ts VersionKey.envRevision). */
const envRevisions = new Map<string, number>();

function invoke(pending: Pending, key: VersionKey, code?: VersionCode): void {
  followEnvRevision(key);
  const vid = isolateId(key);
  const isolate = pool.get(vid);
  if (isolate && !isolate.broken) {
    start(pending, isolate, false);
    return;
  }
  if (isolate) pool.discard(vid, isolate);
  const queue = waitingForCode.get(vid);
  if (queue) {
    queue.push(pending);
    return;
  }
  waitingForCode.set(vid, [pending]);
  if (code) void receiveCode(key, code.bundle, code.codeCache, code.settings);
  else send({ t: "need-code", key });
}

function followEnvRevision(key: VersionKey): void {
  const revision = key.envRevision ?? 0;
  if (revision > (envRevisions.get(key.script) ?? 0)) {
    // The script's secrets changed: its warm isolates hold the old values and never serve again.
    envRevisions.set(key.script, revision);
    pool.retireScript(key.script);
  }
}

/** Preloads loading now; a preload past these is dropped, so that a burst of deploys cannot crowd out requests. */
const MAX_PRELOADS = 1;
let preloading = 0;

/**
 * A version just deployed, loaded before its first request (which then finds
 * it warm) when this worker has room for it; requests that come while it
 * loads wait for it, as for any cold start.
 */
function preload(key: VersionKey, bundle: string, codeCache: Uint8Array | null, isolateSettings: IsolateSettings): void {
  followEnvRevision(key);
  const vid = isolateId(key);
  if (draining || preloading >= MAX_PRELOADS || waitingForCode.has(vid) || pool.has(vid) || !pool.hasRoom()) return;
  preloading++;
  waitingForCode.set(vid, []);
  void receiveCode(key, bundle, codeCache, isolateSettings, true).finally(() => preloading--);
}

function start({ id, event, body, depth, chain }: Pending, isolate: FunctionIsolate, cold: boolean): void {
  running.set(id, isolate);
  if (cold) coldInvocations.add(id);
  isolate.dispatch(id, event, body, depth, chain);
}

async function receiveCode(key: VersionKey, bundle: string, codeCache: Uint8Array | null, isolateSettings: IsolateSettings, preloading = false): Promise<void> {
  const vid = isolateId(key);
  const queue = waitingForCode.get(vid) ?? [];
  let isolate: FunctionIsolate | undefined;
  try {
    isolate = await pool.take(isolateSettings.memoryMb);
    bindIsolate(isolate, key, isolateSettings.kvNamespaces);
    // The execution marker (and so quarantine) names the version, whatever its env.
    isolate.label = versionId(key);
    isolate.bindServices(isolateSettings.services ?? {});
    isolate.allowFetch(egress, (ref, id) => openHostSource(ref, sourceAccess(isolate!, key, id)), serviceCalls);
    await isolate.load(bundle, codeCache, isolateSettings.env, `file:///${key.script}.js`, settings.evaluateTimeoutMs, {
      cpuMs: isolateSettings.cpuMs,
      wallMs: isolateSettings.wallMs,
      subrequests: isolateSettings.subrequests,
    }, isolateSettings.bindings);
    if (preloading) pool.preloaded(vid, isolate);
    else pool.add(vid, isolate);
  } catch (error) {
    isolate?.dispose();
    waitingForCode.delete(vid);
    const message = `could not start ${vid}: ${messageOf(error)}`;
    for (const { id } of queue) {
      send({ t: "error", id, kind: "host", message, stack: "" });
      send({ t: "done", id, cpuMs: 0 });
    }
    reportIfDrained();
    return;
  }
  waitingForCode.delete(vid);
  for (const pending of queue) start(pending, isolate, true);
}

// ---- memory ceiling: drain and be replaced ---------------------------------

/** Set once the front answered `over-memory` with `drain`: no new invocations will come. */
let draining = false;
let overMemoryReported = false;
/** Uploads being validated here. */
let validating = 0;

const RSS_CHECK_INTERVAL_MS = 1000;
setInterval(() => {
  if (overMemoryReported) return;
  const rssBytes = process.memoryUsage.rss();
  if (rssBytes <= settings.maxRssBytes) return;
  overMemoryReported = true;
  send({ t: "over-memory", rssBytes });
}, RSS_CHECK_INTERVAL_MS).unref();

/** Once draining and idle, tells the front, which then stops this process. */
function reportIfDrained(): void {
  if (draining && running.size === 0 && responsePipes.size === 0 && waitingForCode.size === 0 && validating === 0) {
    draining = false;
    sendKvTally();
    send({ t: "drained" });
  }
}

/**
 * Response heads held until the isolate's messages of this turn are handled,
 * so that the `done` right behind (a handler that answered at once, with no
 * waitUntil work) travels in the same message.
 */
const heldResponses = new Map<number, Extract<WorkerMessage, { t: "response" }>>();
let heldFlushQueued = false;

function holdResponse(message: Extract<WorkerMessage, { t: "response" }>): void {
  heldResponses.set(message.id, message);
  if (heldFlushQueued) return;
  heldFlushQueued = true;
  queueMicrotask(() => {
    heldFlushQueued = false;
    for (const held of heldResponses.values()) send(held);
    heldResponses.clear();
  });
}

function bindIsolate(isolate: FunctionIsolate, key: VersionKey, kvNamespaces: Record<string, string>): void {
  const vid = isolateId(key);
  isolate.listen((message: CheckedMessage) => {
    switch (message.t) {
      case "response": {
        // The checked message is ours: it becomes the message to the front.
        const response = message as Omit<Extract<WorkerMessage, { t: "response" }>, "pipe"> & { pipe?: HostStreamRef };
        response.cold = coldInvocations.delete(message.id);
        if (response.pipe !== undefined) {
          const ref = response.pipe;
          try {
            if (ref.from === "fetch") {
              // Its bytes are here: this worker sends them on as the front pulls.
              delete response.pipe;
              responsePipes.set(message.id, { source: openHostSource(ref, sourceAccess(isolate, key, message.id)), pulling: false });
              response.stream = true;
            } else checkFrontHeld(ref, isolate);
          } catch (error) {
            send({ t: "error", id: message.id, kind: "script", message: `the response body cannot be sent: ${messageOf(error)}`, stack: "" });
            return;
          }
        }
        holdResponse(response as Extract<WorkerMessage, { t: "response" }>);
        return;
      }
      case "handled":
        send({ t: "handled", id: message.id, cold: coldInvocations.delete(message.id) });
        return;
      case "chunk":
      case "end":
        send(message);
        return;
      case "error":
        send({ t: "error", id: message.id, kind: "script", message: message.message, stack: message.stack });
        return;
      case "terminated":
        send(message);
        return;
      case "done": {
        running.delete(message.id);
        coldInvocations.delete(message.id);
        // Measured (or its last measurement taken) before the front hears of the end, for the record.
        const heapBytes = isolate.broken ? null : pool.released(vid, isolate, message.cpuMs);
        const ended: EndedInvocation = { message, heapMb: heapBytes === null ? undefined : Math.round((heapBytes / 1_048_576) * 100) / 100 };
        const held = heldResponses.get(message.id);
        if (responsePipes.has(message.id)) {
          // Its JS is over; the front hears `done` once the body it passes on has been sent.
          if (held) {
            heldResponses.delete(message.id);
            send(held);
          }
          pipesDone.set(message.id, ended);
        } else {
          bodyReads.delete(message.id);
          if (held) {
            heldResponses.delete(message.id);
            held.done = invocationDone(ended);
            send(held);
          } else send({ t: "done", id: message.id, ...invocationDone(ended) });
        }
        if (isolate.broken) pool.discard(vid, isolate);
        else if (isolate.wantsCodeCacheRefresh) refreshCodeCacheSoon(isolate, key);
        reportIfDrained();
        return;
      }
      case "log":
        send({ t: "log", key, id: message.id, level: message.level, message: message.message });
        return;
      case "uncaught":
        send({ t: "log", key, id: message.id, level: "error", message: `Uncaught ${message.stack || message.message}` });
        return;
      case "op":
        if (message.name === "request-body-read") {
          const op = message.op;
          readRequestBody(message.id, (ok, value) => isolate.resolve(op, ok, value));
        } else if (message.name === "binding") {
          const op = message.op;
          const answer: Answer = (ok, value) => {
            if (!isolate.broken) isolate.resolve(op, ok, value);
          };
          if (message.method === "putFrom") putFrom(isolate, key, message.id, message.binding, message.args, answer);
          else if (!(message.method === "get" && answerKvGet(key, kvNamespaces, message.binding, message.args, answer))) {
            callBinding(key, message.binding, message.method, message.args, isolate.chainOf(message.id), answer);
          }
        }
        return;
      case "cancel":
        return;
    }
  });
}

/**
 * Once a version's first invocation here is over, its code cache made again
 * with what that compiled, for the front to keep with the version; a turn
 * later, after the invocation's response and end have been sent.
 */
function refreshCodeCacheSoon(isolate: FunctionIsolate, key: VersionKey): void {
  setImmediate(() => {
    let codeCache: Uint8Array | null;
    try {
      codeCache = isolate.refreshCodeCache();
    } catch {
      return; // the isolate went meanwhile (a limit, a dispose): the version keeps the cache it has
    }
    if (codeCache) send({ t: "code-cache", key, codeCache });
  });
}

async function validate(id: number, script: string, bundle: string, isolateSettings: IsolateSettings): Promise<void> {
  try {
    await lexerReady();
    const plan = planScript(bundle);
    let loaded: LoadedBundle;
    try {
      loaded = await validateAs(script, bundle, isolateSettings, plan);
    } catch (error) {
      // The script form is ours, not the user's: where it fails, the module decides (and its errors are the ones reported).
      if (plan === null || error instanceof StartupTimeoutError) throw error;
      loaded = await validateAs(script, bundle, isolateSettings, null);
    }
    send({ t: "validated", id, ok: true, handlers: loaded.handlers, codeCache: loaded.producedCodeCache, compileMs: loaded.loadMs });
  } catch (error) {
    const failure = error instanceof BundleLoadError ? error.toFailure() : { kind: "evaluate" as const, message: messageOf(error) };
    send({ t: "validated", id, ok: false, error: failure });
  }
}

/**
 * Loads the bundle in an isolate of its own, as a script when `plan` is
 * given, under the file name its versions load with: a script's code cache
 * keeps the name it was made with.
 */
async function validateAs(script: string, bundle: string, isolateSettings: IsolateSettings, plan: ScriptPlan | null): Promise<LoadedBundle> {
  const filename = `file:///${script}.js`;
  let isolate: FunctionIsolate | undefined;
  try {
    isolate = await FunctionIsolate.boot(image, isolateSettings.memoryMb);
    isolate.label = "(an upload being validated)";
    if (plan) isolate.checkModuleSyntax(bundle, filename);
    return await isolate.load(bundle, null, isolateSettings.env, filename, settings.evaluateTimeoutMs, undefined, [], plan);
  } finally {
    isolate?.dispose();
  }
}

function receive(message: FrontMessage): void {
  switch (message.t) {
    case "invoke":
      invoke({ id: message.id, event: message.event, body: message.bodyStream ? "stream" : message.body, depth: message.depth, chain: message.chain ?? 0 }, message.key, message.code);
      return;
    case "code":
      if (message.preload) preload(message.key, message.bundle, message.codeCache, message.settings);
      else void receiveCode(message.key, message.bundle, message.codeCache, message.settings);
      return;
    case "code-missing": {
      const vid = isolateId(message.key);
      const problem = message.reason ? `${versionId(message.key)} could not be loaded: ${message.reason}` : `${versionId(message.key)} no longer exists`;
      for (const { id } of waitingForCode.get(vid) ?? []) {
        send({ t: "error", id, kind: "host", message: problem, stack: "" });
        send({ t: "done", id, cpuMs: 0 });
      }
      waitingForCode.delete(vid);
      reportIfDrained();
      return;
    }
    case "binding-result": {
      const answer = bindingCalls.get(message.req);
      bindingCalls.delete(message.req);
      answer?.(message.ok, message.value);
      return;
    }
    case "drain":
      draining = true;
      reportIfDrained();
      return;
    case "body-chunk": {
      const answer = bodyReads.get(message.id);
      if (answer === undefined) return;
      bodyReads.delete(message.id);
      if (message.error) answer(false, message.error);
      else answer(true, message.data);
      return;
    }
    case "pull":
      if (responsePipes.has(message.id)) pumpResponsePipe(message.id);
      else running.get(message.id)?.pull(message.id);
      return;
    case "abort":
      if (responsePipes.has(message.id)) endResponsePipe(message.id, message.reason);
      running.get(message.id)?.abort(message.id, message.reason);
      return;
    case "validate":
      validating++;
      void validate(message.id, message.script, message.bundle, message.settings).finally(() => {
        validating--;
        reportIfDrained();
      });
      return;
  }
}

// ---- bodies passed along (../pass-through.ts) -------------------------------

function readRequestBody(id: number, answer: Answer): void {
  bodyReads.set(id, answer);
  send({ t: "body-read", id });
}

/** A KV get answered from this process's own read of the store; false when the front must answer it. */
function answerKvGet(key: VersionKey, kvNamespaces: Record<string, string>, binding: string, args: unknown[], answer: Answer): boolean {
  const namespace = Object.hasOwn(kvNamespaces, binding) ? kvNamespaces[binding] : undefined;
  if (!localKv || namespace === undefined) return false;
  let value;
  try {
    value = localKv.get(key.script, namespace, args[0], args[1] === true);
  } catch (error) {
    if (!(error instanceof BindingCallError)) return false;
    // As the front answers a bad argument (executor.ts bindingFailure).
    answer(false, { name: error.errorName, message: error.message });
    return true;
  }
  if (value === undefined) return false;
  answer(true, value);
  return true;
}

function sendKvTally(): void {
  const counts = localKv?.takeCounts();
  if (counts && counts.size > 0) send({ t: "kv-read-tally", counts: [...counts].map(([script, { ok, errors }]) => [script, ok, errors]) });
}

function callBinding(key: VersionKey, binding: string, method: string, args: unknown[], chain: number, answer: Answer): void {
  const req = ++lastBindingCall;
  bindingCalls.set(req, answer);
  send({ t: "binding", req, key, binding, method, args, chain });
}

/** What a function of `isolate` (version `key`), in invocation `id`, may read. */
function sourceAccess(isolate: FunctionIsolate, key: VersionKey, id: number | null): SourceAccess {
  return {
    readRequestBody: (body) =>
      new Promise((resolve, reject) => readRequestBody(body, (ok, value) => (ok ? resolve(value as Uint8Array | null) : reject(new Error(String(value)))))),
    ownsInvocation: (other) => isolate.runs(other) || responsePipes.has(other),
    takeFetchBody: (op) => isolate.takeFetchBody(op),
    callBinding: (binding, method, args) =>
      new Promise((resolve, reject) =>
        callBinding(key, binding, method, args, isolate.chainOf(id), (ok, value) => {
          if (ok) resolve(value);
          else reject(Object.assign(new Error(String((value as { message?: unknown })?.message ?? value)), { wire: value }));
        }),
      ),
  };
}

/** `bucket.put(key, stream)` with a stream the host holds: stored by the worker, the function awaits the result. */
function putFrom(isolate: FunctionIsolate, key: VersionKey, id: number | null, binding: string, args: unknown[], answer: Answer): void {
  const [objectKey, ref, settings] = args;
  if (!isHostStreamRef(ref)) return answer(false, { name: "TypeError", message: "bucket put: that body stream cannot be stored (not a stream the host holds)" });
  const access = sourceAccess(isolate, key, id);
  let source: HostSource;
  try {
    if (ref.from !== "fetch") {
      // A request body or an object: the front holds the bytes and stores them itself.
      checkFrontHeld(ref, isolate);
      return callBinding(key, binding, "putFrom", [objectKey, ref, settings], isolate.chainOf(id), answer);
    }
    source = openHostSource(ref, access);
  } catch (error) {
    return answer(false, { name: "TypeError", message: `bucket put: ${messageOf(error)}` });
  }
  putFromSource(source, binding, objectKey, settings, access.callBinding).then(
    (wire) => answer(true, wire),
    (error: unknown) => {
      const wire = (error as { wire?: unknown }).wire;
      answer(false, wire ?? { name: error instanceof BadPipeError ? "TypeError" : "Error", message: `bucket put: ${messageOf(error)}` });
    },
  );
}

/**
 * A ref to bytes the front holds is passed to it as it is, once checked:
 * a request body must be one of this isolate's live invocations' (object
 * read handles the front checks against the script itself).
 */
function checkFrontHeld(ref: HostStreamRef, isolate: FunctionIsolate): void {
  if (ref.from === "request" && !isolate.runs(ref.id)) throw new BadPipeError("that request body belongs to an invocation that is over");
}

/** Response bodies the worker sends on by itself, by invocation; `done` waits for them. */
const responsePipes = new Map<number, { source: HostSource; pulling: boolean }>();
/** The `done` of invocations whose JS is over but whose piped response is still being sent. */
const pipesDone = new Map<number, EndedInvocation>();

/** An invocation whose JS is over, its `done` not yet sent (its fetches' bodies may still be counting). */
interface EndedInvocation {
  message: Extract<CheckedMessage, { t: "done" }>;
  heapMb: number | undefined;
}

/** What the front hears of an invocation's end, its fetch bytes as counted now. */
function invocationDone({ message, heapMb }: EndedInvocation): InvocationDone {
  const done: InvocationDone = { cpuMs: message.cpuMs, subrequests: message.subrequests };
  if (message.fetchBytes.sent > 0) done.fetchBytesOut = message.fetchBytes.sent;
  if (message.fetchBytes.received > 0) done.fetchBytesIn = message.fetchBytes.received;
  if (heapMb !== undefined) done.heapMb = heapMb;
  if (message.noRetry) done.noRetry = true;
  return done;
}

/** The front pulled the next chunk of a piped response body. */
function pumpResponsePipe(id: number): void {
  const pipe = responsePipes.get(id)!;
  if (pipe.pulling) return;
  pipe.pulling = true;
  pipe.source.read().then(
    (chunk) => {
      if (responsePipes.get(id) !== pipe) return;
      pipe.pulling = false;
      if (chunk === null) {
        send({ t: "end", id });
        endResponsePipe(id, null);
      } else if (chunk.byteLength === 0) pumpResponsePipe(id);
      else send({ t: "chunk", id, data: chunk });
    },
    (error: unknown) => {
      if (responsePipes.get(id) !== pipe) return;
      send({ t: "error", id, kind: "script", message: `the response body failed: ${messageOf(error)}`, stack: "" });
      endResponsePipe(id, "failed");
    },
  );
}

/** The piped response of `id` ended (or was given up on, with `reason`): report the invocation done. */
function endResponsePipe(id: number, reason: string | null): void {
  const pipe = responsePipes.get(id);
  if (!pipe) return;
  responsePipes.delete(id);
  if (reason !== null) pipe.source.cancel(reason);
  const ended = pipesDone.get(id);
  // Not yet over: its JS still runs (waitUntil); its own `done` goes out as usual.
  if (ended === undefined) return;
  pipesDone.delete(id);
  bodyReads.delete(id);
  send({ t: "done", id, ...invocationDone(ended) });
  reportIfDrained();
}

send({ t: "ready", pid: process.pid });
