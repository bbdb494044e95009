// Direct invocation through a real host: `POST /v1/scripts/:name/invoke` and
// `atoll invoke` run an HTTP request, a cron tick or a bucket event through
// the active version now and answer with the response or outcome and that
// invocation's logs; bad requests, a missing handler and a config whose
// triggers the module cannot serve get clear errors.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { atoll, controlArgs } from "./support/cli.js";
import { startTestHost, type TestHost } from "./support/test-host.js";

const EVERYTHING = `export default {
  async fetch(request, env, ctx) {
    const body = await request.text();
    console.log("fetch", request.method, new URL(request.url).pathname, request.headers.get("x-token"), body.length);
    ctx.waitUntil(new Promise((resolve) => setTimeout(resolve, 50)).then(() => console.info("after the response")));
    if (new URL(request.url).pathname === "/throw") throw new Error("fetch went wrong");
    if (new URL(request.url).pathname === "/binary") return new Response(new Uint8Array([0, 255, 1]));
    return new Response("you sent " + body, { status: 201, headers: { "x-answer": "42" } });
  },
  async scheduled(controller) {
    console.log("tick", controller.cron, typeof controller.scheduledTime);
    if (controller.cron === "0 0 29 2 *") throw new TypeError("no leap day today");
  },
  async storage(event) {
    console.warn("storage", event.action, event.bucket, event.key, event.size, event.etag);
  },
};`;

const ONLY_FETCH = `export default { fetch() { return new Response("only fetch"); } };`;

// These tests are about triggers, not CPU: a generous cpu_ms keeps a loaded CI machine from turning a busy cold start into a failed run.
const GENEROUS = { cpu_ms: 1000 };

interface Answer {
  name: string;
  version: number;
  kind: string;
  event: Record<string, unknown>;
  outcome: "ok" | "error";
  cold: boolean;
  error: { code: string; message: string; stack?: string } | null;
  response: { status: number; headers: [string, string][]; body: string; body_encoding: string } | null;
  logs: { level: string; message: string }[];
}

let host: TestHost;
let dir: string;
before(async () => {
  host = await startTestHost();
  dir = await mkdtemp(join(tmpdir(), "atoll-invoke-"));
  await host.deploy("everything", EVERYTHING, { triggers: { crons: ["0 4 * * *"] }, limits: GENEROUS });
  await host.deploy("only-fetch", ONLY_FETCH);
});
after(async () => {
  await host.stop();
  host.cleanUp();
  await rm(dir, { recursive: true, force: true });
});

async function invoke(script: string, body: unknown): Promise<{ status: number; answer: Answer & { error?: unknown } }> {
  const response = await host.control("POST", `/v1/scripts/${script}/invoke`, body);
  return { status: response.status, answer: (await response.json()) as Answer };
}

test("API: an HTTP invocation answers the response and every log line of that invocation, waitUntil included", async () => {
  const { status, answer } = await invoke("everything", { kind: "http", method: "PUT", path: "/items?x=1", headers: { "x-token": "t0k" }, body: "hello" });
  assert.equal(status, 200);
  assert.equal(answer.outcome, "ok");
  assert.equal(answer.version, 1);
  assert.deepEqual(answer.response && { ...answer.response, headers: answer.response.headers.filter(([name]) => name === "x-answer") }, {
    status: 201,
    status_text: "",
    headers: [["x-answer", "42"]],
    body: "you sent hello",
    body_encoding: "text",
    truncated: false,
  });
  assert.deepEqual(
    answer.logs.map(({ level, message }) => `${level}: ${message}`),
    ["log: fetch PUT /items t0k 5", "info: after the response"],
  );
  const binary = await invoke("everything", { kind: "http", path: "/binary" });
  assert.equal(binary.answer.response?.body_encoding, "base64");
  assert.equal(binary.answer.response?.body, Buffer.from([0, 255, 1]).toString("base64"));
  const base64 = await invoke("everything", { kind: "http", method: "POST", body: Buffer.from("bytes!").toString("base64"), encoding: "base64" });
  assert.equal(base64.answer.response?.body, "you sent bytes!");
});

