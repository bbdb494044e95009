// crypto.subtle's host side: the KeyVault against hostile input and at its
// limits, its wiring into FunctionIsolate, and keys freed once user code drops them.
import { test } from "node:test";
import assert from "node:assert/strict";
import { setFlagsFromString } from "node:v8";
import { FunctionIsolate, type CheckedMessage } from "../host/executor/worker/function-isolate.js";
import { RuntimeImage } from "../host/executor/worker/runtime-image.js";
import { DEFAULT_KEY_VAULT_LIMITS, KeyVault, type SubtleOutcome } from "../host/executor/worker/subtle-host.js";
import type { KeyDescriptor } from "../host/runtime/protocol.js";
import { RuntimeHarness } from "./support/runtime-harness.js";

// Isolates created from here on get a `gc()` global, so that the test of key
// release does not depend on when V8 decides to collect.
setFlagsFromString("--expose-gc");

const bytes = (text: string) => new TextEncoder().encode(text);

function value(outcome: SubtleOutcome): unknown {
  if (!outcome.ok) throw new Error(`expected success, got ${outcome.error.name}: ${outcome.error.message}`);
  return outcome.value;
}

async function importHmac(vault: KeyVault, secret = "secret"): Promise<number> {
  const outcome = await vault.run("importKey", ["raw", bytes(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"]]);
  return (value(outcome) as KeyDescriptor).handle;
}

test("the vault answers malformed calls with an error, never a throw or a host stack, and keeps working", async () => {
  const vault = new KeyVault();
  const handle = await importHmac(vault);
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  const calls: [unknown, unknown][] = [
    [undefined, undefined],
    ["toString", []],
    ["__proto__", []],
    ["constructor", [1, 2]],
    ["digest", null],
    ["digest", "SHA-256"],
    ["digest", ["SHA-256"]],
    ["digest", ["SHA-256", "not bytes"]],
    ["digest", [{ name: "SHA-256", evil: 1 }, bytes("x")]],
    ["digest", [{ name: 42 }, bytes("x")]],
    ["digest", [{ name: "SHA-256", __proto__: { polluted: true } }, bytes("x")]],
    ["digest", [JSON.parse('{"name":"SHA-256","__proto__":{"x":1}}'), bytes("x")]],
    ["digest", [cyclic, bytes("x")]],
    ["digest", [new Map(), bytes("x")]],
    ["digest", [["SHA-256"], bytes("x")]],
    ["sign", ["HMAC", 999, bytes("x")]],
    ["sign", ["HMAC", -1, bytes("x")]],
    ["sign", ["HMAC", "1", bytes("x")]],
    ["sign", ["HMAC", { handle }, bytes("x")]],
    ["sign", [{ name: "HMAC", hash: { name: 5 } }, handle, bytes("x")]],
    ["deriveBits", [{ name: "ECDH", public: 12345 }, handle, 256]],
    ["deriveBits", [{ name: "HKDF", hash: "SHA-256", salt: bytes(""), info: bytes("") }, handle, -8]],
    ["deriveBits", [{ name: "HKDF", hash: "SHA-256", salt: bytes(""), info: bytes("") }, handle, 2 ** 40]],
    ["generateKey", ["AES-GCM", "yes", ["encrypt"]]],
    ["generateKey", [{ name: "AES-GCM", length: 128 }, true, ["encrypt", "fly"]]],
    ["generateKey", [{ name: "AES-GCM", length: 128 }, true, new Array(100).fill("encrypt")]],
    ["generateKey", [{ name: "AES-GCM", length: "128" }, true, ["encrypt"]]],
    ["importKey", ["pem", bytes("x"), "AES-GCM", true, ["encrypt"]]],
    ["importKey", ["jwk", { kty: "oct", k: 5 }, "AES-GCM", true, ["encrypt"]]],
    ["importKey", ["jwk", { kty: "oct", k: "AAAA", extra: "x" }, "AES-GCM", true, ["encrypt"]]],
    ["importKey", ["jwk", { kty: "oct", key_ops: new Array(1000).fill("encrypt") }, "AES-GCM", true, ["encrypt"]]],
    ["importKey", ["raw", { kty: "oct" }, "AES-GCM", true, ["encrypt"]]],
    ["exportKey", ["raw", handle]],
    ["exportKey", ["raw", null]],
    ["wrapKey", ["raw", handle, handle]],
    ["unwrapKey", ["raw", bytes("x"), handle, "AES-KW", "AES-GCM", true]],
  ];
  for (const [method, args] of calls) {
    const outcome = await vault.run(method, args);
    assert.equal(outcome.ok, false, `${String(method)} ${JSON.stringify(args, (_k, v) => (v === cyclic ? "[cyclic]" : v))?.slice(0, 80)} succeeded`);
    if (outcome.ok) continue;
    assert.match(outcome.error.name, /^(TypeError|NotSupportedError|InvalidAccessError|DataError|OperationError|SyntaxError)$/);
    assert.equal(typeof outcome.error.message, "string");
    assert.doesNotMatch(outcome.error.message, /\/(tmp|work|home|usr)\/|node:internal|\n\s+at /, "no host path or stack");
  }
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  // Still serving, with the same key.
  const mac = value(await vault.run("sign", ["HMAC", handle, bytes("x")]));
  assert.ok(mac instanceof Uint8Array && mac.length === 32);
  assert.equal(vault.size, 1);
});

test("identical imports share one host key; each CryptoKey is a handle, released one by one", async () => {
  const vault = new KeyVault();
  const first = await importHmac(vault, "jwt secret");
  const second = await importHmac(vault, "jwt secret");
  const other = await importHmac(vault, "another secret");
  const extractable = value(await vault.run("importKey", ["raw", bytes("jwt secret"), { name: "HMAC", hash: "SHA-256" }, true, ["sign", "verify"]])) as KeyDescriptor;
  assert.notEqual(first, second);
  assert.deepEqual([vault.size, vault.keyCount], [4, 3], "extractable differs: a key of its own");
  const macs = await Promise.all([first, second].map((handle) => vault.run("sign", ["HMAC", handle, bytes("payload")])));
  assert.deepEqual(value(macs[0]!), value(macs[1]!));
  vault.release([first]);
  assert.deepEqual([vault.size, vault.keyCount], [3, 3]);
  assert.equal((await vault.run("sign", ["HMAC", second, bytes("payload")])).ok, true);
  vault.release([second, other, extractable.handle]);
  assert.deepEqual([vault.size, vault.keyCount, vault.bytes], [0, 0, 0]);
  // Imported again after every handle went: a key of its own again.
  await importHmac(vault, "jwt secret");
  assert.deepEqual([vault.size, vault.keyCount], [1, 1]);
});

test("the vault's limits: live keys, key bytes, calls in progress; release makes room, dispose drops everything", async () => {
  const vault = new KeyVault({ ...DEFAULT_KEY_VAULT_LIMITS, maxKeys: 3, maxRunning: 1 });
  const handles = [await importHmac(vault, "a"), await importHmac(vault, "b")];
  assert.equal(vault.crowded, true, "past half of maxKeys");
  handles.push(await importHmac(vault, "c"));
  const refused = await vault.run("generateKey", [{ name: "AES-GCM", length: 128 }, true, ["encrypt"]]);
  assert.deepEqual(refused.ok ? null : refused.error.name, "QuotaExceededError");
  assert.match(refused.ok ? "" : refused.error.message, /at most 3 distinct keys/);
  const shared = await importHmac(vault, "a"); // a shared key needs no room
  vault.release([handles[0], shared, 424242, "junk"]);
  assert.deepEqual([vault.size, vault.keyCount], [2, 2]);
  await importHmac(vault, "d");
  assert.deepEqual([vault.size, vault.keyCount], [3, 3]);

  // One at a time (maxRunning 1): every call still gets its own answer, in order.
  const digests = await Promise.all(["a", "b", "c", "d"].map((text) => vault.run("digest", ["SHA-256", bytes(text)])));
  assert.deepEqual(
    digests.map((outcome) => Buffer.from(value(outcome) as Uint8Array).toString("hex").slice(0, 8)),
    ["ca978112", "3e23e816", "2e7d2c03", "18ac3e73"],
  );

  // A key released while its call waits for a turn still serves that call.
  const slow = vault.run("digest", ["SHA-512", new Uint8Array(4 * 1024 * 1024)]);
  const signing = vault.run("sign", ["HMAC", handles[1], bytes("x")]);
  vault.release([handles[1]]);
  await slow;
  assert.equal((await signing).ok, true);
  assert.equal((await vault.run("sign", ["HMAC", handles[1], bytes("x")])).ok, false, "released handle is gone");

  const small = new KeyVault({ ...DEFAULT_KEY_VAULT_LIMITS, maxKeyBytes: 8192 });
  const big = await small.run("importKey", ["raw", new Uint8Array(8192), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]]);
  assert.equal(big.ok ? null : big.error.name, "QuotaExceededError");

  const busy = new KeyVault({ ...DEFAULT_KEY_VAULT_LIMITS, maxRunning: 1, maxPending: 2 });
  const queued = [1, 2, 3].map(() => busy.run("digest", ["SHA-256", bytes("x")]));
  const answers = await Promise.all(queued);
  assert.deepEqual(
    answers.map((outcome) => (outcome.ok ? "ok" : outcome.error.name)),
    ["ok", "ok", "QuotaExceededError"],
  );

  vault.dispose();
  assert.deepEqual([vault.size, vault.keyCount, vault.bytes], [0, 0, 0]);
  const afterDispose = await vault.run("importKey", ["raw", bytes("k"), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]]);
  assert.equal(afterDispose.ok, false);
});

test("keys are freed on the host once the isolate has garbage-collected their CryptoKeys", async () => {
  const harness = await RuntimeHarness.boot(`
    let kept;
    export default {
      async fetch() {
        kept ??= await crypto.subtle.generateKey({ name: "AES-GCM", length: 128 }, false, ["encrypt"]);
        for (let i = 0; i < 200; i++) await crypto.subtle.importKey("raw", crypto.getRandomValues(new Uint8Array(16)), "AES-GCM", false, ["encrypt"]);
        return new Response("made");
      },
    };
  `);
  try {
    assert.equal((await harness.fetch()).text, "made");
    assert.equal(harness.keys.keyCount, 201);
    const deadline = Date.now() + 5000;
    while (harness.keys.size > 1 && Date.now() < deadline) {
      // Asynchronous, as the host's calls are: V8 runs the FinalizationRegistry's task then.
      await harness.context.eval("gc()");
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.deepEqual([harness.keys.size, harness.keys.keyCount], [1, 1], "only the key kept in module scope is left");
    assert.ok(harness.messages.some((message) => message.t === "release-keys"));
    // The kept key still works after the collection.
    assert.equal((await harness.fetch()).text, "made");
  } finally {
    harness.dispose();
  }
});

/** Runs one invocation through a FunctionIsolate and returns its inline body as text. */
function invoke(isolate: FunctionIsolate, id: number, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`invocation ${id} did not finish`)), 5000);
    let body = "";
    isolate.listen((message: CheckedMessage) => {
      if (message.t === "response" && message.id === id) body = message.body instanceof Uint8Array ? new TextDecoder().decode(message.body) : String(message.body);
      else if ((message.t === "error" || message.t === "terminated") && message.id === id) reject(new Error(message.message));
      else if (message.t === "done" && message.id === id) {
        clearTimeout(timer);
        resolve(body);
      }
    });
    isolate.dispatch(id, JSON.stringify({ type: "fetch", method: "GET", url: `https://subtle.example${path}`, headers: [] }), null);
  });
}

