// Nothing acknowledged is lost, nothing unfinished is visible: a host run as
// `atoll start` takes a stream of concurrent writes (deploys through the
// control API; KV puts and bucket puts, small and large streamed ones, from a
// function and through the control API), is killed with SIGKILL in the middle
// of it, and is started again on the same data directory. Every write it
// answered 2xx must be there and read back byte for byte; a key may instead
// show a later write whose answer the crash cut off, but never anything else.
// Five kills, each at a different moment; the data directory carries over.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes, randomInt } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { Agent, request as httpRequest, type IncomingHttpHeaders } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startHostProcess, waitGone, killIfSame, type HostProcess, type ProcessId } from "./support/host-process.js";

const WRITER = "crash-writer";
const DEPLOYED = "crash-deploys";
const NAMESPACE = "crash";
const BUCKET = "crash";

/** The function the writes go through: KV and bucket puts that answer only once the binding call resolved. */
const WRITER_BUNDLE = `export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const [, kind, ...rest] = url.pathname.split("/");
    const key = decodeURIComponent(rest.join("/"));
    if (kind === "kv" && request.method === "PUT") {
      await env.CACHE.put(key, await request.arrayBuffer());
      return new Response("stored");
    }
    if (kind === "kv") {
      const value = await env.CACHE.get(key, "arrayBuffer");
      return value === null ? new Response("no such key", { status: 404 }) : new Response(value);
    }
    if (kind === "obj" && request.method === "PUT") {
      const object = await env.FILES.put(key, request.body);
      return Response.json({ size: object.size, etag: object.etag });
    }
    if (kind === "obj") {
      const object = await env.FILES.get(key);
      return object === null ? new Response("no such object", { status: 404 }) : new Response(object.body, { headers: { etag: object.etag } });
    }
    return new Response("unknown route", { status: 404 });
  },
};`;

// ---- What was sent and what came back ----------------------------------------

/** How a write ended, as the client saw it. */
type Outcome =
  /** Still in flight. */
  | "pending"
  /** A 2xx answer: the host promised the write is durable. */
  | "acked"
  /** No answer (the connection died) or an error answer: it may or may not have happened. */
  | "unknown"
  /** The connection was refused: the host never saw it. */
  | "refused";

/** One version of a key's content: its size and digest (md5 for objects, sha256 for KV values). */
interface Content {
  size: number;
  digest: string;
}

interface Write extends Content {
  outcome: Outcome;
}

/**
 * One key's writes, in order (each key has one writer, which waits for each
 * answer before it sends the next). `baseline` is what the last check saw
 * (null: absent): the state every later write starts from.
 */
class KeyHistory {
  baseline: Content | null = null;
  writes: Write[] = [];

  /** What the key may show after a crash: the last acknowledged write (or the baseline), or any later write not known to have failed. */
  allowed(): (Content | null)[] {
    let lastAcked = -1;
    this.writes.forEach((write, index) => {
      if (write.outcome === "acked") lastAcked = index;
    });
    const from: Content | null = lastAcked === -1 ? this.baseline : this.writes[lastAcked]!;
    const later = this.writes.slice(lastAcked + 1).filter((write) => write.outcome === "unknown");
    return [from, ...later];
  }

  /** After a check: what was seen is the new starting point. */
  settle(seen: Content | null): void {
    this.baseline = seen;
    this.writes = [];
  }
}

interface SentDeploy {
  message: string;
  marker: string;
  bundleHash: string;
  outcome: Outcome;
  version?: number;
}

interface Tally {
  deploys: number;
  kvFunction: number;
  kvControl: number;
  objectsFunction: number;
  objectsControl: number;
  largeObjects: number;
}

const emptyTally = (): Tally => ({ deploys: 0, kvFunction: 0, kvControl: 0, objectsFunction: 0, objectsControl: 0, largeObjects: 0 });

// ---- HTTP, with the outcome classified --------------------------------------

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

class NoAnswer extends Error {
  constructor(
    readonly refused: boolean,
    cause: unknown,
  ) {
    super(`no answer: ${(cause as Error).message}`);
  }
}

