// GET /metrics's per-script label and the families fed from invocation
// records: the bound on script labels (ScriptLabels, HostMetrics with a small
// bound) and, through a real host, every trigger's counts by script, trigger
// and outcome in valid exposition text.
import { strict as assert } from "node:assert";
import { after, before, describe, it } from "node:test";
import { HostMetrics, OTHER_SCRIPTS, ScriptLabels } from "../host/metrics.js";
import type { InvocationRecord } from "../host/observe/records.js";
import { startTestHost, type TestHost } from "./support/test-host.js";

/** A record as the data plane makes one, with what a test sets. */
function recordOf(fields: Partial<InvocationRecord> & Pick<InvocationRecord, "script">): InvocationRecord {
  return {
    id: 1,
    time: Date.now(),
    version: 1,
    trigger: "http",
    method: "GET",
    path: "/",
    event: null,
    status: 200,
    outcome: "ok",
    wallMs: 2,
    cpuMs: 1,
    subrequests: 0,
    memoryMb: 128,
    bytesIn: 0,
    bytesOut: 10,
    fetchBytesOut: 0,
    fetchBytesIn: 0,
    heapMb: 1,
    error: null,
    logs: [],
    droppedLogs: 0,
    ...fields,
  };
}

/** The value of the one sample `series` (its name and labels, as written), or undefined. */
function sample(text: string, series: string): number | undefined {
  const line = text.split("\n").find((entry) => entry.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

/** Fails unless `text` is Prometheus exposition: HELP and TYPE once per family, every sample of a typed family. */
function assertExposition(text: string): void {
  const typed = new Map<string, string>();
  const helped = new Set<string>();
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const comment = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
    if (comment) {
      const [, kind, name, rest] = comment as unknown as [string, string, string, string];
      if (kind === "HELP") {
        assert.ok(!helped.has(name), `HELP ${name} twice`);
        helped.add(name);
      } else {
        assert.ok(!typed.has(name), `TYPE ${name} twice`);
        assert.match(rest, /^(counter|gauge|histogram|summary|untyped)$/);
        typed.set(name, rest);
      }
      continue;
    }
    // prom-client writes an unset gauge as `Nan`: Prometheus parses NaN and Inf in any case.
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})? (-?[0-9.]+(?:e[+-]?[0-9]+)?|nan|[+-]inf)$/i.exec(line);
    assert.ok(match, `not a sample line: ${JSON.stringify(line)}`);
    const name = match[1]!;
    const family = typed.has(name) ? name : name.replace(/_(bucket|sum|count)$/, "");
    assert.ok(typed.has(family), `${name} has no TYPE line`);
  }
}

describe("ScriptLabels", () => {
  it("keeps the first names, folds the later ones into _other, and never moves a kept one", () => {
    const labels = new ScriptLabels(3);
    assert.deepEqual(["a", "b", "c", "a"].map((name) => labels.label(name)), ["a", "b", "c", "a"]);
    assert.equal(labels.folded, 0);
    assert.equal(labels.label("d"), OTHER_SCRIPTS);
    assert.equal(labels.label("e"), OTHER_SCRIPTS);
    assert.equal(labels.label("d"), OTHER_SCRIPTS, "a folded name stays folded");
    assert.equal(labels.label("b"), "b", "a kept name keeps its label past the bound");
    assert.equal(labels.folded, 2, "distinct names, not lookups");
  });
});

