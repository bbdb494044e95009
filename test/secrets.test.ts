// Secrets through a real host: put from stdin with the CLI, listed by name
// only, seen by the function in env next to its vars, sealed in the database
// (no plaintext in its file), seen by the very next request after a change,
// never in a log; and a wrong or missing secrets key stops the host clearly.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync, statSync, writeFileSync, rmSync, existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import Database from "better-sqlite3";
import { SecretBox } from "../host/store/secrets.js";
import { startTestHost, type TestHost } from "./support/test-host.js";
import { atoll, controlArgs } from "./support/cli.js";

/** Answers /env/NAME with env.NAME (JSON), /names with the names in env. */
const ENV_READER = `export default { fetch(request, env) {
  const path = new URL(request.url).pathname;
  if (path === "/names") return Response.json(Object.keys(env).sort());
  const name = path.slice("/env/".length);
  return Response.json({ present: name in env, value: env[name] ?? null });
} };`;

/** Every secret value these tests put: none may ever show up in a log, an answer or the database file. */
const VALUES = {
  first: "s3cret-first-value-7f1c",
  second: "s3cret-second-value-9b2e",
  api: "s3cret-api-token-44d0",
};

interface ErrorAnswer {
  error: { code: string; message: string };
}

let host: TestHost;
before(async () => {
  host = await startTestHost();
  await host.deploy("vault", ENV_READER, { vars: { GREETING: "hello", LIMIT: 3 } });
});
after(async () => {
  await host.stop();
  host.cleanUp();
});

async function envOf(script: string, name: string): Promise<{ present: boolean; value: unknown }> {
  const response = await host.request(`${script}.localhost`, `/env/${name}`);
  assert.equal(response.status, 200);
  return (await response.json()) as { present: boolean; value: unknown };
}

test("`atoll secret put` reads the value from stdin; the function sees it in env next to its vars", async () => {
  const run = await atoll(["secret", "put", "vault", "API_TOKEN", ...controlArgs(host)], { input: `${VALUES.first}\n` });
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.stdout, "Added secret API_TOKEN of vault; its next requests see it\n");
  assert.doesNotMatch(run.stdout + run.stderr, new RegExp(VALUES.first));
  // One trailing newline (what echo adds) is not part of the value.
  assert.deepEqual(await envOf("vault", "API_TOKEN"), { present: true, value: VALUES.first });
  assert.deepEqual(await envOf("vault", "GREETING"), { present: true, value: "hello" });
  assert.deepEqual(await (await host.request("vault.localhost", "/names")).json(), ["API_TOKEN", "GREETING", "LIMIT"]);

  const replaced = await atoll(["secret", "put", "vault", "API_TOKEN", ...controlArgs(host)], { input: VALUES.second });
  assert.equal(replaced.stdout, "Replaced secret API_TOKEN of vault; its next requests see it\n");
  assert.deepEqual(await envOf("vault", "API_TOKEN"), { present: true, value: VALUES.second });
});

test("secrets are listed by name and time only, by the API and the CLI", async () => {
  const response = await host.control("PUT", "/v1/scripts/vault/secrets/OTHER_KEY", { value: VALUES.api });
  assert.equal(response.status, 201);
  const listed = await host.control("GET", "/v1/scripts/vault/secrets");
  const text = await listed.text();
  const body = JSON.parse(text) as { secrets: { key: string; updated_at: string }[] };
  assert.deepEqual(body.secrets.map((secret) => Object.keys(secret).sort()), [["key", "updated_at"], ["key", "updated_at"]]);
  assert.deepEqual(body.secrets.map((secret) => secret.key), ["API_TOKEN", "OTHER_KEY"]);
  const script = await (await host.control("GET", "/v1/scripts/vault")).text();
  const versions = await (await host.control("GET", "/v1/scripts/vault/versions")).text();
  for (const value of Object.values(VALUES)) for (const answer of [text, script, versions]) assert.ok(!answer.includes(value));

  const run = await atoll(["secret", "list", "vault", ...controlArgs(host)]);
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /^KEY +UPDATED\nAPI_TOKEN +\d{4}-\d\d-\d\dT[\d:.]+Z\nOTHER_KEY +\S+\n$/);
  const json = await atoll(["secret", "list", "vault", "--json", ...controlArgs(host)]);
  assert.deepEqual((JSON.parse(json.stdout) as { key: string }[]).map((secret) => secret.key), ["API_TOKEN", "OTHER_KEY"]);
});

