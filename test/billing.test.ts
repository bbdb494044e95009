// Billing: the host config file of `atoll start --config` and its [billing]
// price table (good files, and every kind of bad one, refused with the key
// and the file named), cost() with exact figures, GET /v1/usage with and
// without a price table, and a real `atoll start --config` whose `atoll
// usage` prints a COST column.
import { strict as assert } from "node:assert";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fetch as undiciFetch } from "undici";
import { loadHostConfigFile, parseHostConfig, type PriceTable } from "../host/config/host-config.js";
import { usageRoutes } from "../host/control/usage-routes.js";
import { BadHostConfigError } from "../host/errors.js";
import { cost, formatCost, periodCost, roundedCost, type Prices } from "../host/observe/billing.js";
import { emptyUsage, InvocationStore, sumUsage, type UsageRow } from "../host/observe/invocation-store.js";
import type { Observer } from "../host/observe/observer.js";
import type { InvocationRecord } from "../host/observe/records.js";
import { atoll, controlArgs } from "./support/cli.js";
import { startHostProcess, type HostProcess } from "./support/host-process.js";
import { loopbackAgent } from "./support/test-host.js";

const HOUR_MS = 3600 * 1000;
const dir = mkdtempSync(join(tmpdir(), "atoll-billing-"));
after(() => rmSync(dir, { recursive: true, force: true }));

let fileCount = 0;
/** A host config file holding `text`; its path. */
function configFile(text: string): string {
  const path = join(dir, `host-${++fileCount}.toml`);
  writeFileSync(path, text);
  return path;
}

/** The problems loadHostConfigFile reports for `text` (it must refuse it). */
async function problems(text: string): Promise<{ path: string; problems: string[] }> {
  const path = configFile(text);
  try {
    await loadHostConfigFile(path);
  } catch (error) {
    assert.ok(error instanceof BadHostConfigError, String(error));
    assert.equal(error.code, "ATOLL_BAD_HOST_CONFIG");
    return { path, problems: error.problems };
  }
  assert.fail(`${text} was not refused`);
}

const round9 = (value: number) => Math.round(value * 1e9) / 1e9;

const FREE: Prices = {
  requests_per_million: 0,
  cpu_ms_per_million: 0,
  gb_second: 0,
  egress_gb: 0,
  fetch_gb: 0,
  kv_reads_per_million: 0,
  kv_writes_per_million: 0,
  kv_lists_per_million: 0,
  bucket_class_a_per_million: 0,
  bucket_class_b_per_million: 0,
  storage_gb_month: 0,
};

