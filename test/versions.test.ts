// Versions and rollback through a real host: every upload is an immutable
// version, `GET …/versions` lists them, a rollback moves the active pointer
// back without uploading (re-checking route claims), and the history that
// says what "the previous version" is survives a restart.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { startTestHost, type TestHost } from "./support/test-host.js";
import { atoll, controlArgs } from "./support/cli.js";

const answering = (text: string) => `export default { fetch: () => new Response(${JSON.stringify(text)}) };`;

interface VersionList {
  active_version: number;
  canary: unknown;
  previous_version: number | null;
  versions: { version: number; created_at: string; message: string | null; bundle_hash: string; bundle_bytes: number; active: boolean; canary: boolean }[];
  next_before: number | null;
}

interface ErrorAnswer {
  error: { code: string; message: string };
}

let host: TestHost;
before(async () => {
  host = await startTestHost();
});
after(async () => {
  await host.stop();
  host.cleanUp();
});

async function upload(name: string, bundle: string, extra: { message?: string; routes?: string[] } = {}): Promise<number> {
  const response = await host.control("PUT", `/v1/scripts/${name}`, {
    bundle,
    config: { name, main: "src/index.ts", routes: extra.routes ?? [] },
    ...(extra.message !== undefined ? { message: extra.message } : {}),
  });
  const answer = (await response.json()) as { version: number };
  assert.equal(response.status, 201, JSON.stringify(answer));
  return answer.version;
}

async function versions(name: string, query = ""): Promise<VersionList> {
  const response = await host.control("GET", `/v1/scripts/${name}/versions${query}`);
  assert.equal(response.status, 200);
  return (await response.json()) as VersionList;
}

async function rollback(name: string, body?: unknown): Promise<Response> {
  return host.control("POST", `/v1/scripts/${name}/rollback`, body);
}

async function answer(name: string): Promise<{ text: string; version: string | null }> {
  const response = await host.request(`${name}.localhost`, "/");
  return { text: await response.text(), version: response.headers.get("x-atoll-version") };
}

test("versions are listed newest first, with their hash, size, message and the active marker, a page at a time", async () => {
  for (const [index, text] of ["one", "two", "three"].entries()) await upload("lister", answering(text), { message: `release ${index + 1}` });
  const list = await versions("lister");
  assert.equal(list.active_version, 3);
  assert.equal(list.canary, null);
  assert.equal(list.previous_version, 2);
  assert.deepEqual(
    list.versions.map((v) => [v.version, v.message, v.active, v.canary]),
    [
      [3, "release 3", true, false],
      [2, "release 2", false, false],
      [1, "release 1", false, false],
    ],
  );
  assert.equal(list.versions[0]!.bundle_hash, createHash("sha256").update(answering("three")).digest("hex"));
  assert.equal(list.versions[0]!.bundle_bytes, Buffer.byteLength(answering("three")));
  assert.ok(Date.parse(list.versions[0]!.created_at) >= Date.parse(list.versions[2]!.created_at));
  assert.equal(list.next_before, null);

  const first = await versions("lister", "?limit=2");
  assert.deepEqual(first.versions.map((v) => v.version), [3, 2]);
  assert.equal(first.next_before, 2);
  const second = await versions("lister", `?limit=2&before=${first.next_before}`);
  assert.deepEqual(second.versions.map((v) => v.version), [1]);
  assert.equal(second.next_before, null);

  for (const [query, status] of [["?limit=0", 400], ["?limit=101", 400], ["?before=x", 400]] as const) {
    assert.equal((await host.control("GET", `/v1/scripts/lister/versions${query}`)).status, status, query);
  }
  const missing = await host.control("GET", "/v1/scripts/nobody/versions");
  assert.equal(missing.status, 404);
});

test("a rollback returns to the version active before the current one, and a second one comes back", async () => {
  await upload("toggler", answering("one"));
  await upload("toggler", answering("two"));
  assert.deepEqual(await answer("toggler"), { text: "two", version: "2" });

  const response = await rollback("toggler");
  assert.equal(response.status, 200);
  const change = (await response.json()) as { kind: string; active_version: number; previous_version: number; ended_canary: unknown };
  assert.deepEqual([change.kind, change.active_version, change.previous_version, change.ended_canary], ["rollback", 1, 2, null]);
  assert.deepEqual(await answer("toggler"), { text: "one", version: "1" });
  const info = (await (await host.control("GET", "/v1/scripts/toggler")).json()) as { active_version: number; versions: number };
  assert.deepEqual([info.active_version, info.versions], [1, 2]);
  assert.ok(host.logs.includes("rolled back toggler to v1 (was v2)"), host.logs.join("\n"));

  // "The previous one" is the version active before this rollback: version 2.
  assert.equal(((await (await rollback("toggler")).json()) as { active_version: number }).active_version, 2);
  assert.deepEqual(await answer("toggler"), { text: "two", version: "2" });
  // A new upload still gets the next number, never a reused one.
  assert.equal(await upload("toggler", answering("three")), 3);
});