test("API: a thrown error is the outcome, with its stack; scheduled and storage invocations run their handlers", async () => {
  const threw = await invoke("everything", { kind: "http", path: "/throw" });
  assert.equal(threw.status, 200);
  assert.equal(threw.answer.outcome, "error");
  assert.equal(threw.answer.error?.code, "ATOLL_SCRIPT_THREW");
  assert.equal(threw.answer.error?.message, "fetch went wrong");
  assert.match(threw.answer.error?.stack ?? "", /Error: fetch went wrong\n\s+at Object\.fetch/);

  const tick = await invoke("everything", { kind: "scheduled" });
  assert.equal(tick.answer.outcome, "ok");
  assert.equal(tick.answer.event["cron"], "0 4 * * *", "the script's first schedule by default");
  assert.deepEqual(tick.answer.logs.map((line) => line.message), ["tick 0 4 * * * number"]);

  const leap = await invoke("everything", { kind: "scheduled", cron: "0 0 29 2 *" });
  assert.equal(leap.answer.outcome, "error");
  assert.deepEqual(leap.answer.error && { code: leap.answer.error.code, message: leap.answer.error.message }, { code: "ATOLL_SCRIPT_THREW", message: "no leap day today" });

  const change = await invoke("everything", { kind: "storage", action: "delete", bucket: "uploads", key: "a/b.txt", size: 12, etag: "abc" });
  assert.equal(change.answer.outcome, "ok");
  assert.deepEqual(change.answer.logs, [{ level: "warn", message: "storage delete uploads a/b.txt 12 abc", time: change.answer.logs[0]!["time" as "level"] }]);
});

test("API: a missing handler, a bad cron, a bad kind and an unknown script are clear errors", async () => {
  const noHandler = await invoke("only-fetch", { kind: "scheduled", cron: "* * * * *" });
  assert.equal(noHandler.answer.outcome, "error");
  assert.match(noHandler.answer.error!.message, /^this script has no scheduled handler: cron triggers and `atoll invoke --cron` call export default \{ scheduled\(controller, env, ctx\)/);
  const noStorage = await invoke("only-fetch", { kind: "storage", bucket: "b", key: "k" });
  assert.match(noStorage.answer.error!.message, /^this script has no storage handler/);

  const badCron = await invoke("everything", { kind: "scheduled", cron: "*/61 * * * *" });
  assert.equal(badCron.status, 400);
  assert.deepEqual(badCron.answer.error, {
    code: "ATOLL_BAD_CRON",
    message: `the schedule "*/61 * * * *" is not a cron expression: syntax error, max steps for part is (60) (write five fields: minute hour day-of-month month day-of-week, six with a seconds field first, or @hourly, @daily …)`,
  });
  const badKind = await invoke("everything", { kind: "queue" });
  assert.equal(badKind.status, 400);
  assert.match((badKind.answer.error as { message: string }).message, /^"kind" must be "http", "scheduled" or "storage", got "queue": the body must be JSON/);
  const missing = await invoke("nobody", { kind: "http" });
  assert.equal(missing.status, 404);
  const tooBig = await invoke("everything", { kind: "http", method: "POST", body: "x".repeat(1024 * 1024 + 1) });
  assert.equal(tooBig.status, 413);
  assert.equal((tooBig.answer.error as { code: string }).code, "ATOLL_INVOKE_TOO_LARGE");
});

test("CLI: atoll invoke prints the response and the logs; --data @file, --header and --method make the request", async () => {
  const file = join(dir, "body.txt");
  await writeFile(file, "from a file");
  const run = await atoll(["invoke", "everything", "--path", "/upload", "--method", "POST", "--data", `@${file}`, "--header", "x-token: abc", ...controlArgs(host)]);
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /^HTTP 201 {2}\(version 1, (cold|warm), [\d.]+ ms\)\n/);
  assert.match(run.stdout, /\nx-answer: 42\n/);
  assert.match(run.stdout, /\n\nyou sent from a file\n--- logs \(2\) ---\nlog: fetch POST \/upload abc 11\ninfo: after the response\n$/);

  const failed = await atoll(["invoke", "everything", "--path", "/throw", ...controlArgs(host)]);
  assert.equal(failed.code, 1);
  assert.match(failed.stdout, /^GET \/throw: failed \(version 1, \w+, [\d.]+ ms\): ATOLL_SCRIPT_THREW: fetch went wrong\n {2}Error: fetch went wrong\n/);
});