interface CallInit {
  method?: string;
  headers?: Record<string, string>;
  body?: Buffer;
  /** Send the body chunked, this many bytes at a time, waiting for the socket to drain (a streamed upload). */
  streamChunkBytes?: number;
  /** Called as bytes of the body leave. */
  onSent?: (bytes: number) => void;
  agent?: Agent;
}

function call(url: string, init: CallInit = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const target = new URL(url);
    const headers: Record<string, string> = { ...init.headers };
    if (init.body && !init.streamChunkBytes) headers["content-length"] = String(init.body.byteLength);
    const request = httpRequest(
      { hostname: target.hostname, port: target.port, path: target.pathname + target.search, method: init.method ?? "GET", headers, agent: init.agent, timeout: 120_000 },
      (response) => {
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("end", () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks) }));
        response.on("error", (error) => reject(new NoAnswer(false, error)));
        response.on("aborted", () => reject(new NoAnswer(false, new Error("response aborted"))));
      },
    );
    request.on("error", (error: NodeJS.ErrnoException) => reject(new NoAnswer(error.code === "ECONNREFUSED", error)));
    request.on("timeout", () => request.destroy(new Error("timed out")));
    const body = init.body;
    if (!body) return void request.end();
    if (!init.streamChunkBytes) {
      request.end(body);
      init.onSent?.(body.byteLength);
      return;
    }
    const size = init.streamChunkBytes;
    void (async () => {
      for (let at = 0; at < body.byteLength; at += size) {
        if (request.destroyed) return;
        const more = request.write(body.subarray(at, at + size));
        init.onSent?.(Math.min(at + size, body.byteLength));
        if (!more) {
          await new Promise<void>((drained) => {
            const done = () => {
              request.off("drain", done);
              request.off("close", done);
              drained();
            };
            request.on("drain", done);
            request.on("close", done);
          });
        }
      }
      request.end();
    })();
  });
}

function outcomeOf(promise: Promise<Answer>, ok: (answer: Answer) => boolean = (answer) => answer.status >= 200 && answer.status < 300): Promise<{ outcome: Outcome; answer?: Answer }> {
  return promise.then(
    (answer) => ({ outcome: ok(answer) ? "acked" : "unknown", answer }),
    (error: unknown) => ({ outcome: error instanceof NoAnswer && error.refused ? "refused" : "unknown" }),
  );
}

const md5 = (bytes: Buffer) => createHash("md5").update(bytes).digest("hex");
const sha256 = (bytes: Buffer | string) => createHash("sha256").update(bytes).digest("hex");
const describeContent = (content: Content | null) => (content === null ? "absent" : `${content.size} bytes ${content.digest.slice(0, 12)}…`);

// ---- One round: writes until the kill ----------------------------------------

/** When to pull the plug, given what is in flight; each round picks another moment. */
interface KillMoment {
  name: string;
  ready(state: { inFlightLargeFunctionUpload: boolean; inFlightLargeControlUpload: boolean; commitStage: CommitStage | null; inFlightDeploy: boolean; inFlightKv: number }): boolean;
  /** Watch the host's temporary directory for where a large upload's commit is (only for the moments that need it). */
  watchCommit?: true;
}

/** How far the host is in committing an upload, as its temporary directory shows: all bytes written, or the file renamed away (recording it). */
type CommitStage = "whole in its temporary file" | "renamed into place";

const KILL_MOMENTS: KillMoment[] = [
  { name: "a large object half-streamed into a function", ready: (state) => state.inFlightLargeFunctionUpload },
  { name: "a large object half-streamed through the control API", ready: (state) => state.inFlightLargeControlUpload },
  { name: "a deploy and KV puts in flight", ready: (state) => state.inFlightDeploy && state.inFlightKv > 0 },
  // Every byte is in the temporary file and the host is about to sync and rename it: where half an object could show.
  { name: "a large object whole in its temporary file, not yet committed", ready: (state) => state.commitStage === "whole in its temporary file", watchCommit: true },
  // The file is in place and its record is being written: where a crash leaves a file no record points at.
  { name: "a large object renamed into place, its answer not back yet", ready: (state) => state.commitStage === "renamed into place", watchCommit: true },
];
/** How many writes of each kind a round has acknowledged before the kill is armed (every other object is a large one). */
const ACKS_BEFORE_KILL: Record<keyof Tally, number> = { deploys: 3, kvFunction: 10, kvControl: 10, objectsFunction: 6, objectsControl: 6, largeObjects: 0 };
/** If the moment never comes, kill anyway after this long (the round still counts). */
const ROUND_MAX_MS = 30_000;

