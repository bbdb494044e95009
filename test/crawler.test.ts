// fixtures/crawler through a real host: on its schedule it fetches a page from
// a loopback origin (the host allows private addresses for this), and keeps
// the page's title and links in KV, tick after tick; `atoll invoke --cron`
// runs it on demand; a page that is missing fails for good (noRetry) and
// lands in the dead-letter list at once.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { bundleProject } from "../bundler/bundle.js";
import { atoll, controlArgs } from "./support/cli.js";
import { startOrigin, type Origin } from "./support/origin.js";
import { startTestHost, type TestHost } from "./support/test-host.js";

interface Crawl {
  url: string;
  status: number;
  title: string | null;
  links: string[];
  scheduledTime: number;
  cron: string;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let host: TestHost;
let origin: Origin;
let bundle: { code: string; config: Record<string, unknown> & { vars: Record<string, unknown> } };

before(async () => {
  origin = await startOrigin();
  host = await startTestHost({ egress: { allowPrivate: true } });
  const { code, config } = await bundleProject(fileURLToPath(new URL("../../fixtures/crawler", import.meta.url)));
  bundle = { code, config: config as unknown as typeof bundle.config };
});
after(async () => {
  await host.stop();
  host.cleanUp();
  origin.server.close();
});

function deployCrawler(target: string, crons: string[]): Promise<unknown> {
  const { config } = bundle;
  // A generous cpu_ms: a loaded CI machine must not turn a busy cold start into a failed crawl.
  return host.deploy("crawler", bundle.code, { ...config, vars: { ...config.vars, TARGET_URL: target }, triggers: { ...(config["triggers"] as object), crons }, limits: { cpu_ms: 1000 } });
}

async function kv(key: string): Promise<string | undefined> {
  const response = await host.control("GET", `/v1/kv/crawls/values/${encodeURIComponent(key)}`);
  return response.status === 200 ? await response.text() : undefined;
}

test("on its schedule, the crawler fetches the page and stores its title and links in KV", async () => {
  await deployCrawler(`${origin.url}/page.html`, ["*/1 * * * * *"]);
  await sleep(3300);
  await deployCrawler(`${origin.url}/page.html`, []);
  const latest = JSON.parse((await kv("latest")) ?? "null") as Crawl | null;
  assert.ok(latest, `no crawl stored; host log:\n${host.logs.join("\n")}`);
  assert.equal(latest.url, `${origin.url}/page.html`);
  assert.equal(latest.status, 200);
  assert.equal(latest.title, "The Origin Page");
  assert.deepEqual(latest.links, [`${origin.url}/text`, "https://example.test/about"]);
  assert.equal(latest.cron, "*/1 * * * * *");
  const listed = (await (await host.control("GET", "/v1/kv/crawls/keys?prefix=crawl:")).json()) as { keys: { name: string }[] };
  const ticks = listed.keys.map((key) => Number(key.name.slice("crawl:".length)));
  assert.ok(ticks.length >= 2, `one crawl per tick: ${ticks.join(", ")}`);
  for (let i = 1; i < ticks.length; i++) assert.equal(ticks[i]! - ticks[i - 1]!, 1000);
  assert.ok(origin.seen.filter((line) => line === "GET /page.html").length >= ticks.length);
  // Its fetch handler serves the latest crawl.
  const served = await host.request("crawler.localhost", "/");
  assert.equal(((await served.json()) as Crawl).title, "The Origin Page");
});

test("atoll invoke --cron crawls now and prints what it logged", async () => {
  const run = await atoll(["invoke", "crawler", "--cron", "0 * * * *", ...controlArgs(host)]);
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /^scheduled "0 \* \* \* \*": ok {2}\(version \d+, \w+, [\d.]+ ms\)\n--- logs \(1\) ---\nlog: crawled http:\/\/127\.0\.0\.1:\d+\/page\.html: "The Origin Page", 2 links\n$/);
  assert.equal((JSON.parse((await kv("latest"))!) as Crawl).cron, "0 * * * *");
});

test("a missing page fails for good: noRetry() dead-letters it after one attempt", async () => {
  await deployCrawler(`${origin.url}/gone`, []);
  const queued = await atoll(["invoke", "crawler", "--cron", "--async", ...controlArgs(host)]);
  assert.equal(queued.code, 0, queued.stderr);
  const deadline = Date.now() + 10_000;
  let listed = "";
  while (Date.now() < deadline) {
    listed = (await atoll(["dlq", "list", "crawler", ...controlArgs(host)])).stdout;
    if (!listed.startsWith("No dead-lettered")) break;
    await sleep(200);
  }
  assert.match(listed, / 1 +\S+ +ATOLL_SCRIPT_THREW: http:\/\/127\.0\.0\.1:\d+\/gone answered 404 \(noRetry\(\) was called\)\n/);
});