describe("the host config file", () => {
  it("takes a [billing] table: prices as integers or decimals, the rest 0, currency USD unless given", async () => {
    const config = await loadHostConfigFile(configFile(`[billing]\ncurrency = "EUR"\nrequests_per_million = 0.3\ngb_second = 0.0000166667\negress_gb = 1\n`));
    assert.deepEqual(config.billing, { ...FREE, currency: "EUR", requests_per_million: 0.3, gb_second: 0.0000166667, egress_gb: 1 });
    assert.deepEqual((await loadHostConfigFile(configFile("[billing]\n"))).billing, { ...FREE, currency: "USD" });
    // No [billing]: usage has no cost.
    assert.equal((await loadHostConfigFile(configFile("# nothing yet\n"))).billing, undefined);
  });

  it("refuses an unknown key, naming it, the file and the keys [billing] takes", async () => {
    const { path, problems: found } = await problems("[billing]\nrequests_per_milion = 0.3\n");
    assert.deepEqual(found, [
      `unknown key \`billing.requests_per_milion\` in ${path}: remove it or fix its name; [billing] takes currency, requests_per_million, cpu_ms_per_million, gb_second, egress_gb, fetch_gb, kv_reads_per_million, kv_writes_per_million, kv_lists_per_million, bucket_class_a_per_million, bucket_class_b_per_million, storage_gb_month`,
    ]);
  });

  it("refuses an unknown section or top-level key", async () => {
    const { path, problems: found } = await problems('[pricing]\nrequests = 1\n[billing]\n');
    assert.deepEqual(found, [`unknown section \`[pricing]\` in ${path}: a host config has only a [billing] section; remove it`]);
    const other = await problems("port = 8787\n");
    assert.deepEqual(other.problems, [`unknown key \`port\` in ${other.path}: a host config has only a [billing] section; remove it`]);
  });

  it("refuses a negative price, a price that is not a number, infinity, a bad currency: all at once", async () => {
    const { path, problems: found } = await problems(`[billing]\ngb_second = -1\negress_gb = "cheap"\nfetch_gb = inf\ncurrency = "US dollars"\n`);
    assert.deepEqual(found.sort(), [
      `\`billing.currency\` must be 1 to 16 letters, digits or currency signs, such as "USD" or "EUR" in ${path} (got "US dollars")`,
      `\`billing.egress_gb\` must be a number of at least 0 (the price per GB of responses sent; 0 is free) in ${path} (got "cheap")`,
      `\`billing.fetch_gb\` must be a number of at least 0 (the price per GB of fetch bodies sent and received; 0 is free) in ${path} (got Infinity)`,
      `\`billing.gb_second\` must be a number of at least 0 (the price per GB-second; 0 is free) in ${path} (got -1)`,
    ]);
    const notATable = await problems("billing = 3\n");
    assert.deepEqual(notATable.problems, [`\`billing\` must be a table in ${notATable.path} (got 3)`]);
  });

  it("refuses a file that is not TOML, with the line and column", async () => {
    const { path, problems: found } = await problems("[billing]\nrequests_per_million = = 1\n");
    assert.equal(found.length, 1);
    assert.match(found[0]!, new RegExp(`^${path.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:2:\\d+: TOML syntax error: `));
  });

  it("refuses a missing file, saying so", async () => {
    const path = join(dir, "nowhere.toml");
    await assert.rejects(loadHostConfigFile(path), (error: unknown) => {
      assert.ok(error instanceof BadHostConfigError);
      assert.deepEqual(error.problems, [`no host config file at ${path} (given to --config): create it, or start without --config`]);
      return true;
    });
  });

  it("validates a parsed value the same way (parseHostConfig)", () => {
    assert.throws(() => parseHostConfig({ billing: { gb_second: -0.5 } }, "test"), /`billing\.gb_second` must be a number of at least 0 .* in test \(got -0\.5\)/);
    assert.throws(() => parseHostConfig([], "test"), /the host config in test must be a table of sections such as \[billing\] \(got an array\)/);
  });
});

/** One hour of a busy script, in round figures. */
const BUSY: UsageRow = {
  ...emptyUsage("busy"),
  hour: Date.UTC(2026, 0, 1, 10),
  requests: 2_000_000,
  cpuMs: 5_000_000,
  gbSeconds: 400,
  bytesOut: 3e9,
  bytesIn: 7e9,
  fetchBytesOut: 1e9,
  fetchBytesIn: 1e9,
  kvReads: 1_000_000,
  kvWrites: 2_000_000,
  kvLists: 3_000_000,
  bucketClassA: 1_000_000,
  bucketClassB: 4_000_000,
  bytesStored: 730e9,
};

/** Example figures, not any provider's current prices. */
const PRICES: PriceTable = {
  currency: "USD",
  requests_per_million: 0.3,
  cpu_ms_per_million: 0.02,
  gb_second: 0.0000166667,
  egress_gb: 0.09,
  fetch_gb: 0.01,
  kv_reads_per_million: 0.5,
  kv_writes_per_million: 5,
  kv_lists_per_million: 5,
  bucket_class_a_per_million: 4.5,
  bucket_class_b_per_million: 0.36,
  storage_gb_month: 0.015,
};

function assertCost(actual: Record<string, number>, expected: Record<string, number>): void {
  assert.deepEqual(Object.fromEntries(Object.entries(actual).map(([key, value]) => [key, round9(value)])), expected);
}