class Round {
  stopping = false;
  readonly acked = emptyTally();
  private readonly inFlight = { largeFunction: 0, largeControl: 0, deploy: 0, kv: 0 };
  private commitStage: CommitStage | null = null;
  private resolveKilled!: (what: string) => void;
  /** Resolves once the host was killed, with the moment it was killed at. */
  readonly killed = new Promise<string>((resolve) => (this.resolveKilled = resolve));
  /** The host's crash: resolves once the front is gone, with the workers it had. */
  crashed: Promise<ProcessId[]> | undefined;
  readonly agent = new Agent({ keepAlive: true, maxSockets: 16 });

  constructor(
    readonly host: HostProcess,
    private readonly moment: KillMoment,
  ) {
    const fallback = setTimeout(() => this.kill(`fallback after ${ROUND_MAX_MS} ms (the moment "${moment.name}" did not come)`), ROUND_MAX_MS);
    void this.killed.then(() => clearTimeout(fallback));
  }

  /** Marks a write in flight; the returned function marks it over. */
  begin(kind: keyof Round["inFlight"]): () => void {
    this.inFlight[kind]++;
    return () => void this.inFlight[kind]--;
  }

  ack(kind: keyof Tally): void {
    this.acked[kind]++;
    this.check();
  }

  /** Called as things progress: kills the host the moment the round's condition holds. */
  check(): void {
    if (this.stopping) return;
    for (const [kind, count] of Object.entries(ACKS_BEFORE_KILL)) if (this.acked[kind as keyof Tally] < count) return;
    const state = {
      inFlightLargeFunctionUpload: this.inFlight.largeFunction > 0,
      inFlightLargeControlUpload: this.inFlight.largeControl > 0,
      commitStage: this.commitStage,
      inFlightDeploy: this.inFlight.deploy > 0,
      inFlightKv: this.inFlight.kv,
    };
    if (this.moment.ready(state)) this.kill(this.moment.name);
  }

  /**
   * For the commit-window moments: once a large body is all sent, polls the
   * host's temporary directory for a file that holds all `size` bytes (the
   * host is about to sync and rename it), then for that file to go (renamed
   * into place: the record is being written), until `over()` (its answer
   * came back).
   */
  watchCommit(size: number, over: () => boolean): void {
    if (!this.moment.watchCommit || this.stopping) return;
    const tmp = join(this.host.dataDir, "objects", ".tmp");
    let file: string | undefined;
    const reached = (stage: CommitStage) => {
      this.commitStage = stage;
      this.check();
      this.commitStage = null;
    };
    const poll = () => {
      if (this.stopping || over()) return;
      if (file === undefined) {
        for (const name of readdirSync(tmp)) {
          if (sizeOf(join(tmp, name)) !== size) continue;
          file = name;
          reached("whole in its temporary file");
          break;
        }
      } else if (sizeOf(join(tmp, file)) === undefined) {
        reached("renamed into place");
        return;
      }
      setImmediate(poll);
    };
    poll();
  }

  private kill(what: string): void {
    if (this.stopping) return;
    this.stopping = true;
    // SIGKILL at once, synchronously, while the condition still holds.
    this.crashed = this.host.crash();
    this.resolveKilled(what);
  }
}

// ---- The writers --------------------------------------------------------------

class Workload {
  readonly kv = new Map<string, KeyHistory>();
  readonly objects = new Map<string, KeyHistory>();
  /** Every full body ever sent for an object key: what a visible object may be. */
  readonly objectBodies = new Map<string, Map<string, Content>>();
  readonly deploys: SentDeploy[] = [];
  readonly total = emptyTally();
  /** What the live readers saw that they should not have: an object that is not a whole body some writer sent, or a failed read. */
  readonly liveViolations: string[] = [];
  liveReads = 0;
  private deployCount = 0;