test("a rollback to a named version; unknown versions, the active one and nothing to go back to are clear errors", async () => {
  for (const text of ["one", "two", "three"]) await upload("picker", answering(text));
  const response = await rollback("picker", { version: 1 });
  assert.equal(response.status, 200);
  assert.deepEqual(await answer("picker"), { text: "one", version: "1" });

  const unknown = await rollback("picker", { version: 99 });
  assert.equal(unknown.status, 404);
  const unknownError = ((await unknown.json()) as ErrorAnswer).error;
  assert.equal(unknownError.code, "ATOLL_NOT_FOUND");
  assert.match(unknownError.message, /script "picker" has no version 99: `atoll versions picker` lists/);

  const same = await rollback("picker", { version: 1 });
  assert.equal(same.status, 409);
  assert.equal(((await same.json()) as ErrorAnswer).error.code, "ATOLL_ALREADY_ACTIVE");

  await upload("single", answering("only"));
  const nothing = await rollback("single");
  assert.equal(nothing.status, 409);
  const nothingError = ((await nothing.json()) as ErrorAnswer).error;
  assert.equal(nothingError.code, "ATOLL_NO_PREVIOUS_VERSION");
  assert.match(nothingError.message, /nothing to roll back to/);

  assert.equal((await rollback("ghost")).status, 404);
  for (const body of [{ version: "two" }, { version: 0 }, { version: 1.5 }]) {
    const bad = await rollback("picker", body);
    assert.equal(bad.status, 400, JSON.stringify(body));
    assert.match(((await bad.json()) as ErrorAnswer).error.message, /"version" must be a version number/);
  }
  const notJson = await fetch(`${host.controlUrl}/v1/scripts/picker/rollback`, { method: "POST", headers: { authorization: `Bearer ${host.token}` }, body: "{nope" });
  assert.equal(notJson.status, 400);
  assert.deepEqual(await answer("picker"), { text: "one", version: "1" });
});

test("a rollback re-checks route claims: an old version's route taken by another script since is a 409", async () => {
  await upload("mover", answering("mover one"), { routes: ["/shared/*"] });
  await upload("mover", answering("mover two"), { routes: ["/elsewhere/*"] });
  await upload("claimer", answering("claimer"), { routes: ["/shared/*"] });
  const response = await rollback("mover");
  assert.equal(response.status, 409);
  const { error } = (await response.json()) as ErrorAnswer;
  assert.equal(error.code, "ATOLL_ROUTE_CONFLICT");
  assert.match(error.message, /"\/shared\/\*" is already claimed by script "claimer"/);
  assert.equal(await (await host.request("any.test", "/shared/x")).text(), "claimer");
  assert.equal(await (await host.request("any.test", "/elsewhere/x")).text(), "mover two");
  // Once the route is free again, the rollback goes through and the route follows it.
  assert.equal((await host.control("DELETE", "/v1/scripts/claimer")).status, 200);
  assert.equal((await rollback("mover")).status, 200);
  assert.equal(await (await host.request("any.test", "/shared/x")).text(), "mover one");
  assert.equal((await host.request("any.test", "/elsewhere/x")).status, 404);
});

test("`atoll versions` and `atoll rollback` through the CLI", async () => {
  await upload("clied", answering("one"), { message: "first cut" });
  await upload("clied", answering("two"));
  const listed = await atoll(["versions", "clied", ...controlArgs(host)]);
  assert.equal(listed.code, 0, listed.stderr);
  const lines = listed.stdout.split("\n");
  assert.match(lines[0]!, /^VERSION +STATUS +CREATED +SIZE +HASH +MESSAGE$/);
  assert.match(lines[1]!, /^2 +active +\d{4}-\d\d-\d\dT[\d:.]+Z +\d+ B +[0-9a-f]{12} *$/);
  assert.match(lines[2]!, /^1 +- +\S+ +\d+ B +[0-9a-f]{12} +first cut$/);
  assert.match(listed.stdout, /`atoll rollback clied` goes back to version 1\./);
  const json = await atoll(["versions", "clied", "--json", "--limit", "1", ...controlArgs(host)]);
  const page = JSON.parse(json.stdout) as VersionList;
  assert.deepEqual([page.versions.length, page.next_before], [1, 2]);

  const rolled = await atoll(["rollback", "clied", ...controlArgs(host)]);
  assert.equal(rolled.code, 0, rolled.stderr);
  assert.equal(rolled.stdout, "Rolled back clied to version 1 (was version 2)\n");
  assert.deepEqual(await answer("clied"), { text: "one", version: "1" });
  const named = await atoll(["rollback", "clied", "2", ...controlArgs(host)]);
  assert.equal(named.stdout, "Rolled back clied to version 2 (was version 1)\n");
  const unknown = await atoll(["rollback", "clied", "7", ...controlArgs(host)]);
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /^error: script "clied" has no version 7/);
  const badArgument = await atoll(["rollback", "clied", "latest", ...controlArgs(host)]);
  assert.equal(badArgument.code, 1);
  assert.match(badArgument.stderr, /expected a version number/);
});