describe("cost()", () => {
  it("prices each unit as the price pages do: per million, per GB (1e9 bytes), per GB-second, storage by GB-month / 730", () => {
    assertCost({ ...cost(BUSY, PRICES) }, {
      total: 32.45166668,
      requests: 0.6, // 2M × 0.3 / 1M
      cpu: 0.1, // 5M ms × 0.02 / 1M
      duration: 0.00666668, // 400 GB-s × 0.0000166667
      egress: 0.27, // 3 GB of responses × 0.09; bytes in are free
      fetch: 0.02, // 1 GB out + 1 GB in, × 0.01
      kv: 25.5, // 1M × 0.5 + 2M × 5 + 3M × 5, / 1M
      buckets: 5.94, // 1M × 4.5 + 4M × 0.36, / 1M
      storage: 0.015, // 730 GB × 0.015 / 730 for the hour
    });
  });

  it("is 0 without prices and without usage", () => {
    assertCost({ ...cost(BUSY, FREE) }, { total: 0, requests: 0, cpu: 0, duration: 0, egress: 0, fetch: 0, kv: 0, buckets: 0, storage: 0 });
    assertCost({ ...cost(emptyUsage("idle"), PRICES) }, { total: 0, requests: 0, cpu: 0, duration: 0, egress: 0, fetch: 0, kv: 0, buckets: 0, storage: 0 });
  });

  it("costs a period as the sum of its hours: storage is billed for every hour, not once for the latest", () => {
    const quiet: UsageRow = { ...emptyUsage("busy"), hour: BUSY.hour + HOUR_MS, requests: 10, bytesStored: 730e9 };
    const period = periodCost([BUSY, quiet], PRICES);
    assert.equal(round9(period.storage), 0.03);
    assert.equal(round9(period.requests), round9(0.6 + 0.000003));
    assert.equal(round9(period.total), round9(32.45166668 + 0.000003 + 0.015));
    // What cost(sumUsage) would say: one hour of storage.
    assert.equal(round9(cost(sumUsage("busy", [BUSY, quiet]), PRICES).storage), 0.015);
  });

  it("rounds an answer's parts to 1e-9 and makes the total their sum; formats $ for USD, the code otherwise", () => {
    const one = roundedCost(cost({ ...emptyUsage("one"), requests: 1, cpuMs: 0.37 }, PRICES));
    assert.equal(one.requests, 0.0000003);
    assert.equal(one.cpu, 0.000000007);
    assert.equal(one.total, 0.000000307);
    assert.equal(formatCost(0.000123, "USD"), "$0.000123");
    assert.equal(formatCost(0.0000003, "USD"), "$0.0000003");
    assert.equal(formatCost(1.5, "EUR"), "1.500000 EUR");
    assert.equal(formatCost(0, "USD"), "$0.000000");
  });
});