  kvHistory(key: string): KeyHistory {
    let history = this.kv.get(key);
    if (!history) this.kv.set(key, (history = new KeyHistory()));
    return history;
  }

  objectHistory(key: string): KeyHistory {
    let history = this.objects.get(key);
    if (!history) this.objects.set(key, (history = new KeyHistory()));
    return history;
  }

  /** All the writers of a round, until the host is killed; resolves once every one has stopped. */
  run(round: Round): Promise<void> {
    const writers = [
      this.deployer(round),
      this.kvWriter(round, "fn/w0", "function"),
      this.kvWriter(round, "fn/w1", "function"),
      this.kvWriter(round, "ctl/w0", "control"),
      this.objectWriter(round, "fn/w0", "function"),
      this.objectWriter(round, "fn/w1", "function"),
      this.objectWriter(round, "ctl/w0", "control"),
      this.objectReader(round, "control"),
      this.objectReader(round, "function"),
    ];
    return Promise.all(writers).then(() => {});
  }

  /**
   * Reads objects while they are being overwritten: whatever is visible at any
   * moment, not only after a restart, must be a whole body some writer sent.
   * Failures after the kill are the kill's; before it, each one is a finding.
   */
  private async objectReader(round: Round, via: "function" | "control"): Promise<void> {
    const auth = { authorization: `Bearer ${round.host.token}` };
    while (!round.stopping) {
      const keys = [...this.objectBodies.keys()];
      if (keys.length === 0) {
        await new Promise((resolve) => setTimeout(resolve, 20));
        continue;
      }
      const key = keys[randomInt(keys.length)]!;
      const url =
        via === "function"
          ? `${round.host.dataUrl}/obj/${encodeURIComponent(key)}`
          : `${round.host.controlUrl}/v1/buckets/${BUCKET}/objects/${encodeURIComponent(key)}`;
      let problem: string | undefined;
      try {
        const answer = await call(url, { headers: via === "function" ? { host: `${WRITER}.localhost` } : auth, agent: round.agent });
        if (answer.status === 404) continue;
        const seen = { size: answer.body.byteLength, digest: md5(answer.body) };
        const sent = this.objectBodies.get(key)?.get(seen.digest);
        if (answer.status !== 200) problem = `${answer.status} ${answer.body.toString().slice(0, 200)}`;
        else if (answer.headers.etag !== `"${seen.digest}"` && answer.headers.etag !== seen.digest) problem = `etag ${answer.headers.etag} but the bytes' md5 is ${seen.digest}`;
        else if (!sent || sent.size !== seen.size) problem = `${describeContent(seen)}, no whole body any writer sent`;
      } catch (error) {
        problem = (error as Error).message;
      }
      if (round.stopping) return;
      this.liveReads++;
      if (problem !== undefined) this.liveViolations.push(`reading ${key} via the ${via}: ${problem}`);
    }
  }

  private async deployer(round: Round): Promise<void> {
    while (!round.stopping) {
      const n = ++this.deployCount;
      const marker = `deploy #${n} ${randomBytes(6).toString("hex")}`;
      // Some bulk, so that a version is more than one page of the database.
      const bundle = `// ${randomBytes(3000).toString("base64")}\nexport default { fetch() { return new Response(${JSON.stringify(marker)}); } };\n`;
      const sent: SentDeploy = { message: `crash test ${marker}`, marker, bundleHash: sha256(bundle), outcome: "pending" };
      this.deploys.push(sent);
      const done = round.begin("deploy");
      round.check();
      const { outcome, answer } = await outcomeOf(
        call(`${round.host.controlUrl}/v1/scripts/${DEPLOYED}`, {
          method: "PUT",
          headers: { authorization: `Bearer ${round.host.token}`, "content-type": "application/json" },
          body: Buffer.from(JSON.stringify({ bundle, message: sent.message, config: { name: DEPLOYED, main: "src/index.ts" } })),
          agent: round.agent,
        }),
        (answer) => answer.status === 201,
      );
      done();
      sent.outcome = outcome;
      if (outcome === "acked") {
        sent.version = (JSON.parse(answer!.body.toString()) as { version: number }).version;
        this.total.deploys++;
        round.ack("deploys");
      }
    }
  }

