// compatibility_flags = ["nodejs_compat"] through a real host: fixtures/node-compat
// deployed from its atoll.toml answers from Buffer, node:buffer, events, util,
// assert, path, string_decoder, crypto, stream/web and AsyncLocalStorage (two
// concurrent requests each keep their own store); cookie-signature, an
// unmodified npm package written for Node, runs from fixtures/node-compat-package;
// without the flag the same imports fail to bundle, saying which flag gives
// them, and Buffer is not there.
import { strict as assert } from "node:assert";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { bundleProject } from "../bundler/bundle.js";
import { deployProject } from "../bundler/deploy.js";
import { BuildError } from "../bundler/errors.js";
import { BadConfigError } from "../host/errors.js";
import { repoRoot } from "./support/cli.js";
import { startTestHost, type TestHost } from "./support/test-host.js";

let scratch: string;
let host: TestHost;

before(async () => {
  scratch = await mkdtemp(join(tmpdir(), "atoll-node-compat-"));
  host = await startTestHost();
  await deploy(join(repoRoot, "fixtures", "node-compat"));
});

after(async () => {
  await host?.stop();
  host?.cleanUp();
  await rm(scratch, { recursive: true, force: true });
});

function deploy(dir: string) {
  return deployProject(dir, { controlUrl: host.controlUrl, token: host.token });
}

/** A project in the scratch folder: its config file (atoll.toml unless named) and src/index.js. */
async function project(name: string, config: string, code: string, configFile = "atoll.toml"): Promise<string> {
  const dir = join(scratch, name);
  await mkdir(join(dir, "src"), { recursive: true });
  await writeFile(join(dir, configFile), `name = "${name}"\nmain = "src/index.js"\n${config}`);
  await writeFile(join(dir, "src", "index.js"), code);
  return dir;
}

async function json(path: string, script = "node-compat"): Promise<Record<string, unknown>> {
  const response = await host.request(`${script}.localhost`, path);
  const text = await response.text();
  assert.equal(response.status, 200, text);
  return JSON.parse(text) as Record<string, unknown>;
}

async function problemsOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof BuildError || error instanceof BadConfigError) return error.problems.join("\n");
    throw error;
  }
  throw new Error("expected the build to fail");
}

describe("nodejs_compat: fixtures/node-compat", () => {
  it("has Buffer as a global, the same class as node:buffer's", async () => {
    assert.deepEqual(await json("/buffer"), {
      sameBuffer: true,
      isUint8Array: true,
      length: 13,
      hex: "616263",
      base64: "aMOpbGxvIHfDtnJsZA==",
      fromBase64: "héllo wörld",
      concat: [1, 2, 3],
      readUInt32BE: 0xdeadbeef,
      equals: true,
      storeOutsideRun: null,
    });
  });

  it("runs node:events, node:util, node:assert, node:path and node:string_decoder", async () => {
    assert.deepEqual(await json("/events"), { seen: ["hello a", "once a", "hello b"], value: 42, listeners: 1, bareIsSame: true, storeOutsideRun: null });
    const util = await json("/util");
    assert.equal(util["format"], 'Ada is 36 years and {"x":1}');
    assert.equal(util["inspect"], "{ a: [ 1, 2 ], b: 'two' }");
    assert.deepEqual({ ...util, format: null, inspect: null }, { format: null, inspect: null, promisified: 5, isDate: true, isPromise: true, textEncoder: true, storeOutsideRun: null });
    const asserted = await json("/assert");
    assert.equal(asserted["passed"], true);
    assert.deepEqual(asserted["failure"], { name: "AssertionError", code: "ERR_ASSERTION", message: "Expected values to be strictly equal:\n\n1 !== 2\n" });
    assert.equal(asserted["thrown"], "TypeError", "assert.throws rethrows an error of another class");
    assert.deepEqual(await json("/path"), {
      join: "/a/c/d.txt",
      resolve: "/x/y",
      basename: "file.tar",
      extname: ".html",
      relative: "../../d",
      parsed: { root: "/", dir: "/home/u", base: "file.txt", ext: ".txt", name: "file" },
      sep: "/",
      storeOutsideRun: null,
    });
    assert.deepEqual(await json("/string-decoder"), { parts: ["", "", "€", ""], joined: "€", storeOutsideRun: null });
  });

  it("hashes, signs and draws random bytes with node:crypto", async () => {
    const abc256 = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    assert.deepEqual(await json("/crypto"), {
      sha256: abc256,
      chained: abc256,
      viaSubtle: abc256,
      sha1: "a9993e364706816aba3e25717850c26c9cd0d89d",
      sha384: "ywB1P0WjXou1oD1pmsZQBycsMqsO3tFjGotgWkP/W+2AhgcroefMI1i67KE0yCWn",
      sha512: "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
      digestBuffer: 32,
      // RFC 4231, test case 2.
      hmac: "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
      randomLength: 32,
      randomIsBuffer: true,
      randomDiffers: true,
      uuid: true,
      filled: 8,
      equal: true,
      unequal: false,
      lengthMismatch: "ERR_CRYPTO_TIMING_SAFE_EQUAL_LENGTH",
      webcrypto: true,
      unknownHash: "ERR_OSSL_EVP_UNSUPPORTED",
      finalized: "ERR_CRYPTO_HASH_FINALIZED",
      storeOutsideRun: null,
    });
  });

  it("gives node:stream/web as the isolate's own streams", async () => {
    assert.deepEqual(await json("/streams"), { sameClass: true, chunks: ["a", "b"], storeOutsideRun: null });
  });

  it("keeps each request's AsyncLocalStorage store across awaits, timers and then chains while requests interleave", async () => {
    // "a" waits longer than "b" at each step, so their continuations alternate.
    const ids = ["a", "b", "c", "d"];
    const answers = await Promise.all(ids.map((id, index) => json(`/als?id=${id}&delay=${(ids.length - index) * 15}`)));
    for (const [index, answer] of answers.entries()) {
      const id = ids[index]!;
      assert.deepEqual({ ...answer, overlapping: null }, { id, seen: [id, id, id, id, id, id, id], outside: null, overlapping: null, storeOutsideRun: null });
    }
    // The last request in found the others still running in the same isolate.
    assert.ok(Math.max(...answers.map((answer) => Number(answer["overlapping"]))) > 1, JSON.stringify(answers));
  });
});

