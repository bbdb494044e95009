// Imports of files that are not code, through a real host: Workers' default
// rules (.html as Text, .bin as Data), a project's `[[build.rules]]`, a rule
// without `fallthrough` replacing the defaults of its type, and .wasm as a
// WebAssembly.Module.
import { strict as assert } from "node:assert";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { deployProject } from "../bundler/deploy.js";
import { BuildError } from "../bundler/errors.js";
import { startTestHost, type TestHost } from "./support/test-host.js";
import { GROW_WASM } from "./support/wasm-modules.js";

let scratch: string;
let host: TestHost;

before(async () => {
  scratch = await mkdtemp(join(tmpdir(), "atoll-rules-"));
  host = await startTestHost();
});

after(async () => {
  await host?.stop();
  host?.cleanUp();
  await rm(scratch, { recursive: true, force: true });
});

const TABLE = Uint8Array.from({ length: 256 }, (_, i) => i);

async function project(name: string, config: string, files: Record<string, string | Uint8Array>): Promise<string> {
  const dir = join(scratch, name);
  await mkdir(join(dir, "src"), { recursive: true });
  await writeFile(join(dir, "atoll.toml"), `name = "${name}"\nmain = "src/index.js"\n${config}`);
  for (const [file, contents] of Object.entries(files)) await writeFile(join(dir, file), contents);
  return dir;
}

function deploy(dir: string) {
  return deployProject(dir, { controlUrl: host.controlUrl, token: host.token });
}

describe("module rules", () => {
  it("gives .html as a string and .bin as an ArrayBuffer by default, and a project's rule (with fallthrough) its own files", async () => {
    const dir = await project("rules-default", '[[build.rules]]\ntype = "Text"\nglobs = ["**/*.md"]\nfallthrough = true\n', {
      "src/index.js": `import page from "./page.html";
import notes from "../docs/notes.md";
import table from "./table.bin";
export default {
  fetch() {
    const bytes = new Uint8Array(table);
    return Response.json({ page, notes, isArrayBuffer: table instanceof ArrayBuffer, length: table.byteLength, first: bytes[0], last: bytes[255], sum: bytes.reduce((a, b) => a + b, 0) });
  },
};
`,
      "src/page.html": "<h1>Hé \"quoted\"</h1>\n",
      "src/table.bin": TABLE,
    });
    await mkdir(join(dir, "docs"));
    await writeFile(join(dir, "docs", "notes.md"), "# Notes\n`code` and ${not a template}\n");
    await deploy(dir);
    const response = await host.request("rules-default.localhost", "/");
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), {
      page: '<h1>Hé "quoted"</h1>\n',
      notes: "# Notes\n`code` and ${not a template}\n",
      isArrayBuffer: true,
      length: 256,
      first: 0,
      last: 255,
      sum: 255 * 128,
    });
  });

  it("lets a rule without fallthrough replace the defaults of its type", async () => {
    const config = '[[build.rules]]\ntype = "Data"\nglobs = ["**/*.dat"]\n';
    const files = { "src/index.js": 'import a from "./a.dat";\nimport b from "./b.bin";\nexport default { fetch: () => new Response(String(a.byteLength + b.byteLength)) };\n', "src/a.dat": TABLE, "src/b.bin": TABLE };
    const replaced = await project("rules-replaced", config, files);
    await assert.rejects(deploy(replaced), (error: unknown) => error instanceof BuildError && /No loader is configured for "\.bin" files/.test(error.problems.join("\n")));
    const kept = await project("rules-kept", `${config}fallthrough = true\n`, files);
    await deploy(kept);
    assert.equal(await (await host.request("rules-kept.localhost", "/")).text(), "512");
  });

  it("imports a .wasm file as a WebAssembly.Module, by default and by a CompiledWasm rule", async () => {
    const handler =
      'import mod from "./memory.wasm";\nexport default { async fetch() { const { exports } = await WebAssembly.instantiate(mod); exports.store(0, 7); return new Response(`${mod instanceof WebAssembly.Module} ${new Int32Array(exports.mem.buffer)[0]}`); } };\n';
    const byDefault = await project("rules-wasm", "", { "src/index.js": handler, "src/memory.wasm": GROW_WASM });
    await deploy(byDefault);
    assert.equal(await (await host.request("rules-wasm.localhost", "/")).text(), "true 7");
    const ruled = await project("rules-wasm-rule", '[[build.rules]]\ntype = "CompiledWasm"\nglobs = ["**/*.wasm.bin"]\n', {
      "src/index.js": handler.replace("./memory.wasm", "./memory.wasm.bin"),
      "src/memory.wasm.bin": GROW_WASM,
    });
    await deploy(ruled);
    assert.equal(await (await host.request("rules-wasm-rule.localhost", "/")).text(), "true 7");
  });

  it("refuses a .wasm file that is not WebAssembly, and one whose memory starts past memory_mb, saying why", async () => {
    const handler = 'import mod from "./x.wasm";\nexport default { fetch: () => new Response(String(mod)) };\n';
    const broken = await project("rules-wasm-broken", "", { "src/index.js": handler, "src/x.wasm": Uint8Array.of(0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 99) });
    await assert.rejects(deploy(broken), (error: unknown) => error instanceof BuildError && /src\/x\.wasm is not a valid WebAssembly module/.test(error.problems.join("\n")));
    // (memory 2000): 125 MiB from the start, under memory_mb = 64.
    const huge = await project("rules-wasm-huge", "[limits]\nmemory_mb = 64\n", { "src/index.js": handler, "src/x.wasm": Uint8Array.of(0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 5, 4, 1, 0, 0xd0, 0x0f) });
    await assert.rejects(deploy(huge), /memory starts at 125 MiB, over the function's memory_mb of 64: raise \[limits\] memory_mb/);
  });
});