  private async kvWriter(round: Round, prefix: string, via: "function" | "control"): Promise<void> {
    for (let i = 0; !round.stopping; i++) {
      const key = `${prefix}/k${i % 6}`;
      // Mostly small values, now and then a large one (up to 1 MiB).
      const value = randomBytes(i % 10 === 9 ? randomInt(256 * 1024, 1024 * 1024) : randomInt(1, 32 * 1024));
      const write: Write = { size: value.byteLength, digest: sha256(value), outcome: "pending" };
      this.kvHistory(key).writes.push(write);
      const url =
        via === "function"
          ? `${round.host.dataUrl}/kv/${encodeURIComponent(key)}`
          : `${round.host.controlUrl}/v1/kv/${NAMESPACE}/values/${encodeURIComponent(key)}`;
      const headers: Record<string, string> = via === "function" ? { host: `${WRITER}.localhost` } : { authorization: `Bearer ${round.host.token}` };
      const done = round.begin("kv");
      round.check();
      const { outcome } = await outcomeOf(call(url, { method: "PUT", headers, body: value, agent: round.agent }));
      done();
      write.outcome = outcome;
      if (outcome === "acked") {
        const kind = via === "function" ? "kvFunction" : "kvControl";
        this.total[kind]++;
        round.ack(kind);
      }
    }
  }

  private async objectWriter(round: Round, prefix: string, via: "function" | "control"): Promise<void> {
    for (let i = 0; !round.stopping; i++) {
      const key = `${prefix}/object-${i % 3}.bin`;
      // Every other object is large (4–8 MiB), sent as a chunked stream.
      const large = i % 2 === 1;
      const body = randomBytes(large ? randomInt(4 * 1024 * 1024, 8 * 1024 * 1024) : randomInt(0, 300 * 1024));
      const content: Content = { size: body.byteLength, digest: md5(body) };
      const write: Write = { ...content, outcome: "pending" };
      this.objectHistory(key).writes.push(write);
      let bodies = this.objectBodies.get(key);
      if (!bodies) this.objectBodies.set(key, (bodies = new Map()));
      bodies.set(content.digest, content);
      const url =
        via === "function"
          ? `${round.host.dataUrl}/obj/${encodeURIComponent(key)}`
          : `${round.host.controlUrl}/v1/buckets/${BUCKET}/objects/${encodeURIComponent(key)}`;
      const headers: Record<string, string> = via === "function" ? { host: `${WRITER}.localhost` } : { authorization: `Bearer ${round.host.token}` };
      // Counted as in flight from the moment half the body is out: a kill then lands mid-stream.
      let done = () => {};
      let halfSent = false;
      let answered = false;
      const { outcome, answer } = await outcomeOf(
        call(url, {
          method: "PUT",
          headers,
          body,
          streamChunkBytes: 256 * 1024,
          agent: round.agent,
          onSent: (bytes) => {
            if (!large) return;
            if (bytes === body.byteLength) {
              round.watchCommit(body.byteLength, () => answered);
            } else if (!halfSent && bytes >= body.byteLength / 2) {
              halfSent = true;
              done = round.begin(via === "function" ? "largeFunction" : "largeControl");
              round.check();
            }
          },
        }),
      );
      answered = true;
      done();
      write.outcome = outcome;
      if (outcome === "acked") {
        // The host's own digest of what it stored must be what was sent.
        const stored = JSON.parse(answer!.body.toString()) as { size: number; etag: string };
        assert.deepEqual({ size: stored.size, etag: stored.etag }, { size: content.size, etag: content.digest }, `the host stored something else for ${key}`);
        const kind = via === "function" ? "objectsFunction" : "objectsControl";
        this.total[kind]++;
        if (large) this.total.largeObjects++;
        round.ack(kind);
      }
    }
  }
}

// ---- After the restart: the checks ---------------------------------------------

