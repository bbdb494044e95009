// `atoll init` and `atoll types` through the CLI: every template scaffolds a
// project that type-checks against this repository's SDK at once (its
// node_modules/atoll a link to the repository, as `npm install` would give
// it), and each runs on a real host as it is: the fetch and Hono ones
// deployed with the CLI's code, the cron and bucket ones under
// atoll/sdk/testing.
import { strict as assert } from "node:assert";
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { deployProject } from "../bundler/deploy.js";
import { TEMPLATES } from "../bundler/scaffold.js";
import { createTestHost } from "atoll/sdk/testing";
import { atoll, repoRoot } from "./support/cli.js";
import { startTestHost, type TestHost } from "./support/test-host.js";
import { typeCheckProject } from "./support/typecheck.js";

let scratch: string;
let host: TestHost;

before(async () => {
  scratch = await mkdtemp(join(tmpdir(), "atoll-init-"));
  host = await startTestHost();
});

after(async () => {
  await host?.stop();
  host?.cleanUp();
  await rm(scratch, { recursive: true, force: true });
});

/** node_modules as `npm install` would leave it: atoll (this repository) and hono. */
async function linkNodeModules(dir: string): Promise<void> {
  await mkdir(join(dir, "node_modules"), { recursive: true });
  await symlink(repoRoot, join(dir, "node_modules", "atoll"), "dir");
  await symlink(join(repoRoot, "node_modules", "hono"), join(dir, "node_modules", "hono"), "dir");
}

async function init(name: string, template: string): Promise<string> {
  const run = await atoll(["init", name, "--template", template], { cwd: scratch });
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, new RegExp(`^Created ${name}/ from the ${template} template: \\.gitignore, atoll-env\\.d\\.ts, atoll\\.toml, package\\.json, src/index\\.ts, tsconfig\\.json\\n`));
  assert.match(run.stdout, /npm install\n {2}npx atoll dev/);
  const dir = join(scratch, name);
  await linkNodeModules(dir);
  return dir;
}

describe("atoll init", () => {
  for (const template of Object.keys(TEMPLATES)) {
    it(`scaffolds the ${template} template, which type-checks against the SDK as it is`, async () => {
      const dir = await init(`my-${template}`, template);
      const manifest = JSON.parse(await readFile(join(dir, "package.json"), "utf8")) as { name: string; type: string; devDependencies: Record<string, string>; dependencies?: Record<string, string> };
      assert.equal(manifest.name, `my-${template}`);
      assert.equal(manifest.type, "module");
      // Run from this checkout: the project depends on it by path, so that `npm install` needs no registry.
      assert.equal(manifest.devDependencies["atoll"], `file:${repoRoot.replace(/\/$/, "")}`);
      assert.ok(manifest.devDependencies["typescript"]);
      if (template === "hono") assert.ok(manifest.dependencies?.["hono"]);
      assert.match(await readFile(join(dir, ".gitignore"), "utf8"), /^\.dev\.vars$/m);
      assert.match(await readFile(join(dir, "atoll.toml"), "utf8"), new RegExp(`^name = "my-${template}"$`, "m"));
      const env = await readFile(join(dir, "atoll-env.d.ts"), "utf8");
      const binding = { fetch: 'GREETING: "Hello";', hono: 'GREETING: "Hello";', cron: "RUNS: KVNamespace;", bucket: "FILES: Bucket;" }[template];
      assert.ok(binding && env.includes(binding), env);
      assert.deepEqual(typeCheckProject(dir), []);
    });
  }

  it("scaffolds projects whose mistakes the compiler catches (the globals are the runtime's)", async () => {
    const dir = await init("strict-check", "fetch");
    await writeFile(
      join(dir, "src", "extra.ts"),
      `export const a: number = env();\nfunction env() { return indexedDB; }\nexport const b = new SharedArrayBuffer(1);\nexport const c = (e: Env) => e.GREETING === "Bye";\n`,
    );
    const problems = typeCheckProject(dir).map((problem) => problem.replace(/ .*/, ""));
    assert.deepEqual(problems, ["src/extra.ts:2:", "src/extra.ts:3:", "src/extra.ts:4:"], typeCheckProject(dir).join("\n"));
  });

  it("deploys the fetch and hono templates, which answer on a real host", async () => {
    const control = { controlUrl: host.controlUrl, token: host.token };
    const fetchDir = join(scratch, "my-fetch");
    const fetched = await deployProject(fetchDir, control);
    assert.equal(fetched.name, "my-fetch");
    const greeting = await host.request("my-fetch.localhost", "/some/path");
    assert.equal(greeting.status, 200);
    assert.deepEqual(await greeting.json(), { message: "Hello from my-fetch", path: "/some/path" });

    await deployProject(join(scratch, "my-hono"), control);
    const hono = await host.request("my-hono.localhost", "/hello/you");
    assert.deepEqual(await hono.json(), { message: "Hello, you" });
    const echo = await host.request("my-hono.localhost", "/echo", { method: "POST", headers: { "content-type": "application/json" }, body: '{"a":1}' });
    assert.deepEqual(await echo.json(), { received: { a: 1 } });
    assert.equal((await host.request("my-hono.localhost", "/nope")).status, 404);
  });

  it("scaffolds a cron job whose scheduled handler runs and keeps its runs in KV", async () => {
    const host = await createTestHost({ dir: join(scratch, "my-cron") });
    try {
      assert.deepEqual(await (await host.fetch("/")).json(), { message: "no run yet: it runs every five minutes (press c in atoll dev to run it now)" });
      for (let i = 0; i < 2; i++) assert.equal((await host.scheduled()).ok, true);
      const last = (await (await host.fetch("/")).json()) as { cron: string; count: number };
      assert.equal(last.cron, "*/5 * * * *");
      assert.equal(last.count, 2);
    } finally {
      await host.close();
    }
  });

  it("scaffolds a bucket processor that processes each file put under incoming/", async () => {
    const host = await createTestHost({ dir: join(scratch, "my-bucket") });
    try {
      const put = await host.fetch("/incoming/note.txt", { method: "PUT", headers: { "content-type": "text/plain" }, body: "three small words" });
      assert.equal(put.status, 201);
      await host.waitForLog(/my-bucket@v1\] log: incoming\/note\.txt: 3 words, processed into processed\/note\.txt/, 10_000);
      const processed = await host.fetch("/processed/note.txt");
      assert.equal(await processed.text(), "THREE SMALL WORDS");
      assert.equal(processed.headers.get("x-meta-words"), "3");
      assert.equal(processed.headers.get("content-type"), "text/plain; charset=utf-8");
    } finally {
      await host.close();
    }
  });

  it("refuses a folder that is not empty, a bad name and an unknown template", async () => {
    const exists = await atoll(["init", "my-fetch"], { cwd: scratch });
    assert.equal(exists.code, 1);
    assert.match(exists.stderr, /my-fetch already exists and is not empty/);
    const badName = await atoll(["init", "My_Function"], { cwd: scratch });
    assert.equal(badName.code, 1);
    assert.match(badName.stderr, /My_Function/);
    const badTemplate = await atoll(["init", "x", "--template", "vue"], { cwd: scratch });
    assert.equal(badTemplate.code, 1);
    assert.match(badTemplate.stderr, /expected one of fetch, hono, cron, bucket/);
  });
});

