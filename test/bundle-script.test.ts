// Bundles as classic scripts (host/executor/worker/bundle-script.ts): which
// modules get a script form and what it is (unit tests), then through a real
// host: an esbuild bundle runs as a script with its stack positions as
// uploaded, and modules that must stay modules still deploy and run as before.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { build } from "esbuild";
import { lexerReady, packCache, planScript, scriptSource, unpackCache } from "../host/executor/worker/bundle-script.js";
import { startTestHost, type TestHost } from "./support/test-host.js";

const ESBUILD_SHAPED = `// src/index.ts
var greeting = "hi";
var index_default = { fetch() { return new Response(greeting); } };
function helper() {}
export {
  index_default as default,
  helper as "a helper"
};
//# sourceMappingURL=index.js.map
`;

test("an esbuild bundle's export clause becomes a return, every line of the bundle where it was", async () => {
  await lexerReady();
  const plan = planScript(ESBUILD_SHAPED);
  assert.ok(plan);
  assert.deepEqual(plan.exports, [
    ["default", "index_default"],
    ["a helper", "helper"],
  ]);
  const source = scriptSource(ESBUILD_SHAPED, plan);
  const lines = source.split("\n");
  assert.equal(lines[0], '(function () { "use strict";');
  // Line n of the bundle is line n of the script after its first (the script's lineOffset is -1).
  assert.deepEqual(lines.slice(1, 5), ESBUILD_SHAPED.split("\n").slice(0, 4));
  assert.match(source, /return \{ "default": index_default, "a helper": helper \};\n\/\/# sourceMappingURL=index\.js\.map\n\n\}\)$/);
  // The result is a function expression that returns the exports.
  const run = new Function(`return ${source}`)() as () => Record<string, unknown>;
  const exported = run();
  assert.deepEqual(Object.keys(exported), ["default", "a helper"]);
});

test("modules that need module semantics get no script form", async () => {
  await lexerReady();
  for (const module of [
    `export default { fetch() {} };`,
    `import x from "./x.js";\nvar a = 1;\nexport { a as default };`,
    `const u = import.meta.url;\nexport { u as default };`,
    `const m = await import("./m.js");\nexport { m as default };`,
    `export const a = 1;\nexport { a as default };`,
    `var a = 1;`,
    `this is not JavaScript {`,
  ]) {
    assert.equal(planScript(module), null, module);
  }
});

test("a version's code cache says which form it is for; a cache without the marker is a module's", () => {
  const plan = { clauseStart: 10, clauseEnd: 40, exports: [["default", "x"]] as [string, string][] };
  const v8 = new Uint8Array([1, 2, 3, 250]);
  const unpacked = unpackCache(packCache(plan, v8));
  assert.deepEqual(unpacked.plan, plan);
  assert.deepEqual([...unpacked.v8Cache], [...v8]);
  const moduleCache = new Uint8Array([9, 8, 7, 6, 5, 4, 3, 2, 1]);
  assert.deepEqual(unpackCache(moduleCache), { plan: null, v8Cache: moduleCache });
});

let host: TestHost;
before(async () => {
  host = await startTestHost();
});
after(async () => {
  await host.stop();
  host.cleanUp();
});

/** The code cache the store holds for a script's newest version. */
function storedCache(script: string, dataDir = host.dataDir): Buffer {
  const db = new Database(join(dataDir, "atoll.db"), { readonly: true });
  try {
    const row = db.prepare("SELECT code_cache FROM versions WHERE script = ? ORDER BY version DESC LIMIT 1").get(script) as { code_cache: Buffer | null };
    assert.ok(row.code_cache, `${script} has a code cache`);
    return row.code_cache;
  } finally {
    db.close();
  }
}

/** The form the host keeps a version's code cache for: "script" (it starts with the marker) or "module". */
function cachedForm(script: string): string {
  return storedCache(script).subarray(0, 4).toString("latin1") === "ATLS" ? "script" : "module";
}

async function bundle(source: string): Promise<string> {
  const result = await build({ stdin: { contents: source, loader: "js" }, bundle: true, format: "esm", write: false, logLevel: "silent" });
  return result.outputFiles[0]!.text;
}

test("an esbuild bundle runs as a script: errors point at the lines and columns of the bundle as uploaded", async () => {
  const code = await bundle(`export default {
  fetch(request) {
    if (new URL(request.url).pathname === "/throw") {
      throw new Error("thrown on purpose");
    }
    return Response.json({ topLevelThis: typeof topLevelThis, probe: typeof globalThis.atollProbe, strict: (function () { return this === undefined; })() });
  },
};
var atollProbe = 1;
var topLevelThis = this;`);
  assert.ok(planScript(code), "the bundle has a script form");
  const line = code.split("\n").findIndex((text) => text.includes('throw new Error("thrown on purpose")')) + 1;
  const column = code.split("\n")[line - 1]!.indexOf("new Error") + 1;
  await host.deploy("as-script", code);
  assert.equal(cachedForm("as-script"), "script");
  const answer = await host.request("as-script.localhost", "/");
  // Module semantics kept: top-level `this` is undefined, top-level vars stay out of globalThis, strict mode.
  assert.deepEqual(await answer.json(), { topLevelThis: "undefined", probe: "undefined", strict: true });
  const thrown = await host.request("as-script.localhost", "/throw");
  assert.equal(thrown.status, 500);
  await thrown.text();
  const logged = await host.waitForLog(/thrown on purpose/);
  const stackLine = host.logs.find((entry) => entry.includes("file:///as-script.js:")) ?? logged;
  assert.match(stackLine, new RegExp(`file:///as-script\\.js:${line}:${column}\\b`));
});

test("modules that must stay modules still deploy and run: inline default export, top-level await, await(…) as a call", async () => {
  await host.deploy("inline-default", `export default { fetch() { return new Response("inline"); } };`);
  assert.equal(await (await host.request("inline-default.localhost", "/")).text(), "inline");
  assert.equal(cachedForm("inline-default"), "module");

  await host.deploy("top-level-await", `const value = await Promise.resolve("awaited");\nconst handler = { fetch() { return new Response(value); } };\nexport { handler as default };`);
  assert.equal(await (await host.request("top-level-await.localhost", "/")).text(), "awaited");

  // As a script this would call a function named await: the module form runs it instead.
  await host.deploy("await-call", `const value = await (Promise.resolve("awaited too"));\nconst handler = { fetch() { return new Response(value); } };\nexport { handler as default };`);
  assert.equal(await (await host.request("await-call.localhost", "/")).text(), "awaited too");
  assert.equal(cachedForm("await-call"), "module");
});

test("a bundle that is not a valid module is refused, though its script form would compile", async () => {
  const response = await host.control("PUT", "/v1/scripts/not-a-module", { bundle: `const handler = { fetch() { return new Response("x"); } };\nif (handler) return;\nexport { handler as default };`, config: { name: "not-a-module", main: "src/index.ts" } });
  assert.equal(response.status, 400);
  const body = (await response.json()) as { error: { code: string; message: string } };
  assert.equal(body.error.code, "ATOLL_BUNDLE_PARSE");
  assert.match(body.error.message, /return/i);
});

test("a top-level loop in a script-form bundle is stopped at the start-up budget", async () => {
  const response = await host.control("PUT", "/v1/scripts/loops", { bundle: `while (true) {}\nconst handler = { fetch() { return new Response("x"); } };\nexport { handler as default };`, config: { name: "loops", main: "src/index.ts" } });
  assert.equal(response.status, 400);
  const body = (await response.json()) as { error: { message: string } };
  assert.match(body.error.message, /start-up CPU budget/);
});

test("after a version's first request its code cache is made again with what the request compiled; a restarted host starts from it", async () => {
  // Handlers whose functions only a request compiles.
  const routes = Array.from({ length: 40 }, (_, i) => `function route${i}(url) { const parts = url.pathname.split("/"); return parts.length * ${i} + url.search.length; }`).join("\n");
  const code = await bundle(`${routes}
const table = [${Array.from({ length: 40 }, (_, i) => `route${i}`).join(", ")}];
export default { fetch(request) { const url = new URL(request.url); return new Response(String(table.reduce((sum, route) => sum + route(url), 0))); } };`);
  const dataDir = mkdtempSync(join(tmpdir(), "atoll-code-cache-"));
  let own = await startTestHost({ dataDir });
  try {
    await own.deploy("refreshed", code);
    const uploaded = storedCache("refreshed", dataDir);
    assert.equal(unpackCache(uploaded).plan?.refreshed, undefined, "the upload's cache predates any request");
    const expected = String(Array.from({ length: 40 }, (_, i) => 3 * i).reduce((sum, value) => sum + value, 0));
    assert.equal(await (await own.request("refreshed.localhost", "/a/b")).text(), expected);
    const deadline = Date.now() + 5000;
    let refreshed = storedCache("refreshed", dataDir);
    while (unpackCache(refreshed).plan?.refreshed !== true) {
      assert.ok(Date.now() < deadline, "the code cache was made again after the first request");
      await new Promise((resolve) => setTimeout(resolve, 20));
      refreshed = storedCache("refreshed", dataDir);
    }
    assert.ok(unpackCache(refreshed).v8Cache.byteLength > unpackCache(uploaded).v8Cache.byteLength, "it holds the functions the request compiled");
    // Later requests leave it as it is.
    await (await own.request("refreshed.localhost", "/a/b")).text();
    await own.stop();
    own = await startTestHost({ dataDir });
    const again = await own.request("refreshed.localhost", "/a/b");
    assert.match(again.headers.get("server-timing") ?? "", /desc="cold"/);
    assert.equal(await again.text(), expected);
    assert.ok(storedCache("refreshed", dataDir).equals(refreshed), "a cache made after a request is not made again");
  } finally {
    await own.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
});