interface CheckReport {
  kvKeys: number;
  objects: number;
  visibleObjects: number;
  objectBytes: number;
  versions: number;
  laterUnacknowledgedSeen: number;
}

async function checkEverything(host: HostProcess, work: Workload): Promise<CheckReport> {
  const auth = { authorization: `Bearer ${host.token}` };
  const agent = new Agent({ keepAlive: true, maxSockets: 4 });
  /** A read after the restart; a cut-off answer names what was being read. */
  const read = (url: string, headers: Record<string, string>, what: string) =>
    call(url, { headers, agent }).catch((error: unknown) => assert.fail(`${what}: ${(error as Error).message}`));
  const report: CheckReport = { kvKeys: 0, objects: 0, visibleObjects: 0, objectBytes: 0, versions: 0, laterUnacknowledgedSeen: 0 };
  try {
    // No upload the crash cut off is left in the temporary directory (swept at start-up).
    assert.deepEqual(readdirSync(join(host.dataDir, "objects", ".tmp")), [], "temporary object files remain after the restart");

    // KV: every key the namespace lists is one of ours, and every key of ours shows an allowed value, through both doors.
    const listed = new Set<string>();
    let cursor: string | undefined;
    for (;;) {
      const page = await call(`${host.controlUrl}/v1/kv/${NAMESPACE}/keys?limit=1000${cursor ? `&cursor=${cursor}` : ""}`, { headers: auth, agent });
      assert.equal(page.status, 200, page.body.toString());
      const answer = JSON.parse(page.body.toString()) as { keys: { name: string }[]; list_complete: boolean; cursor?: string };
      for (const key of answer.keys) listed.add(key.name);
      if (answer.list_complete) break;
      cursor = answer.cursor;
    }
    for (const name of listed) assert.ok(work.kv.has(name), `KV lists ${JSON.stringify(name)}, which no writer wrote`);
    for (const [key, history] of work.kv) {
      const viaControl = await read(`${host.controlUrl}/v1/kv/${NAMESPACE}/values/${encodeURIComponent(key)}`, auth, `KV ${key} via the control API`);
      const viaFunction = await read(`${host.dataUrl}/kv/${encodeURIComponent(key)}`, { host: `${WRITER}.localhost` }, `KV ${key} via the function`);
      assert.ok([200, 404].includes(viaControl.status), `KV ${key}: ${viaControl.status} ${viaControl.body.toString()}`);
      const seen: Content | null = viaControl.status === 404 ? null : { size: viaControl.body.byteLength, digest: sha256(viaControl.body) };
      assert.equal(viaFunction.status, viaControl.status, `KV ${key}: the function and the control API disagree`);
      if (seen) assert.equal(sha256(viaFunction.body), seen.digest, `KV ${key}: the function and the control API read different bytes`);
      assert.equal(listed.has(key), seen !== null, `KV ${key}: the listing and a read disagree`);
      const allowed = history.allowed();
      assert.ok(
        allowed.some((content) => (content === null ? seen === null : seen !== null && content.digest === seen.digest && content.size === seen.size)),
        `KV ${key} shows ${describeContent(seen)}; allowed: ${allowed.map(describeContent).join(", ")}`,
      );
      if (seen !== null && (allowed[0] === null || seen.digest !== allowed[0]!.digest)) report.laterUnacknowledgedSeen++;
      history.settle(seen);
      report.kvKeys++;
    }

    // Objects: everything the bucket lists is a whole body some writer sent for that key, read back byte for byte.
    const objects = new Map<string, { size: number; etag: string }>();
    let objectCursor: string | undefined;
    for (;;) {
      const page = await call(`${host.controlUrl}/v1/buckets/${BUCKET}/objects?limit=1000${objectCursor ? `&cursor=${objectCursor}` : ""}`, { headers: auth, agent });
      assert.equal(page.status, 200, page.body.toString());
      const answer = JSON.parse(page.body.toString()) as { objects: { key: string; size: number; etag: string }[]; truncated: boolean; cursor?: string };
      for (const object of answer.objects) objects.set(object.key, object);
      if (!answer.truncated) break;
      objectCursor = answer.cursor;
    }
    for (const [key, listedObject] of objects) {
      const sent = work.objectBodies.get(key)?.get(listedObject.etag);
      assert.ok(sent && sent.size === listedObject.size, `bucket lists ${key} (${listedObject.size} bytes, md5 ${listedObject.etag}), which is no whole body any writer sent`);
    }
    for (const [key, history] of work.objects) {
      const path = `/v1/buckets/${BUCKET}/objects/${encodeURIComponent(key)}`;
      const viaControl = await read(`${host.controlUrl}${path}`, auth, `object ${key} via the control API`);
      assert.ok([200, 404].includes(viaControl.status), `object ${key}: ${viaControl.status} ${viaControl.body.toString()}`);
      const seen: Content | null = viaControl.status === 404 ? null : { size: viaControl.body.byteLength, digest: md5(viaControl.body) };
      if (seen) {
        assert.equal(viaControl.headers.etag, `"${seen.digest}"`, `object ${key}: its etag is not the md5 of its bytes`);
        const viaFunction = await read(`${host.dataUrl}/obj/${encodeURIComponent(key)}`, { host: `${WRITER}.localhost` }, `object ${key} via the function`);
        assert.equal(viaFunction.status, 200);
        assert.equal(md5(viaFunction.body), seen.digest, `object ${key}: the function reads different bytes`);
        report.objectBytes += seen.size;
        report.visibleObjects++;
      }
      assert.equal(objects.has(key), seen !== null, `object ${key}: the listing and a read disagree`);
      const allowed = history.allowed();
      assert.ok(
        allowed.some((content) => (content === null ? seen === null : seen !== null && content.digest === seen.digest && content.size === seen.size)),
        `object ${key} shows ${describeContent(seen)}; allowed: ${allowed.map(describeContent).join(", ")}`,
      );
      if (seen !== null && (allowed[0] === null || seen.digest !== allowed[0]!.digest)) report.laterUnacknowledgedSeen++;
      history.settle(seen);
      report.objects++;
    }

    // Deploys: every acknowledged version exists with its bundle and message; any other version is one that was sent, whole.
    const versions = new Map<number, { message: string | null; bundle_hash: string }>();
    let before: number | null = null;
    let active = 0;
    for (;;) {
      const page = await call(`${host.controlUrl}/v1/scripts/${DEPLOYED}/versions?limit=100${before !== null ? `&before=${before}` : ""}`, { headers: auth, agent });
      assert.equal(page.status, 200, page.body.toString());
      const answer = JSON.parse(page.body.toString()) as { active_version: number; versions: { version: number; message: string | null; bundle_hash: string }[]; next_before: number | null };
      active = answer.active_version;
      for (const version of answer.versions) versions.set(version.version, version);
      if (answer.next_before === null) break;
      before = answer.next_before;
    }
    const byMessage = new Map(work.deploys.map((deploy) => [deploy.message, deploy]));
    for (const deploy of work.deploys.filter((sent) => sent.outcome === "acked")) {
      const stored = versions.get(deploy.version!);
      assert.ok(stored, `acknowledged version ${deploy.version} (${deploy.marker}) is gone`);
      assert.deepEqual(stored, { ...stored, message: deploy.message, bundle_hash: deploy.bundleHash }, `version ${deploy.version} is not what was deployed`);
    }
    for (const [version, stored] of versions) {
      const sent = byMessage.get(stored.message ?? "");
      assert.ok(sent && sent.bundleHash === stored.bundle_hash && sent.outcome !== "refused", `version ${version} is nothing that was deployed`);
    }
    const lastAcked = Math.max(0, ...work.deploys.filter((sent) => sent.outcome === "acked").map((sent) => sent.version!));
    assert.ok(active >= lastAcked, `the active version ${active} is older than the last acknowledged deploy ${lastAcked}`);
    // The active version serves, from its own bundle.
    const served = await call(`${host.dataUrl}/`, { headers: { host: `${DEPLOYED}.localhost` }, agent });
    const activeDeploy = byMessage.get(versions.get(active)?.message ?? "");
    assert.equal(served.status, 200);
    assert.equal(served.body.toString(), activeDeploy?.marker);
    report.versions = versions.size;
    return report;
  } finally {
    agent.destroy();
  }
}