test("CLI: --cron runs one tick and --storage one bucket event, with their logs; --async queues; errors are clear", async () => {
  const tick = await atoll(["invoke", "everything", "--cron", "*/5 * * * *", ...controlArgs(host)]);
  assert.equal(tick.code, 0, tick.stderr);
  assert.match(tick.stdout, /^scheduled "\*\/5 \* \* \* \*": ok {2}\(version 1, \w+, [\d.]+ ms\)\n--- logs \(1\) ---\nlog: tick \*\/5 \* \* \* \* number\n$/);

  const change = await atoll(["invoke", "everything", "--storage", "put:uploads/images/cat.png", ...controlArgs(host)]);
  assert.equal(change.code, 0, change.stderr);
  assert.match(change.stdout, /^storage put uploads\/images\/cat\.png: ok {2}.*\n--- logs \(1\) ---\nwarn: storage put uploads images\/cat\.png 0 \n$/);

  const queued = await atoll(["invoke", "everything", "--cron", "--async", ...controlArgs(host)]);
  assert.equal(queued.code, 0, queued.stderr);
  assert.match(queued.stdout, /^Queued scheduled invocation #\d+ of everything: it runs at least once; a failure is retried, then dead-lettered \(atoll dlq list everything\)\n$/);

  const json = await atoll(["invoke", "everything", "--cron", "0 0 29 2 *", "--json", ...controlArgs(host)]);
  assert.equal(json.code, 1);
  assert.equal((JSON.parse(json.stdout) as Answer).error?.message, "no leap day today");

  const mixed = await atoll(["invoke", "everything", "--cron", "--path", "/x", ...controlArgs(host)]);
  assert.equal(mixed.code, 1);
  assert.match(mixed.stderr, /one invocation is one kind of event: HTTP options \(--path, --method, --data, --header\), --cron cannot go together/);
  const badStorage = await atoll(["invoke", "everything", "--storage", "uploads/cat.png", ...controlArgs(host)]);
  assert.equal(badStorage.code, 1);
  assert.match(badStorage.stderr, /expected action:bucket\/key, e\.g\. put:uploads\/images\/cat\.png/);
  const badCron = await atoll(["invoke", "everything", "--cron", "every hour", ...controlArgs(host)]);
  assert.equal(badCron.code, 1);
  assert.match(badCron.stderr, /^error: the schedule "every hour" is not a cron expression: invalid configuration format/);
});

test("deploys refuse triggers the module has no handler for", async () => {
  const crons = await host.control("PUT", "/v1/scripts/only-fetch", { bundle: ONLY_FETCH, config: { name: "only-fetch", main: "src/index.ts", triggers: { crons: ["0 * * * *"] } } });
  assert.equal(crons.status, 400);
  assert.deepEqual(await crons.json(), {
    error: {
      code: "ATOLL_NO_HANDLER",
      handler: "scheduled",
      message:
        "[triggers] crons schedules \"0 * * * *\", but the module's default export has no scheduled handler: add one (export default { async scheduled(controller, env, ctx) { ... } }) or remove the trigger from atoll.toml",
    },
  });
  const storage = await host.control("PUT", "/v1/scripts/only-fetch", {
    bundle: ONLY_FETCH,
    config: { name: "only-fetch", main: "src/index.ts", triggers: { storage: [{ bucket: "uploads" }] } },
  });
  assert.equal(storage.status, 400);
  assert.equal(((await storage.json()) as { error: { code: string } }).error.code, "ATOLL_NO_HANDLER");
  const badConfig = await host.control("PUT", "/v1/scripts/only-fetch", {
    bundle: ONLY_FETCH,
    config: { name: "only-fetch", main: "src/index.ts", triggers: { crons: ["0 25 * * *"], timezone: "Europe/Pariss" } },
  });
  assert.equal(badConfig.status, 400);
  assert.deepEqual(((await badConfig.json()) as { error: { problems: string[] } }).error.problems, [
    '`triggers.timezone` is not a time zone in the uploaded config (got "Europe/Pariss"): use an IANA name such as "UTC" or "Europe/Paris" (did you mean "Europe/Paris"?)',
    '`triggers.crons[0]` is not a cron expression in the uploaded config (got "0 25 * * *"): invalid value for hour: 25 (write five fields: minute hour day-of-month month day-of-week, six with a seconds field first, or @hourly, @daily …)',
  ]);
});