describe("GET /v1/usage", () => {
  const file = join(dir, "invocations.db");
  let store: InvocationStore;
  const first = Math.floor(Date.now() / HOUR_MS) * HOUR_MS - 2 * HOUR_MS;
  const record = (script: string, time: number, cpuMs: number, bytesOut: number): InvocationRecord => ({
    id: 0,
    time,
    script,
    version: 1,
    trigger: "http",
    method: "GET",
    path: "/",
    event: null,
    status: 200,
    outcome: "ok",
    wallMs: 10,
    cpuMs,
    subrequests: 0,
    memoryMb: 128,
    bytesIn: 0,
    bytesOut,
    fetchBytesOut: 0,
    fetchBytesIn: 0,
    heapMb: 1,
    error: null,
    logs: [],
    droppedLogs: 0,
  });

  before(() => {
    store = new InvocationStore(file);
    store.write([record("a", first + 1000, 2, 1000), record("a", first + 2000, 3, 1000), record("a", first + HOUR_MS + 5, 5, 500), record("b", first + 10, 1, 0)]);
    store.setStored([{ script: "a", bytes: 2e9, objects: 3 }], first);
    store.setStored([{ script: "a", bytes: 4e9, objects: 5 }], first + HOUR_MS);
  });
  after(() => store.close());

  /** usageRoutes over the store (what it reads of the observer: its store, and flush). */
  async function usage(billing: PriceTable | null): Promise<Record<string, unknown> & { scripts: Record<string, unknown>[] }> {
    const observer = { store, flush: () => {} } as unknown as Observer;
    const response = await usageRoutes({ observer, billing }).request(`/?since=${new Date(first).toISOString()}`);
    assert.equal(response.status, 200);
    return (await response.json()) as Record<string, unknown> & { scripts: Record<string, unknown>[] };
  }

  it("answers as before, without a single cost field, when there is no price table", async () => {
    const answer = await usage(null);
    assert.deepEqual(Object.keys(answer), ["since", "until", "scripts"]);
    assert.ok(!JSON.stringify(answer).includes("cost"));
  });

  it("prices each script and hour, and gives the total of every script", async () => {
    const prices: PriceTable = { ...FREE, currency: "EUR", requests_per_million: 1e6, cpu_ms_per_million: 1e5, egress_gb: 1e3, storage_gb_month: 73 };
    const answer = await usage(prices);
    const [a, b] = answer.scripts as { script: string; cost: Record<string, unknown>; hours: { cost: Record<string, unknown> }[] }[];
    assert.equal(a!.script, "a");
    // Hour 1: 2 requests, 5 CPU-ms, 2000 bytes out, 2 GB stored (× 73 / 730 = 0.2); hour 2: 1, 5 ms, 500 bytes, 4 GB (0.4).
    assert.deepEqual(a!.hours[0]!.cost, { currency: "EUR", total: 2.702, requests: 2, cpu: 0.5, duration: 0, egress: 0.002, fetch: 0, kv: 0, buckets: 0, storage: 0.2 });
    assert.deepEqual(a!.hours[1]!.cost, { currency: "EUR", total: 1.9005, requests: 1, cpu: 0.5, duration: 0, egress: 0.0005, fetch: 0, kv: 0, buckets: 0, storage: 0.4 });
    assert.deepEqual(a!.cost, { currency: "EUR", total: 4.6025, requests: 3, cpu: 1, duration: 0, egress: 0.0025, fetch: 0, kv: 0, buckets: 0, storage: 0.6 });
    assert.deepEqual(b!.cost, { currency: "EUR", total: 1.1, requests: 1, cpu: 0.1, duration: 0, egress: 0, fetch: 0, kv: 0, buckets: 0, storage: 0 });
    assert.deepEqual(answer.total_cost, { currency: "EUR", total: 5.7025, requests: 4, cpu: 1.1, duration: 0, egress: 0.0025, fetch: 0, kv: 0, buckets: 0, storage: 0.6 });
  });
});

