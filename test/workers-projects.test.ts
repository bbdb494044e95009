// Workers projects that were not written for Atoll, deployed from their own
// wrangler files through a real host:
// - create-cloudflare's templates (the files `npm create cloudflare` copies,
//   from the create-cloudflare package itself): "openapi" (Hono, chanfana and
//   zod), "hello-world", "hello-world-with-assets", "hello-world-assets-only" and "hono" (static assets), "scheduled" (a cron);
// - fixtures/image-resize: @cf-wasm/photon's Workers build, unmodified from
//   npm, which imports its .wasm module.
import { strict as assert } from "node:assert";
import { cp, mkdtemp, readFile, rename, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { deflateSync } from "node:zlib";
import { after, before, describe, it } from "node:test";
import { deployProject } from "../bundler/deploy.js";
import { startTestHost, type TestHost } from "./support/test-host.js";

const REPO = join(import.meta.dirname, "..", "..");
const TEMPLATES = join(REPO, "node_modules", "create-cloudflare", "templates");
let scratch: string;
let host: TestHost;

before(async () => {
  scratch = await mkdtemp(join(tmpdir(), "atoll-workers-projects-"));
  host = await startTestHost();
});

after(async () => {
  await host?.stop();
  host?.cleanUp();
  await rm(scratch, { recursive: true, force: true });
});

/**
 * What `npm create cloudflare -- NAME --template T` leaves on disk: the
 * template's files, the name and date filled in, dotfiles renamed; the
 * packages it names come from this repository's node_modules (devDependencies).
 */
async function createFromTemplate(template: string, name: string): Promise<string> {
  const dir = join(scratch, name);
  await cp(join(TEMPLATES, template), dir, { recursive: true });
  await rename(join(dir, "__dot__gitignore"), join(dir, ".gitignore")).catch(() => {});
  const wrangler = join(dir, "wrangler.jsonc");
  const text = await readFile(wrangler, "utf8");
  await writeFile(wrangler, text.replace("<WORKER_NAME>", name).replace("<COMPATIBILITY_DATE>", "2025-06-01"));
  await symlink(join(REPO, "node_modules"), join(dir, "node_modules"), "dir");
  return dir;
}

async function deploy(dir: string): Promise<string[]> {
  const warnings: string[] = [];
  await deployProject(dir, { controlUrl: host.controlUrl, token: host.token, log: (line) => warnings.push(line) });
  return warnings;
}

describe("create-cloudflare's templates, deployed from their wrangler.jsonc", () => {
  it("openapi: a Hono app with chanfana and zod validates, answers and serves its OpenAPI document", async () => {
    const dir = await createFromTemplate("openapi/ts", "c3-openapi");
    const warnings = await deploy(dir);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /ignored, as they mean nothing on a self-hosted host: `observability`/);

    const get = (path: string, init?: RequestInit) => host.request("c3-openapi.localhost", path, init);
    const document = await get("/openapi.json");
    assert.equal(document.status, 200);
    const openapi = (await document.json()) as { openapi: string; paths: Record<string, Record<string, unknown>> };
    assert.match(openapi.openapi, /^3\./);
    assert.deepEqual(Object.keys(openapi.paths).sort(), ["/api/tasks", "/api/tasks/{taskSlug}"]);
    assert.deepEqual(Object.keys(openapi.paths["/api/tasks"]!).sort(), ["get", "post"]);

    const task = { name: "write tests", slug: "tests", description: "for Atoll", completed: false, due_date: "2026-12-31" };
    const created = await get("/api/tasks", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(task) });
    assert.equal(created.status, 201);
    const body = (await created.json()) as { success: boolean; task: Record<string, unknown> };
    assert.equal(body.success, true);
    assert.equal(body.task.slug, "tests");

    const invalid = await get("/api/tasks", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ slug: 3 }) });
    assert.equal(invalid.status, 400);
    const problems = (await invalid.json()) as { success: boolean; errors: unknown[] };
    assert.equal(problems.success, false);
    assert.ok(problems.errors.length > 0);

    const fetched = await get("/api/tasks/my-slug");
    assert.equal(fetched.status, 200);
    assert.equal(((await fetched.json()) as { task: { slug: string } }).task.slug, "my-slug");

    const docs = await get("/");
    assert.equal(docs.status, 200);
    assert.match(await docs.text(), /swagger/i);
  });

  it("hello-world: answers as on Workers", async () => {
    const dir = await createFromTemplate("hello-world/ts", "c3-hello");
    await deploy(dir);
    const response = await host.request("c3-hello.localhost", "/");
    assert.equal(response.status, 200);
    assert.equal(await response.text(), "Hello World!");
  });

  it("hello-world-with-assets: public/index.html at /, the function on the other paths", async () => {
    const dir = await createFromTemplate("hello-world-with-assets/ts", "c3-assets");
    const warnings = await deploy(dir);
    assert.ok(warnings.every((line) => !/`assets/.test(line)), warnings.join("\n"));
    const page = await host.request("c3-assets.localhost", "/");
    assert.equal(page.status, 200);
    assert.match(page.headers.get("content-type") ?? "", /^text\/html/);
    assert.equal(await page.text(), await readFile(join(dir, "public", "index.html"), "utf8"));
    // /index.html is served at /, as Workers' html_handling says.
    const spelled = await host.request("c3-assets.localhost", "/index.html", { redirect: "manual" });
    assert.equal(spelled.status, 307);
    assert.equal(spelled.headers.get("location"), "/");
    const message = await host.request("c3-assets.localhost", "/message");
    assert.equal(await message.text(), "Hello, World!");
    const random = await host.request("c3-assets.localhost", "/random");
    assert.match(await random.text(), /^[0-9a-f-]{36}$/);
    assert.equal((await host.request("c3-assets.localhost", "/nothing")).status, 404);
  });

  it("hello-world-assets-only: a static site with no main", async () => {
    const dir = await createFromTemplate("hello-world-assets-only/templates", "c3-static");
    await deploy(dir);
    const page = await host.request("c3-static.localhost", "/");
    assert.equal(page.status, 200);
    assert.equal(await page.text(), await readFile(join(dir, "public", "index.html"), "utf8"));
    // No function: what matches no file is Workers' asset server's 404, and only GET and HEAD are answered.
    const missing = await host.request("c3-static.localhost", "/nothing");
    assert.equal(missing.status, 404);
    await missing.text();
    const posted = await host.request("c3-static.localhost", "/", { method: "POST", body: "x" });
    assert.equal(posted.status, 405);
    await posted.text();
  });

  it("scheduled: its cron is scheduled and its handler runs (its fetch to api.cloudflare.com needs the Internet)", async () => {
    const dir = await createFromTemplate("scheduled/ts", "c3-scheduled");
    await deploy(dir);
    const page = await host.request("c3-scheduled.localhost", "/");
    assert.match(await page.text(), /--test-scheduled/);
    const script = (await (await host.control("GET", "/v1/scripts/c3-scheduled")).json()) as { schedules: { cron: string; next_run: string }[] };
    assert.deepEqual(script.schedules.map((schedule) => schedule.cron), ["* * * * *"]);
    assert.ok(Date.parse(script.schedules[0]!.next_run) - Date.now() <= 60_000);
    const run = (await (await host.control("POST", "/v1/scripts/c3-scheduled/invoke", { kind: "scheduled" })).json()) as { outcome: string; logs: { message: string }[]; error?: { message: string } };
    // Offline (as CI is), the fetch fails and the handler throws; online it logs its answer.
    if (run.outcome === "ok") assert.match(run.logs[0]?.message ?? "", /^trigger fired at \* \* \* \* \*: (success|fail)$/);
    else assert.match(run.error?.message ?? "", /fetch/i);
  });

  it("hono: a Hono app with public/ assets and an ASSETS binding", async () => {
    const dir = await createFromTemplate("hono/workers/templates", "c3-hono");
    await deploy(dir);
    const page = await host.request("c3-hono.localhost", "/");
    assert.equal(page.status, 200);
    assert.equal(await page.text(), await readFile(join(dir, "public", "index.html"), "utf8"));
    const etag = page.headers.get("etag");
    assert.ok(etag);
    assert.equal((await host.request("c3-hono.localhost", "/", { headers: { "if-none-match": etag } })).status, 304);
    const message = await host.request("c3-hono.localhost", "/message");
    assert.equal(message.status, 200);
    assert.equal(await message.text(), "Hello Hono!");
  });
});

describe("fixtures/image-resize: @cf-wasm/photon's Workers build", () => {
  it("resizes a PNG in WebAssembly and survives a file that is not an image", async () => {
    const warnings = await deploy(join(REPO, "fixtures", "image-resize"));
    assert.deepEqual(warnings, []);
    const resize = (body: Uint8Array, width: number) => host.request("image-resize.localhost", `/resize?width=${width}`, { method: "POST", body });
    const response = await resize(pngOf(200, 100), 50);
    assert.equal(response.status, 200, await response.clone().text());
    assert.equal(response.headers.get("content-type"), "image/png");
    assert.equal(response.headers.get("x-source-size"), "200x100");
    const png = new Uint8Array(await response.arrayBuffer());
    assert.deepEqual([...png.subarray(0, 8)], [137, 80, 78, 71, 13, 10, 26, 10]);
    const view = new DataView(png.buffer, png.byteOffset);
    assert.deepEqual([view.getUint32(16), view.getUint32(20)], [50, 25]);

    const garbage = await resize(new TextEncoder().encode("not an image at all"), 10);
    assert.equal(garbage.status, 500);
    await garbage.text();
    const again = await resize(pngOf(64, 64), 16);
    assert.equal(again.status, 200);
    assert.equal(new DataView(await again.arrayBuffer()).getUint32(16), 16);
  });
});

/** An RGBA PNG of a diagonal gradient. */
function pngOf(width: number, height: number): Uint8Array {
  const rows = new Uint8Array(height * (1 + width * 4));
  for (let y = 0; y < height; y++) {
    const row = y * (1 + width * 4);
    for (let x = 0; x < width; x++) rows.set([(x * 255) / width, (y * 255) / height, 128, 255], row + 1 + x * 4);
  }
  const header = new Uint8Array(13);
  const view = new DataView(header.buffer);
  view.setUint32(0, width);
  view.setUint32(4, height);
  header.set([8, 6, 0, 0, 0], 8);
  return Buffer.concat([new Uint8Array([137, 80, 78, 71, 13, 10, 26, 10]), chunk("IHDR", header), chunk("IDAT", deflateSync(rows)), chunk("IEND", new Uint8Array(0))]);
}

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  out.set(new TextEncoder().encode(type), 4);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

function crc32(bytes: Uint8Array): number {
  let crc = ~0;
  for (const byte of bytes) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = (crc >>> 1) ^ (0xedb88320 & -(crc & 1));
  }
  return ~crc >>> 0;
}