describe("an npm package written for Node, under nodejs_compat", () => {
  it("runs cookie-signature unmodified (require('crypto'), createHmac, timingSafeEqual, the Buffer global) from fixtures/node-compat-package's wrangler.toml", async () => {
    // Deployed from where it is, so that cookie-signature (a devDependency) resolves from this repository's node_modules.
    const dir = join(repoRoot, "fixtures", "node-compat-package");
    const bundled = await bundleProject(dir);
    assert.deepEqual(bundled.warnings, [], "nodejs_compat is taken from wrangler.toml without a warning");
    await deploy(dir);
    const { signed } = await json("/?value=user-42", "signed-cookie");
    // What Node's own crypto gives for the same signature.
    const { createHmac } = await import("node:crypto");
    assert.equal(signed, `user-42.${createHmac("sha256", "keyboard cat").update("user-42").digest("base64").replace(/=+$/, "")}`);
    assert.deepEqual(await json(`/?signed=${encodeURIComponent(String(signed))}`, "signed-cookie"), { value: "user-42" });
    assert.deepEqual(await json(`/?signed=${encodeURIComponent(String(signed).slice(0, -1) + "x")}`, "signed-cookie"), { value: false });
    assert.deepEqual(await json("/?signed=user-42.short", "signed-cookie"), { value: false }, "a signature of another length fails timingSafeEqual's length check first");
  });
});

describe("without nodejs_compat", () => {
  it("refuses node: imports, saying which flag gives them, and has no Buffer", async () => {
    const importing = await project("no-flag-import", "", 'import { createHash } from "node:crypto";\nexport default { fetch: () => new Response(createHash("sha256").update("x").digest("hex")) };\n');
    const problems = await problemsOf(deploy(importing));
    assert.match(problems, /src\/index\.js:1:28: error: Atoll functions cannot import node built-ins: "node:crypto" is a Node\.js module, and functions run in V8 isolates with Web APIs only\. Set compatibility_flags = \["nodejs_compat"\] in atoll\.toml \(or wrangler\.toml\) to get it/);
    // Outside this repository no "events" package is installed: the bare name is Node's module, refused alike.
    const bare = await project("no-flag-bare", "", 'import { EventEmitter } from "events";\nexport default { fetch: () => new Response(String(EventEmitter)) };\n');
    assert.match(await problemsOf(bundleProject(bare)), /"events" is a Node\.js module, .* Set compatibility_flags = \["nodejs_compat"\]/);

    const probe = await project("no-flag-buffer", "", "export default { fetch: () => Response.json({ type: typeof Buffer, onGlobal: 'Buffer' in globalThis }) };\n");
    await deploy(probe);
    assert.deepEqual(await json("/", "no-flag-buffer"), { type: "undefined", onGlobal: false });
  });

  it("under the flag, refuses the node: modules Atoll does not offer, naming those it does", async () => {
    const dir = await project("flag-fs", 'compatibility_flags = ["nodejs_compat"]\n', 'import { readFileSync } from "node:fs";\nexport default { fetch: () => new Response(readFileSync("/etc/passwd")) };\n');
    assert.match(await problemsOf(bundleProject(dir)), /"node:fs" is not among the Node\.js modules Atoll offers under nodejs_compat \(assert, async_hooks, buffer, crypto, events, path, stream\/web, string_decoder, timers, util\)/);
  });

  it("with nodejs_als alone, gives node:async_hooks and nothing else", async () => {
    const dir = await project(
      "als-only",
      'compatibility_flags = ["nodejs_als"]\n',
      `import { AsyncLocalStorage } from "node:async_hooks";
const storage = new AsyncLocalStorage();
export default {
  fetch: () => storage.run("kept", async () => {
    await new Promise((resolve) => setTimeout(resolve, 5));
    return Response.json({ store: storage.getStore(), buffer: typeof Buffer });
  }),
};
`,
    );
    await deploy(dir);
    assert.deepEqual(await json("/", "als-only"), { store: "kept", buffer: "undefined" });
    const buffer = await project("als-buffer", 'compatibility_flags = ["nodejs_als"]\n', 'import { Buffer } from "node:buffer";\nexport default { fetch: () => new Response(Buffer.from("x")) };\n');
    assert.match(await problemsOf(bundleProject(buffer)), /"node:buffer" is a Node\.js module that nodejs_als does not offer \(it gives node:async_hooks only\)/);
  });

  it("refuses a compatibility flag atoll.toml does not know, listing those it does", async () => {
    const dir = await project("bad-flag", 'compatibility_flags = ["nodejs_compat", "nodejs_compatt"]\n', "export default { fetch: () => new Response('x') };\n");
    assert.match(await problemsOf(bundleProject(dir)), /^`compatibility_flags\[1\]` is "nodejs_compatt", a flag Atoll does not know, in .*bad-flag\/atoll\.toml: the flags Atoll takes are nodejs_compat, nodejs_compat_v2, nodejs_als/);
  });
});
