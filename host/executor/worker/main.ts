// A worker process: owns isolates, runs invocations the front sends it, and
// talks to the front only through the channel on its fd 3 (../channel.ts,
// messages in ../ipc.ts). Spawned by the front with --no-node-snapshot; if
// user code takes this process down, the front restarts it and nothing else
// is affected.
import { Socket } from "node:net";
import { FrameChannel } from "../channel.js";
import type { FrontMessage, IsolateSettings, VersionKey, WorkerMessage } from "../ipc.js";
import { isolateId, versionId, CHANNEL_CODEC } from "../ipc.js";
import type { FetchEvent } from "../../runtime/protocol.js";
import { FunctionIsolate, messageOf, useExecutionMarker, type CheckedMessage } from "./function-isolate.js";
import { IsolatePool } from "./isolate-pool.js";
import { RuntimeImage } from "./runtime-image.js";
import { BundleLoadError } from "./bundle-errors.js";
import { workerSettingsFromEnv } from "./settings.js";
import { warmUpRuntime } from "./runtime-warmup.js";
import { EgressPolicy } from "./egress.js";
import { ExecutionMarkerWriter } from "../execution-marker.js";

const settings = workerSettingsFromEnv(process.env);
if (settings.executionMarkerFile) useExecutionMarker(new ExecutionMarkerWriter(settings.executionMarkerFile));
const image = RuntimeImage.load();
// Before the first spare boots: every isolate of this process starts from the cache it leaves.
await warmUpRuntime(image).catch((error: unknown) => process.stderr.write(`atoll worker: runtime warm-up failed: ${messageOf(error)}\n`));
const pool = new IsolatePool(image, settings.pool);
/** Every function's outbound fetches go through this Agent: one connection pool per worker, every address checked. */
const egress = new EgressPolicy(settings.egress).createAgent();

/** The front: our only reason to live. When the channel closes, go. */
const channel = new FrameChannel<FrontMessage, WorkerMessage>(new Socket({ fd: 3, readable: true, writable: true }), CHANNEL_CODEC, receive, () => {
  pool.close();
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
/** Request-body reads in flight: invocation id → op to answer. */
const bodyReads = new Map<number, number>();
/** Binding calls (KV, buckets) the front is answering: request number → the isolate's op. */
const bindingCalls = new Map<number, { isolate: FunctionIsolate; op: number }>();
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

function invoke(pending: Pending, key: VersionKey): void {
  const revision = key.envRevision ?? 0;
  if (revision > (envRevisions.get(key.script) ?? 0)) {
    // The script's secrets changed: its warm isolates hold the old values and never serve again.
    envRevisions.set(key.script, revision);
    pool.retireScript(key.script);
  }
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
  send({ t: "need-code", key });
}

function start({ id, event, body, depth, chain }: Pending, isolate: FunctionIsolate, cold: boolean): void {
  running.set(id, isolate);
  if (cold) coldInvocations.add(id);
  isolate.dispatch(id, event, body, depth, chain);
}

async function receiveCode(key: VersionKey, bundle: string, codeCache: Uint8Array | null, isolateSettings: IsolateSettings): Promise<void> {
  const vid = isolateId(key);
  const queue = waitingForCode.get(vid) ?? [];
  let isolate: FunctionIsolate | undefined;
  try {
    isolate = await pool.take(isolateSettings.memoryMb);
    bindIsolate(isolate, key);
    // The execution marker (and so quarantine) names the version, whatever its env.
    isolate.label = versionId(key);
    isolate.allowFetch(egress);
    await isolate.load(bundle, codeCache, isolateSettings.env, `file:///${key.script}.js`, settings.evaluateTimeoutMs, {
      cpuMs: isolateSettings.cpuMs,
      wallMs: isolateSettings.wallMs,
      subrequests: isolateSettings.subrequests,
    }, isolateSettings.bindings);
    pool.add(vid, isolate);
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
  if (draining && running.size === 0 && waitingForCode.size === 0 && validating === 0) {
    draining = false;
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

function bindIsolate(isolate: FunctionIsolate, key: VersionKey): void {
  const vid = isolateId(key);
  isolate.listen((message: CheckedMessage) => {
    switch (message.t) {
      case "response":
        holdResponse({ ...message, cold: coldInvocations.delete(message.id) } as Extract<WorkerMessage, { t: "response" }>);
        return;
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
        bodyReads.delete(message.id);
        const held = heldResponses.get(message.id);
        if (held) {
          heldResponses.delete(message.id);
          held.done = message.noRetry ? { cpuMs: message.cpuMs, noRetry: true } : { cpuMs: message.cpuMs };
          send(held);
        } else send(message);
        if (isolate.broken) pool.discard(vid, isolate);
        else pool.released(vid, isolate);
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
          bodyReads.set(message.id, message.op);
          send({ t: "body-read", id: message.id });
        } else if (message.name === "binding") {
          const req = ++lastBindingCall;
          bindingCalls.set(req, { isolate, op: message.op });
          send({ t: "binding", req, key, binding: message.binding, method: message.method, args: message.args, chain: isolate.chainOf(message.id) });
        }
        return;
      case "cancel":
        return;
    }
  });
}

async function validate(id: number, bundle: string, isolateSettings: IsolateSettings): Promise<void> {
  let isolate: FunctionIsolate | undefined;
  try {
    isolate = await FunctionIsolate.boot(image, isolateSettings.memoryMb);
    isolate.label = "(an upload being validated)";
    const loaded = await isolate.load(bundle, null, isolateSettings.env, "file:///bundle.js", settings.evaluateTimeoutMs);
    send({ t: "validated", id, ok: true, handlers: loaded.handlers, codeCache: loaded.producedCodeCache, compileMs: loaded.loadMs });
  } catch (error) {
    const failure = error instanceof BundleLoadError ? error.toFailure() : { kind: "evaluate" as const, message: messageOf(error) };
    send({ t: "validated", id, ok: false, error: failure });
  } finally {
    isolate?.dispose();
  }
}

function receive(message: FrontMessage): void {
  switch (message.t) {
    case "invoke":
      invoke({ id: message.id, event: message.event, body: message.bodyStream ? "stream" : message.body, depth: message.depth, chain: message.chain ?? 0 }, message.key);
      return;
    case "code":
      void receiveCode(message.key, message.bundle, message.codeCache, message.settings);
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
      const call = bindingCalls.get(message.req);
      bindingCalls.delete(message.req);
      if (call && !call.isolate.broken) call.isolate.resolve(call.op, message.ok, message.value);
      return;
    }
    case "drain":
      draining = true;
      reportIfDrained();
      return;
    case "body-chunk": {
      const op = bodyReads.get(message.id);
      const isolate = running.get(message.id);
      if (op === undefined || !isolate) return;
      bodyReads.delete(message.id);
      if (message.error) isolate.resolve(op, false, message.error);
      else isolate.resolve(op, true, message.data);
      return;
    }
    case "pull":
      running.get(message.id)?.pull(message.id);
      return;
    case "abort":
      running.get(message.id)?.abort(message.id, message.reason);
      return;
    case "validate":
      validating++;
      void validate(message.id, message.bundle, message.settings).finally(() => {
        validating--;
        reportIfDrained();
      });
      return;
  }
}

send({ t: "ready", pid: process.pid });