test("a changed or deleted secret is seen by the very next request (no isolate keeps the old value)", async () => {
  await host.deploy("rotating", ENV_READER);
  for (let round = 0; round < 3; round++) {
    const value = `rotated-${round}-${randomBytes(6).toString("hex")}`;
    assert.equal((await host.control("PUT", "/v1/scripts/rotating/secrets/TOKEN", { value })).status, round === 0 ? 201 : 200);
    assert.deepEqual(await envOf("rotating", "TOKEN"), { present: true, value });
    // Warm: the same isolate answers again with the same value.
    assert.deepEqual(await envOf("rotating", "TOKEN"), { present: true, value });
  }
  const run = await atoll(["secret", "delete", "rotating", "TOKEN", ...controlArgs(host)]);
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.stdout, "Deleted secret TOKEN of rotating\n");
  assert.deepEqual(await envOf("rotating", "TOKEN"), { present: false, value: null });
  const again = await host.control("DELETE", "/v1/scripts/rotating/secrets/TOKEN");
  assert.equal(again.status, 404);
  // The version did not change: only its env did.
  assert.equal((await host.request("rotating.localhost", "/names")).headers.get("x-atoll-version"), "1");

  // Deleting the script deletes its secrets: a new script of the same name starts without them.
  assert.equal((await host.control("PUT", "/v1/scripts/rotating/secrets/LEFTOVER", { value: "x" })).status, 201);
  assert.equal((await host.control("DELETE", "/v1/scripts/rotating")).status, 200);
  await host.deploy("rotating", ENV_READER);
  assert.deepEqual(((await (await host.control("GET", "/v1/scripts/rotating/secrets")).json()) as { secrets: unknown[] }).secrets, []);
  assert.deepEqual(await envOf("rotating", "LEFTOVER"), { present: false, value: null });
});