describe("atoll types", () => {
  it("writes Env from atoll.toml and .dev.vars: literal vars, secrets, KV namespaces, buckets", async () => {
    const dir = await init("typed", "fetch");
    await writeFile(
      join(dir, "atoll.toml"),
      [
        'name = "typed"',
        'main = "src/index.ts"',
        "[vars]",
        'GREETING = "Hi"',
        "RETRIES = 3",
        'FEATURES = { beta = true, regions = ["eu", "us"] }',
        "[[kv_namespaces]]",
        'binding = "CACHE"',
        'id = "cache"',
        "[[buckets]]",
        'binding = "UPLOADS"',
        'bucket_name = "uploads"',
        "",
      ].join("\n"),
    );
    await writeFile(join(dir, ".dev.vars"), '# local secrets\nAPI_KEY="k-123"\nexport TOKEN=abc # a comment\n');
    const run = await atoll(["types"], { cwd: dir });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, "Wrote atoll-env.d.ts: interface Env with 3 vars, 2 secrets, 1 KV namespace, 1 bucket\n");
    const text = await readFile(join(dir, "atoll-env.d.ts"), "utf8");
    const members = text
      .split("\n")
      .filter((line) => /^ {2}[A-Za-z]/.test(line))
      .map((line) => line.trim());
    assert.deepEqual(members, ['GREETING: "Hi";', "RETRIES: 3;", "FEATURES: {", "API_KEY: string;", "TOKEN: string;", "CACHE: KVNamespace;", "UPLOADS: Bucket;"]);
    assert.match(text, /FEATURES: \{\n {4}beta: true;\n {4}regions: \["eu", "us"\];\n {2}\};/);

    await writeFile(
      join(dir, "src", "index.ts"),
      `import type { ExportedHandler } from "atoll/sdk";
export default {
  async fetch(request, env) {
    const retries: 3 = env.RETRIES;
    const cached = await env.CACHE.get("k", "json");
    await env.UPLOADS.put("k", request.body);
    return new Response(\`\${env.GREETING} \${env.API_KEY.length} \${retries} \${env.FEATURES.regions[0]} \${String(cached)}\`);
  },
} satisfies ExportedHandler<Env>;
`,
    );
    assert.deepEqual(typeCheckProject(dir), []);
    await writeFile(join(dir, "src", "wrong.ts"), `export const f = (env: Env) => [env.RETRIES === 4, env.CACHE.head("k"), env.MISSING];\n`);
    assert.deepEqual(
      typeCheckProject(dir).map((problem) => problem.replace(/ .*/, "").replace(/:$/, "")),
      ["src/wrong.ts:1", "src/wrong.ts:1", "src/wrong.ts:1"],
    );
  });

  it("names the problem in .dev.vars", async () => {
    const dir = join(scratch, "typed");
    await writeFile(join(dir, ".dev.vars"), "API_KEY=1\nnot a line\n");
    const run = await atoll(["types"], { cwd: dir });
    assert.equal(run.code, 1);
    assert.match(run.stderr, /\.dev\.vars:2: expected NAME=value/);
  });
});