describe("HostMetrics with a bound of 2", () => {
  it("counts every per-script family of the later scripts under _other, and says how many were folded", async () => {
    const metrics = new HostMetrics({ maxScripts: 2 });
    metrics.countRecord(recordOf({ script: "one" }));
    metrics.countRecord(recordOf({ script: "two", trigger: "cron", status: null, bytesOut: null }));
    metrics.countRecord(recordOf({ script: "three", outcome: "exception", status: 500 }));
    metrics.countRecord(recordOf({ script: "four", trigger: "storage", outcome: "cpu", cpuMs: null, heapMb: null, fetchBytesIn: 100, fetchBytesOut: 7 }));
    metrics.countRecord(recordOf({ script: "one", wallMs: 1000, memoryMb: 512, heapMb: 3 }));
    metrics.countInvocation("three", 500, "warm");
    metrics.observeHead("three", "warm", 0.002);
    metrics.terminations.inc({ script: "four", limit: "cpu_ms" });
    const { body } = await metrics.text();
    assertExposition(body);
    assert.equal(sample(body, 'atoll_function_invocations_total{script="one",trigger="http",outcome="ok"}'), 2);
    assert.equal(sample(body, 'atoll_function_invocations_total{script="two",trigger="cron",outcome="ok"}'), 1);
    assert.equal(sample(body, 'atoll_function_invocations_total{script="_other",trigger="http",outcome="exception"}'), 1);
    assert.equal(sample(body, 'atoll_function_invocations_total{script="_other",trigger="storage",outcome="cpu"}'), 1);
    assert.doesNotMatch(body, /script="(three|four)"/);
    assert.equal(sample(body, 'atoll_function_cpu_seconds_total{script="one"}'), 0.002);
    assert.equal(sample(body, 'atoll_function_cpu_seconds_total{script="_other"}'), 0.001, "a null cpuMs is skipped");
    assert.equal(sample(body, 'atoll_function_gb_seconds_total{script="one"}'), (0.002 * 128) / 1024 + (1 * 512) / 1024);
    assert.equal(sample(body, 'atoll_function_response_bytes_total{script="two"}'), 0);
    assert.equal(sample(body, 'atoll_function_response_bytes_total{script="_other"}'), 20);
    assert.equal(sample(body, 'atoll_function_fetch_bytes_total{script="_other",direction="in"}'), 100);
    assert.equal(sample(body, 'atoll_function_fetch_bytes_total{script="_other",direction="out"}'), 7);
    assert.equal(sample(body, 'atoll_function_heap_bytes{script="one"}'), 3 * 1048576, "the last record's");
    assert.equal(sample(body, 'atoll_function_heap_bytes{script="_other"}'), 1048576, "a null heapMb leaves the last one");
    assert.equal(sample(body, 'atoll_invocations_total{script="_other",status="500",start="warm"}'), 1);
    assert.equal(sample(body, 'atoll_invocation_head_seconds_count{script="_other",start="warm"}'), 1);
    assert.equal(sample(body, 'atoll_terminations_total{script="_other",limit="cpu_ms"}'), 1);
    assert.equal(sample(body, "atoll_metric_scripts_folded"), 2);
  });

  it("writes every family's HELP and TYPE before anything was counted", async () => {
    const { body } = await new HostMetrics().text();
    assertExposition(body);
    for (const family of ["atoll_function_invocations_total", "atoll_function_cpu_seconds_total", "atoll_function_gb_seconds_total", "atoll_function_response_bytes_total", "atoll_function_fetch_bytes_total", "atoll_function_heap_bytes"]) {
      assert.match(body, new RegExp(`^# TYPE ${family} (counter|gauge)$`, "m"));
    }
    assert.equal(sample(body, "atoll_metric_scripts_folded"), 0);
  });
});

describe("GET /metrics through a real host", () => {
  const BUNDLE = `export default {
    async fetch(request) {
      if (new URL(request.url).pathname === "/boom") throw new Error("boom on purpose");
      return new Response("ok ".repeat(100));
    },
  };`;
  let host: TestHost;

  before(async () => {
    host = await startTestHost();
    await host.deploy("alpha", BUNDLE);
    await host.deploy("beta", BUNDLE);
  });

  after(async () => {
    await host?.stop();
    host?.cleanUp();
  });

  /** The scrape once `ready` holds of it: records are made just after the response, so a scrape may come before the last. */
  async function scrapeUntil(ready: (text: string) => boolean): Promise<string> {
    const deadline = Date.now() + 5000;
    for (;;) {
      const response = await fetch(`${host.controlUrl}/metrics`);
      assert.equal(response.status, 200);
      const text = await response.text();
      if (ready(text) || Date.now() > deadline) return text;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  it("counts HTTP and direct invocations by script, trigger and outcome, with their CPU, GB-seconds and heap", async () => {
    for (let i = 0; i < 3; i++) assert.equal((await host.request("alpha.localhost", "/")).status, 200);
    assert.equal((await host.request("alpha.localhost", "/boom")).status, 500);
    for (let i = 0; i < 2; i++) assert.equal((await host.request("beta.localhost", "/")).status, 200);
    const invoked = await host.control("POST", "/v1/scripts/beta/invoke", { kind: "http", path: "/" });
    assert.equal(invoked.status, 200);
    await invoked.text();

    const text = await scrapeUntil((t) => sample(t, 'atoll_function_invocations_total{script="alpha",trigger="http",outcome="exception"}') === 1 && sample(t, 'atoll_function_invocations_total{script="beta",trigger="http",outcome="ok"}') === 2);
    assertExposition(text);
    const invocations = text
      .split("\n")
      .filter((line) => line.startsWith("atoll_function_invocations_total{"))
      .sort();
    assert.deepEqual(invocations, [
      'atoll_function_invocations_total{script="alpha",trigger="http",outcome="exception"} 1',
      'atoll_function_invocations_total{script="alpha",trigger="http",outcome="ok"} 3',
      'atoll_function_invocations_total{script="beta",trigger="http",outcome="ok"} 2',
      'atoll_function_invocations_total{script="beta",trigger="invoke",outcome="ok"} 1',
    ]);
    for (const script of ["alpha", "beta"]) {
      assert.ok(sample(text, `atoll_function_cpu_seconds_total{script="${script}"}`)! > 0, `${script}'s CPU seconds`);
      assert.ok(sample(text, `atoll_function_gb_seconds_total{script="${script}"}`)! > 0, `${script}'s GB-seconds`);
      assert.ok(sample(text, `atoll_function_heap_bytes{script="${script}"}`)! > 0, `${script}'s heap`);
      assert.equal(sample(text, `atoll_function_fetch_bytes_total{script="${script}",direction="out"}`), 0);
    }
    // Three 300-byte bodies (the one that threw sent the host's error page, counted as well).
    assert.ok(sample(text, 'atoll_function_response_bytes_total{script="alpha"}')! >= 900);
    assert.equal(sample(text, "atoll_metric_scripts_folded"), 0);
  });
});