test("bad secret input gets clear errors: empty value, bad name, no such script, too large", async () => {
  const empty = await atoll(["secret", "put", "vault", "EMPTY", ...controlArgs(host)], { input: "\n" });
  assert.equal(empty.code, 1);
  assert.match(empty.stderr, /^error: the secret's value is empty/);
  const apiEmpty = await host.control("PUT", "/v1/scripts/vault/secrets/EMPTY", { value: "" });
  assert.equal(apiEmpty.status, 400);
  assert.match(((await apiEmpty.json()) as ErrorAnswer).error.message, /"value" is empty/);
  const notString = await host.control("PUT", "/v1/scripts/vault/secrets/NUM", { value: 42 });
  assert.equal(notString.status, 400);

  for (const key of ["1ABC", "with-dash", "__proto__"]) {
    const response = await host.control("PUT", `/v1/scripts/vault/secrets/${key}`, { value: "x" });
    assert.equal(response.status, 400, key);
    const { error } = (await response.json()) as ErrorAnswer;
    assert.equal(error.code, "ATOLL_BAD_NAME");
    assert.match(error.message, /letters, digits and `_`/);
  }
  const cliBadName = await atoll(["secret", "put", "vault", "bad-name", ...controlArgs(host)], { input: "x" });
  assert.match(cliBadName.stderr, /^error: secret name "bad-name" is not allowed/);

  const ghost = await host.control("PUT", "/v1/scripts/ghost/secrets/KEY", { value: "x" });
  assert.equal(ghost.status, 404);
  assert.match(((await ghost.json()) as ErrorAnswer).error.message, /deploy it before giving it secrets/);
  assert.equal((await host.control("GET", "/v1/scripts/ghost/secrets")).status, 404);

  const huge = await host.control("PUT", "/v1/scripts/vault/secrets/HUGE", { value: "x".repeat(64 * 1024 + 1) });
  assert.equal(huge.status, 413);
  assert.equal(((await huge.json()) as ErrorAnswer).error.code, "ATOLL_SECRET_TOO_LARGE");
  const notJson = await fetch(`${host.controlUrl}/v1/scripts/vault/secrets/KEY`, {
    method: "PUT",
    headers: { authorization: `Bearer ${host.token}`, "content-type": "application/json" },
    body: `{"value": "${VALUES.first}`,
  });
  assert.equal(notJson.status, 400);
  assert.ok(!(await notJson.text()).includes(VALUES.first), "an error never quotes the body");
  assert.equal((await host.control("PUT", "/v1/scripts/vault/secrets/KEY", { value: "x" }, null)).status, 401);
});

test("a var and a secret of the same name: the later write is refused", async () => {
  const secretAfterVar = await host.control("PUT", "/v1/scripts/vault/secrets/GREETING", { value: "x" });
  assert.equal(secretAfterVar.status, 409);
  const first = ((await secretAfterVar.json()) as ErrorAnswer).error;
  assert.equal(first.code, "ATOLL_SECRET_VAR_CLASH");
  assert.match(first.message, /"GREETING" would be both a \[vars\] entry \(version 1, the active one\) and a secret of script "vault"/);
  // There is no secret GREETING to delete: the way out is a secret of another name, or the var removed.
  assert.doesNotMatch(first.message, /secret delete/);
  assert.match(first.message, /give the secret another name, or remove "GREETING" from \[vars\] and deploy/);

  const varAfterSecret = await host.control("PUT", "/v1/scripts/vault", { bundle: ENV_READER, config: { name: "vault", main: "x.ts", vars: { API_TOKEN: "plain" } } });
  assert.equal(varAfterSecret.status, 409);
  const second = ((await varAfterSecret.json()) as ErrorAnswer).error;
  assert.equal(second.code, "ATOLL_SECRET_VAR_CLASH");
  assert.match(second.message, /"API_TOKEN" would be both a \[vars\] entry \(the uploaded config\)/);
  assert.match(second.message, /atoll secret delete vault API_TOKEN/);
  assert.equal((await envOf("vault", "API_TOKEN")).value, VALUES.second);
});

test("a rollback to a version whose var a secret now holds is refused, saying what can change: the secret, or the version", async () => {
  await host.deploy("rewind", ENV_READER, { vars: { MODE: "plain" } });
  await host.deploy("rewind", ENV_READER, { vars: {} });
  assert.equal((await host.control("PUT", "/v1/scripts/rewind/secrets/MODE", { value: "sealed" })).status, 201);
  const refused = await host.control("POST", "/v1/scripts/rewind/rollback");
  assert.equal(refused.status, 409);
  const error = ((await refused.json()) as ErrorAnswer).error;
  assert.equal(error.code, "ATOLL_SECRET_VAR_CLASH");
  assert.match(error.message, /"MODE" would be both a \[vars\] entry \(version 1\) and a secret of script "rewind"/);
  // Version 1 cannot be edited: no "rename the var".
  assert.doesNotMatch(error.message, /rename/);
  assert.match(error.message, /delete the secret first \(`atoll secret delete rewind MODE`\), or roll back to another version/);
  assert.deepEqual(await envOf("rewind", "MODE"), { present: true, value: "sealed" });
});

test("the database file holds no plaintext secret; the key file is mode 0600", async () => {
  const files = readdirSync(host.dataDir).filter((file) => file.startsWith("atoll.db"));
  assert.ok(files.includes("atoll.db"), files.join(" "));
  for (const file of files) {
    const bytes = readFileSync(join(host.dataDir, file));
    for (const value of Object.values(VALUES)) {
      assert.equal(bytes.indexOf(value), -1, `${file} holds ${value}`);
      assert.equal(bytes.indexOf(Buffer.from(value).toString("base64")), -1);
    }
  }
  assert.equal(statSync(join(host.dataDir, "secrets.key")).mode & 0o777, 0o600);
  assert.equal(statSync(join(host.dataDir, "admin-token")).mode & 0o777, 0o600);
});

test("a sealed value opens only for its own script and name, under its own key", () => {
  const box = new SecretBox(randomBytes(32));
  const sealed = box.seal("vault", "API_TOKEN", "value");
  assert.equal(box.open("vault", "API_TOKEN", sealed), "value");
  assert.throws(() => box.open("other", "API_TOKEN", sealed), { code: "ATOLL_SECRET_UNREADABLE" });
  assert.throws(() => box.open("vault", "OTHER", sealed), { code: "ATOLL_SECRET_UNREADABLE" });
  assert.throws(() => new SecretBox(randomBytes(32)).open("vault", "API_TOKEN", sealed), { code: "ATOLL_SECRET_UNREADABLE" });
  const tampered = Uint8Array.from(sealed);
  tampered[20]! ^= 1;
  assert.throws(() => box.open("vault", "API_TOKEN", tampered), { code: "ATOLL_SECRET_UNREADABLE" });
  // A fresh nonce each time: the same value never seals to the same bytes.
  assert.notDeepEqual(box.seal("vault", "API_TOKEN", "value"), sealed);
});

test("a wrong or missing secrets key stops the host with a clear error; a moved ciphertext fails only its script", async () => {
  const first = await startTestHost();
  const keyFile = join(first.dataDir, "secrets.key");
  try {
    await first.deploy("keeper", ENV_READER);
    await first.deploy("thief", ENV_READER);
    assert.equal((await first.control("PUT", "/v1/scripts/keeper/secrets/TOKEN", { value: VALUES.api })).status, 201);
    await first.stop();
    const original = readFileSync(keyFile);

    writeFileSync(keyFile, `${randomBytes(32).toString("base64")}\n`);
    await assert.rejects(startTestHost({ dataDir: first.dataDir }), (error: Error & { code?: string }) => {
      assert.equal(error.code, "ATOLL_SECRETS_KEY");
      assert.match(error.message, /is not the key the database's 1 secret\(s\) were sealed with: put the original secrets\.key back/);
      return true;
    });
    writeFileSync(keyFile, "not a key\n");
    await assert.rejects(startTestHost({ dataDir: first.dataDir }), /is not a secrets key \(32 random bytes in base64/);
    rmSync(keyFile);
    await assert.rejects(startTestHost({ dataDir: first.dataDir }), /the secrets key .*secrets\.key is missing, and the database holds 1 secret\(s\) sealed with it/);
    assert.ok(!existsSync(keyFile), "no new key is made while secrets need the old one");

    // The original key back, and keeper's sealed value copied under thief's name.
    writeFileSync(keyFile, original, { mode: 0o600 });
    const db = new Database(join(first.dataDir, "atoll.db"));
    db.prepare(`INSERT INTO secrets (script, key, sealed, updated_at) SELECT 'thief', key, sealed, updated_at FROM secrets WHERE script = 'keeper'`).run();
    db.close();
    const second = await startTestHost({ dataDir: first.dataDir });
    try {
      assert.deepEqual(((await (await second.request("keeper.localhost", "/env/TOKEN")).json()) as { value: string }).value, VALUES.api);
      const stolen = await second.request("thief.localhost", "/env/TOKEN");
      assert.equal(stolen.status, 503);
      assert.ok(!(await stolen.text()).includes(VALUES.api));
      assert.ok(
        second.logs.some((line) => line.includes('secret "TOKEN" of script "thief" does not decrypt with the host\'s secrets key')),
        second.logs.join("\n"),
      );
      for (const line of second.logs) assert.ok(!line.includes(VALUES.api), line);
    } finally {
      await second.stop();
    }
  } finally {
    first.cleanUp();
  }
});

test("[vars] reach env as strings, and numbers, booleans, arrays and tables as JSON values", async () => {
  const cwd = join(host.dataDir, "vars-project");
  const project = {
    "atoll.toml": `name = "typed-vars"\nmain = "index.js"\n\n[vars]\nTEXT = "plain"\nCOUNT = 3\nRATIO = 0.25\nENABLED = true\nREGIONS = ["eu", "us"]\n\n[vars.LIMITS]\nburst = 10\nnested = { deep = [1, { x = "y" }] }\n`,
    "index.js": `export default { fetch(request, env) {
      const types = Object.fromEntries(Object.entries(env).map(([k, v]) => [k, Array.isArray(v) ? "array" : typeof v]));
      return Response.json({ types, regions: env.REGIONS.join("+"), burst: env.LIMITS.burst * 2, deep: env.LIMITS.nested.deep[1].x, count: env.COUNT + 1 });
    } };`,
  };
  mkdirSync(cwd, { recursive: true });
  for (const [file, text] of Object.entries(project)) writeFileSync(join(cwd, file), text);
  const run = await atoll(["deploy", cwd, ...controlArgs(host)]);
  assert.equal(run.code, 0, run.stderr);
  const answer = (await (await host.request("typed-vars.localhost", "/")).json()) as Record<string, unknown>;
  assert.deepEqual(answer, {
    types: { TEXT: "string", COUNT: "number", RATIO: "number", ENABLED: "boolean", REGIONS: "array", LIMITS: "object" },
    regions: "eu+us",
    burst: 20,
    deep: "y",
    count: 4,
  });
});

test("no secret value ever reached the host's log", () => {
  assert.ok(host.logs.length > 10);
  for (const line of host.logs) for (const value of Object.values(VALUES)) assert.ok(!line.includes(value), line);
  assert.ok(host.logs.includes("secret API_TOKEN of vault added"), host.logs.join("\n"));
});