/** A file's size, or undefined when it is not there (any more). */
function sizeOf(path: string): number | undefined {
  try {
    return statSync(path).size;
  } catch {
    return undefined;
  }
}

/** Files under a directory, at any depth. */
function filesUnder(dir: string): number {
  if (!existsSync(dir)) return 0;
  let count = 0;
  for (const entry of readdirSync(dir, { recursive: true })) if (statSync(join(dir, String(entry))).isFile()) count++;
  return count;
}

// ---- The test ---------------------------------------------------------------------

test("SIGKILL mid-stream, five times: every acknowledged write survives, nothing half-written is visible", { timeout: 240_000 }, async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), "atoll-crash-"));
  const work = new Workload();
  let host: HostProcess | undefined;
  try {
    host = await startHostProcess(dataDir, { workers: 1 });
    const deployed = await call(`${host.controlUrl}/v1/scripts/${WRITER}`, {
      method: "PUT",
      headers: { authorization: `Bearer ${host.token}`, "content-type": "application/json" },
      body: Buffer.from(
        JSON.stringify({
          bundle: WRITER_BUNDLE,
          config: {
            name: WRITER,
            main: "src/index.ts",
            kv_namespaces: [{ binding: "CACHE", id: NAMESPACE }],
            buckets: [{ binding: "FILES", bucket_name: BUCKET }],
            // Streaming 8 MiB through the bridge takes more than the default 50 ms of CPU on a busy machine.
            limits: { cpu_ms: 10_000, wall_ms: 60_000 },
          },
        }),
      ),
    });
    assert.equal(deployed.status, 201, deployed.body.toString());

    for (const [index, moment] of KILL_MOMENTS.entries()) {
      const round = new Round(host, moment);
      const writing = work.run(round);
      const what = await round.killed;
      const workers = await round.crashed!;
      await writing;
      round.agent.destroy();
      // The workers notice their IPC channel closing and exit by themselves.
      const lingering = await waitGone(workers, 20_000);
      for (const worker of lingering) killIfSame(worker);
      assert.deepEqual(lingering, [], "worker processes outlived the front");
      const leftInTmp = readdirSync(join(dataDir, "objects", ".tmp")).length;

      host = await startHostProcess(dataDir, { workers: 1 });
      const report = await checkEverything(host, work);
      const { deploys, kvFunction, kvControl, objectsFunction, objectsControl } = round.acked;
      // Files a crash left between a rename and its record (or a replaced record and its old file's removal) are swept at restart.
      const orphans = filesUnder(join(dataDir, "objects", BUCKET)) - report.visibleObjects;
      assert.equal(orphans, 0, "object files that no record points at remain after the restart");
      const swept = Number(/removed (\d+) object files that no object record points at/.exec(host.output())?.[1] ?? 0);
      assert.deepEqual(work.liveViolations, [], "objects read while they were being written");
      t.diagnostic(
        `kill ${index + 1} (${what}): acknowledged this round ${deploys} deploys, KV ${kvFunction} via the function + ${kvControl} via the control API, ` +
          `objects ${objectsFunction} via the function + ${objectsControl} via the control API; temp files left by the crash: ${leftInTmp}, unreferenced object files: ${swept} (both swept at restart); ` +
          `checked ${report.kvKeys} KV keys, ${report.objects} object keys (${(report.objectBytes / 1048576).toFixed(1)} MiB read back), ${report.versions} versions; ` +
          `later unacknowledged writes visible: ${report.laterUnacknowledgedSeen}`,
      );
    }
    const total = work.total;
    t.diagnostic(
      `in all: ${work.liveReads} object reads while writing, ${total.deploys} deploys, ${total.kvFunction + total.kvControl} KV puts, ${total.objectsFunction + total.objectsControl} object puts (${total.largeObjects} of 4–8 MiB) acknowledged and checked after ${KILL_MOMENTS.length} kills`,
    );
    assert.equal(await host.stop(), 0, host.output());
  } finally {
    host?.kill();
    rmSync(dataDir, { recursive: true, force: true });
  }
});