test("a rollback and the history behind it survive a host restart", async () => {
  const first = await startTestHost();
  try {
    for (const text of ["one", "two", "three"]) await first.deploy("durable", answering(text));
    assert.equal((await first.control("POST", "/v1/scripts/durable/rollback", { version: 1 })).status, 200);
    await first.stop();
    const second = await startTestHost({ dataDir: first.dataDir });
    try {
      const response = await second.request("durable.localhost", "/");
      assert.equal(await response.text(), "one");
      assert.equal(response.headers.get("x-atoll-version"), "1");
      const list = (await (await second.control("GET", "/v1/scripts/durable/versions")).json()) as VersionList;
      assert.deepEqual([list.active_version, list.previous_version], [1, 3]);
      // The previous version is still the one active before the rollback.
      assert.equal(((await (await second.control("POST", "/v1/scripts/durable/rollback")).json()) as { active_version: number }).active_version, 3);
      assert.equal(await (await second.request("durable.localhost", "/")).text(), "three");
    } finally {
      await second.stop();
    }
  } finally {
    first.cleanUp();
  }
});

test("an upload equal to the active version makes no version: 200 with unchanged, and a change of bundle, config or a canary makes one", async () => {
  const put = (bundle: string, config: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) =>
    host.control("PUT", "/v1/scripts/same", { bundle, config: { name: "same", main: "src/index.ts", ...config }, ...extra });
  assert.equal(await upload("same", answering("one")), 1);
  const again = await put(answering("one"), {}, { message: "a new message is not a change" });
  assert.equal(again.status, 200);
  const body = (await again.json()) as { version: number; unchanged: boolean; urls: string[] };
  assert.equal(body.version, 1);
  assert.equal(body.unchanged, true);
  assert.ok(body.urls.length > 0);
  assert.equal((await versions("same")).versions.length, 1);
  await host.waitForLog(/^same@v1 unchanged: the upload equals the active version, no version made$/);

  const newConfig = await put(answering("one"), { vars: { MODE: "x" } });
  assert.equal(newConfig.status, 201);
  assert.equal(((await newConfig.json()) as { version: number }).version, 2);
  const newBundle = await put(answering("two"), { vars: { MODE: "x" } });
  assert.equal(newBundle.status, 201);
  // The same bundle and config as the active version, asked as a gradual deploy: a canary of it is a version of its own.
  const canary = await put(answering("two"), { vars: { MODE: "x" } }, { percent: 10 });
  assert.equal(canary.status, 201);
  assert.equal((await versions("same")).versions.length, 4);
  assert.equal((await answer("same")).text, "two");
});

test("unchanged is judged against the active version alone: the config's key order does not count, a canary in progress or a rolled-back version does", async () => {
  const put = async (bundle: string, vars: Record<string, string>, extra: Record<string, unknown> = {}) => {
    const response = await host.control("PUT", "/v1/scripts/judged", { bundle, config: { name: "judged", main: "src/index.ts", vars }, ...extra });
    const body = (await response.json()) as { version: number; unchanged: boolean };
    return { status: response.status, version: body.version, unchanged: body.unchanged };
  };
  assert.deepEqual(await put(answering("one"), { A: "1", B: "2" }), { status: 201, version: 1, unchanged: false });
  // The same vars in another order (TOML tables are unordered): no change.
  assert.deepEqual(await put(answering("one"), { B: "2", A: "1" }), { status: 200, version: 1, unchanged: true });
  // A secret is not part of a version: putting one changes nothing an upload is compared with.
  assert.equal((await host.control("PUT", "/v1/scripts/judged/secrets/TOKEN", { value: "s3cret" })).status, 201);
  assert.deepEqual(await put(answering("one"), { A: "1", B: "2" }), { status: 200, version: 1, unchanged: true });

  // While a canary runs, an upload equal to the active version is a decision (everyone back on it): a version, and the canary ends.
  assert.deepEqual(await put(answering("two"), { A: "1", B: "2" }, { percent: 50 }), { status: 201, version: 2, unchanged: false });
  assert.deepEqual(await put(answering("one"), { A: "1", B: "2" }), { status: 201, version: 3, unchanged: false });
  const afterCanary = await versions("judged");
  assert.equal(afterCanary.canary, null);
  assert.equal(afterCanary.active_version, 3);

  // After a rollback the active version is the older one: an upload of it is unchanged, one of the version rolled back from is not.
  assert.deepEqual(await put(answering("three"), { A: "1", B: "2" }), { status: 201, version: 4, unchanged: false });
  assert.equal((await rollback("judged")).status, 200);
  assert.deepEqual(await put(answering("one"), { A: "1", B: "2" }), { status: 200, version: 3, unchanged: true });
  assert.deepEqual(await put(answering("three"), { A: "1", B: "2" }), { status: 201, version: 5, unchanged: false });
  assert.equal((await versions("judged")).versions.length, 5);
});