test("through FunctionIsolate: keys live as long as the isolate, and a hostile runtime's messages do not hurt the host", async () => {
  const isolate = await FunctionIsolate.boot(RuntimeImage.load(), 64);
  try {
    await isolate.load(
      `
      let key;
      export default {
        async fetch(request) {
          key ??= await crypto.subtle.generateKey({ name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
          const mac = await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(new URL(request.url).pathname));
          return new Response([...new Uint8Array(mac)].map((b) => b.toString(16).padStart(2, "0")).join(""));
        },
      };`,
      null,
      {},
      "file:///subtle.js",
      1000,
      { cpuMs: 1000, wallMs: 5000, subrequests: 0 },
    );
    const first = await invoke(isolate, 1, "/a");
    assert.match(first, /^[0-9a-f]{64}$/);
    assert.equal(await invoke(isolate, 2, "/a"), first);

    // What a compromised runtime could send through __atoll_emit.
    const receive = (raw: unknown) => (isolate as unknown as { receive(raw: unknown): void }).receive(raw);
    receive({ t: "op", op: 900, name: "subtle", method: "exportKey", args: ["raw", 1] });
    receive({ t: "op", op: 901, name: "subtle", method: "digest", args: [{ name: "SHA-256" }, { length: 1e12 }] });
    receive({ t: "op", op: 902, name: "subtle", method: "eval", args: [] });
    receive({ t: "op", op: 903, name: "subtle", method: "sign", args: "HMAC" });
    receive({ t: "op", op: 904, name: "subtle", method: "generateKey", args: [{ name: "RSA-PSS", modulusLength: 1e9, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" }, true, ["sign"]] });
    receive([{ t: "release-keys", handles: "all" }, { t: "release-keys", handles: new Array(20_000).fill(1) }, { t: "release-keys" }]);
    await new Promise((resolve) => setTimeout(resolve, 50));

    // The same key, untouched: the hostile release messages were dropped whole.
    assert.equal(await invoke(isolate, 3, "/a"), first);
    assert.equal(isolate.broken, false);
  } finally {
    isolate.dispose();
  }
});

test("an isolate whose keys crowd the host is retired: FunctionIsolate.broken, and its keys count in its heap", async () => {
  const isolate = await FunctionIsolate.boot(RuntimeImage.load(), 64);
  try {
    await isolate.load(
      `
      const kept = [];
      export default {
        async fetch() {
          for (let batch = 0; batch < 26; batch++) {
            kept.push(...await Promise.all(Array.from({ length: 200 }, (_, i) =>
              crypto.subtle.importKey("raw", crypto.getRandomValues(new Uint8Array(16)), "AES-GCM", false, ["encrypt"]))));
          }
          return new Response(String(kept.length));
        },
      };`,
      null,
      {},
      "file:///crowd.js",
      1000,
      { cpuMs: 2000, wallMs: 20_000, subrequests: 0 },
    );
    const heapBefore = await isolate.heapBytes();
    assert.equal(isolate.broken, false);
    assert.equal(await invoke(isolate, 1, "/"), "5200");
    assert.equal(isolate.broken, true, "5,200 distinct keys: past half of the 10,000 allowed");
    assert.ok((await isolate.heapBytes()) - heapBefore > 5200 * 4096, "host key memory counts in the isolate's size");
  } finally {
    isolate.dispose();
  }
});