describe("atoll start --config", () => {
  let host: HostProcess | undefined;
  const dataDir = join(dir, "host");
  /** Example figures, not any provider's current prices; large enough that a few requests cost a readable sum. */
  const prices = { requests_per_million: 300_000, cpu_ms_per_million: 20_000, egress_gb: 1_000_000 };
  const configPath = configFile(`[billing]\nrequests_per_million = ${prices.requests_per_million}\ncpu_ms_per_million = ${prices.cpu_ms_per_million}\negress_gb = ${prices.egress_gb}\n`);

  before(async () => {
    host = await startHostProcess(dataDir, { workers: 1, args: ["--config", configPath] });
  });
  after(async () => {
    await host?.stop();
  });

  it("prints that usage is priced, and its usage has a cost per script: requests × price / 1M, CPU-ms × price / 1M, the parts adding up", async () => {
    assert.match(host!.output(), new RegExp(`billing: +usage priced in USD \\(\\[billing\\] of ${configPath.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\\)`));
    const control = (method: string, path: string, body?: unknown) =>
      fetch(`${host!.controlUrl}${path}`, { method, headers: { authorization: `Bearer ${host!.token}`, "content-type": "application/json" }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    const bundle = `export default { fetch() { let x = 0; for (let i = 0; i < 1e5; i++) x += i; return new Response("hello " + (x > 0)); } };`;
    const deployed = await control("PUT", "/v1/scripts/priced", { bundle, config: { name: "priced", main: "src/index.ts" } });
    assert.equal(deployed.status, 201, await deployed.text());
    const port = new URL(host!.dataUrl).port;
    for (let i = 0; i < 4; i++) {
      const response = await undiciFetch(`http://priced.localhost:${port}/`, { dispatcher: loopbackAgent });
      assert.equal(await response.text(), "hello true");
    }
    type Usage = { scripts: { requests: number; cpu_ms: number; bytes_out: number; cost: Record<string, number> & { currency: string } }[]; total_cost: Record<string, number> };
    let usage: Usage | undefined;
    // A record reaches the meter just after its response.
    for (let attempt = 0; attempt < 50; attempt++) {
      usage = (await (await control("GET", "/v1/usage?since=1h&script=priced")).json()) as Usage;
      if (usage.scripts[0]?.requests === 4) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const [priced] = usage!.scripts;
    assert.equal(priced!.requests, 4);
    const { currency, total, ...parts } = priced!.cost;
    assert.equal(currency, "USD");
    assert.equal(parts.requests, round9((priced!.requests * prices.requests_per_million) / 1e6));
    // cpu_ms is shown to 1e-3 ms: its cost to within that.
    assert.ok(Math.abs(parts.cpu! - (priced!.cpu_ms * prices.cpu_ms_per_million) / 1e6) <= (0.0005 * prices.cpu_ms_per_million) / 1e6 + 1e-9, `${parts.cpu} vs ${priced!.cpu_ms} ms`);
    assert.ok(parts.cpu! > 0);
    assert.equal(parts.egress, round9((priced!.bytes_out / 1e9) * prices.egress_gb));
    assert.equal(priced!.bytes_out, 4 * "hello true".length);
    assert.equal(total, round9(Object.values(parts).reduce((sum, part) => sum + part, 0)));
    assert.equal(usage!.total_cost.total, total);

    const cli = await atoll(["usage", "priced", "--since", "1h", ...controlArgs(host!)]);
    assert.equal(cli.code, 0, cli.stderr);
    assert.match(cli.stdout, /^SCRIPT +REQUESTS +ERRORS +CPU-MS +GB-S +IN +OUT +KV R\/W\/LIST +BUCKET A\/B +FETCH IN\/OUT +STORED +COST\npriced +4 +0 .* \$\d+\.\d{6,9}\n/);
    assert.ok(cli.stdout.includes(`\npriced `) && cli.stdout.includes(formatCost(total!, "USD")), cli.stdout);
    assert.match(cli.stdout, new RegExp(`\\ntotal cost \\${formatCost(total!, "USD")}: requests \\$1\\.200000, CPU \\$[\\d.]+, egress \\$0\\.040000\\n`));
    const hourly = await atoll(["usage", "priced", "--since", "1h", "--hourly", ...controlArgs(host!)]);
    assert.equal(hourly.code, 0, hourly.stderr);
    assert.match(hourly.stdout, /^SCRIPT +HOUR +REQUESTS .* COST\npriced +\S+ +4 /);

    // The dashboard's usage page: the same cost, and the total.
    const login = await fetch(`${host!.controlUrl}/dashboard/login`, {
      method: "POST",
      redirect: "manual",
      headers: { origin: host!.controlUrl, "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ token: host!.token }),
    });
    assert.equal(login.status, 303);
    const cookie = login.headers.get("set-cookie")!.split(";")[0]!;
    const page = await (await fetch(`${host!.controlUrl}/dashboard/usage?since=1h&script=priced`, { headers: { cookie } })).text();
    assert.match(page, /<th class="num">Cost<\/th>/);
    assert.match(page, new RegExp(`<td class="num" data-total="cost" title="requests \\$1\\.200000, CPU \\$[\\d.]+, egress \\$0\\.040000">\\${formatCost(total!, "USD")}</td>`));
    assert.ok(page.includes(`<strong data-total="cost">${formatCost(usage!.total_cost.total!, "USD")}</strong>`), page);
  });

  it("refuses a bad config file before anything starts: the message, exit status 1", async () => {
    const bad = configFile("[billing]\nrequests_per_million = -2\n");
    const refused = await atoll(["start", "--config", bad, "--data-dir", join(dir, "never"), "--port", "0", "--control-port", "0"]);
    assert.equal(refused.code, 1);
    assert.equal(refused.stdout, "");
    assert.equal(
      refused.stderr,
      `error: invalid host config:\n  \`billing.requests_per_million\` must be a number of at least 0 (the price per million requests; 0 is free) in ${bad} (got -2)\n`,
    );
    const missing = await atoll(["start", "--config", join(dir, "missing.toml"), "--data-dir", join(dir, "never"), "--port", "0", "--control-port", "0"]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^error: invalid host config:\n {2}no host config file at .*missing\.toml \(given to --config\): create it, or start without --config\n$/);
  });
});
