// Imports of files that are not code, through a real host: Workers' default
// rules (.html as Text, .bin as Data), a project's `[[build.rules]]`, a rule
// without `fallthrough` replacing the defaults of its type, and .wasm refused
// with a clear message until the isolate has WebAssembly.
import { strict as assert } from "node:assert";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { deployProject } from "../bundler/deploy.js";
import { BuildError } from "../bundler/errors.js";
import { BadConfigError } from "../host/errors.js";
import { startTestHost, type TestHost } from "./support/test-host.js";

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

  it("refuses WebAssembly, by import and by rule, saying why", async () => {
    const imported = await project("rules-wasm", "", { "src/index.js": 'import mod from "./add.wasm";\nexport default { fetch: () => new Response(String(mod)) };\n', "src/add.wasm": Uint8Array.of(0, 0x61, 0x73, 0x6d, 1, 0, 0, 0) });
    await assert.rejects(deploy(imported), (error: unknown) => error instanceof BuildError && /src\/add\.wasm is a WebAssembly module, and WebAssembly is not in Atoll's isolates yet/.test(error.problems.join("\n")));
    const ruled = await project("rules-wasm-rule", '[[build.rules]]\ntype = "CompiledWasm"\nglobs = ["**/*.wasm"]\n', { "src/index.js": "export default { fetch: () => new Response('x') };\n" });
    await assert.rejects(deploy(ruled), (error: unknown) => error instanceof BadConfigError && /`build\.rules\[0\]\.type` is not available in .*: WebAssembly is not in Atoll's isolates yet/.test(error.problems.join("\n")));
  });
});
