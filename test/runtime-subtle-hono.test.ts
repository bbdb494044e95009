// Hono's crypto.subtle users, bundled the way `atoll build` would, run unchanged
// in the runtime: hono/jwt (HS256 sign and verify, RS256 and ES256 verify of
// tokens signed by Node on the host) and hono/etag with its default SHA-1 digest.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash, createHmac, generateKeyPairSync, sign as nodeSign } from "node:crypto";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { RuntimeHarness } from "./support/runtime-harness.js";

const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));

const APP = `
import { Hono } from "hono";
import { etag } from "hono/etag";
import { jwt, sign, verify } from "hono/jwt";

const app = new Hono();
app.get("/token", async (c) => c.text(await sign({ sub: c.req.query("sub"), exp: Math.floor(Date.now() / 1000) + 60 }, c.env.SECRET, "HS256")));
app.use("/private/*", (c, next) => jwt({ secret: c.env.SECRET, alg: "HS256" })(c, next));
app.get("/private/me", (c) => c.json(c.get("jwtPayload")));
app.get("/verify/:alg", async (c) => {
  const alg = c.req.param("alg");
  const key = alg === "RS256" ? c.env.RSA_PUBLIC_PEM : c.env.EC_PUBLIC_JWK;
  try {
    return c.json({ ok: true, payload: await verify(c.req.header("x-token"), key, alg) });
  } catch (error) {
    return c.json({ ok: false, error: error.name }, 401);
  }
});
app.use("/etag/*", etag());
app.get("/etag/thing", (c) => c.text("stable content"));
export default app;
`;

async function bundleApp(): Promise<string> {
  const result = await build({
    stdin: { contents: APP, resolveDir: REPO_ROOT, loader: "ts", sourcefile: "app.ts" },
    bundle: true,
    format: "esm",
    platform: "neutral",
    target: "es2022",
    write: false,
    logLevel: "silent",
  });
  return result.outputFiles[0]!.text;
}

const base64url = (data: string | Buffer) => Buffer.from(data).toString("base64url");

/** A compact JWS made on the host with Node's own crypto. */
function hostToken(alg: string, payload: object, signWith: (input: Buffer) => Buffer): string {
  const input = `${base64url(JSON.stringify({ alg, typ: "JWT" }))}.${base64url(JSON.stringify(payload))}`;
  return `${input}.${base64url(signWith(Buffer.from(input)))}`;
}

test("hono/jwt: HS256 tokens signed in the isolate check out on the host and pass the jwt middleware; RS256 and ES256 tokens from the host verify", async () => {
  const secret = "it-is-very-secret";
  const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const ec = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const harness = await RuntimeHarness.boot(await bundleApp(), {
    env: {
      SECRET: secret,
      RSA_PUBLIC_PEM: rsa.publicKey.export({ type: "spki", format: "pem" }),
      EC_PUBLIC_JWK: ec.publicKey.export({ format: "jwk" }),
    },
  });
  try {
    const issued = await harness.fetch({ url: "https://app.example/token?sub=user-1" });
    assert.equal(issued.status, 200, issued.text);
    const [head, body, signature] = issued.text.split(".");
    assert.equal(createHmac("sha256", secret).update(`${head}.${body}`).digest("base64url"), signature, "the host agrees with the isolate's HMAC");
    assert.equal(JSON.parse(Buffer.from(body!, "base64url").toString()).sub, "user-1");

    const me = await harness.fetch({ url: "https://app.example/private/me", headers: { authorization: `Bearer ${issued.text}` } });
    assert.equal(me.status, 200);
    assert.equal((me.json() as { sub: string }).sub, "user-1");

    const fromHost = hostToken("HS256", { sub: "host" }, (input) => createHmac("sha256", secret).update(input).digest());
    const hostMe = await harness.fetch({ url: "https://app.example/private/me", headers: { authorization: `Bearer ${fromHost}` } });
    assert.deepEqual(hostMe.json(), { sub: "host" });

    const forged = hostToken("HS256", { sub: "admin" }, (input) => createHmac("sha256", "guessed").update(input).digest());
    assert.equal((await harness.fetch({ url: "https://app.example/private/me", headers: { authorization: `Bearer ${forged}` } })).status, 401);
    assert.equal((await harness.fetch({ url: "https://app.example/private/me" })).status, 401);

    const rs256 = hostToken("RS256", { sub: "rsa-user" }, (input) => nodeSign("sha256", input, rsa.privateKey));
    const rsaResult = await harness.fetch({ url: "https://app.example/verify/RS256", headers: { "x-token": rs256 } });
    assert.deepEqual(rsaResult.json(), { ok: true, payload: { sub: "rsa-user" } });

    const es256 = hostToken("ES256", { sub: "ec-user" }, (input) => nodeSign("sha256", input, { key: ec.privateKey, dsaEncoding: "ieee-p1363" }));
    const ecResult = await harness.fetch({ url: "https://app.example/verify/ES256", headers: { "x-token": es256 } });
    assert.deepEqual(ecResult.json(), { ok: true, payload: { sub: "ec-user" } });

    const tampered = es256.slice(0, es256.lastIndexOf(".") + 1) + base64url(Buffer.alloc(64, 1));
    const rejected = await harness.fetch({ url: "https://app.example/verify/ES256", headers: { "x-token": tampered } });
    assert.deepEqual(rejected.json(), { ok: false, error: "JwtTokenSignatureMismatched" });

    // hono/jwt imports the key on every call (7 imports here): identical imports
    // share one host key, so 4 at most (HS256 sign, HS256 verify, RS256, ES256).
    assert.ok(harness.keys.keyCount <= 4, `${harness.keys.keyCount} distinct host keys`);
    assert.deepEqual(harness.callErrors, []);
  } finally {
    harness.dispose();
  }
});

test("hono/etag with its default digest (crypto.subtle SHA-1): an ETag, then 304 for If-None-Match", async () => {
  const harness = await RuntimeHarness.boot(await bundleApp(), { env: { SECRET: "s" } });
  try {
    const tagged = await harness.fetch({ url: "https://app.example/etag/thing" });
    assert.equal(tagged.text, "stable content");
    assert.equal(tagged.header("etag"), `"${createHash("sha1").update("stable content").digest("hex")}"`);
    const notModified = await harness.fetch({ url: "https://app.example/etag/thing", headers: { "if-none-match": tagged.header("etag")! } });
    assert.equal(notModified.status, 304);
    assert.equal(notModified.bodyKind, "none");
  } finally {
    harness.dispose();
  }
});
