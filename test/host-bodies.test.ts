// Form and compressed bodies end to end: the multipart-upload and
// gzip-roundtrip fixtures deployed on a real host, reached over HTTP by
// undici's fetch, FormData and streamed uploads.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import zlib from "node:zlib";
import { FormData as UndiciFormData, Response as UndiciResponse } from "undici";
import { bundleProject } from "../bundler/bundle.js";
import { startTestHost, type TestHost } from "./support/test-host.js";

const fixture = (name: string) => fileURLToPath(new URL(`../../fixtures/${name}`, import.meta.url));

let host: TestHost;
before(async () => {
  host = await startTestHost();
  for (const dir of ["multipart-upload", "gzip-roundtrip"]) {
    const { config, code } = await bundleProject(fixture(dir));
    await host.deploy(config.name, code, config as unknown as Record<string, unknown>);
  }
});
after(async () => {
  await host.stop();
  host.cleanUp();
});

/** Bytes that are not text, with CRLFs and delimiter-like runs every 1000 bytes. */
function binary(size: number): Uint8Array {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i++) bytes[i] = (i * 31 + 7) & 0xff;
  const tricky = new TextEncoder().encode("\r\n--\r\n\r\n------formdata-undici-0");
  for (let at = 0; at + tricky.length <= size; at += 1000) bytes.set(tricky, at);
  return bytes;
}

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");

function streamOf(bytes: Uint8Array, pieceBytes: number): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream({
    pull(controller) {
      if (at >= bytes.length) {
        controller.close();
        return;
      }
      controller.enqueue(bytes.slice(at, at + pieceBytes));
      at += pieceBytes;
    },
  });
}

const picture = binary(200_000);

function uploadForm(): UndiciFormData {
  const form = new UndiciFormData();
  form.append("title", "Holiday ☀️");
  form.append("tag", "sea");
  form.append("tag", "sand");
  form.append("picture", new Blob([picture], { type: "image/png" }), "beach.png");
  form.append("empty", new File([], "nothing.txt", { type: "text/plain" }));
  return form;
}

const EXPECTED_UPLOAD = {
  fields: { title: "Holiday ☀️", tag: ["sea", "sand"] },
  files: [
    { name: "picture", filename: "beach.png", type: "image/png", size: picture.length, head: hex(picture.subarray(0, 16)) },
    { name: "empty", filename: "nothing.txt", type: "text/plain", size: 0, head: "" },
  ],
};

test("multipart-upload describes a form that undici's fetch sends as multipart/form-data", async () => {
  const response = await host.request("multipart-upload.localhost", "/", { method: "POST", body: uploadForm() as unknown as RequestInit["body"] });
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("content-type"), "application/json");
  assert.deepEqual(await response.json(), EXPECTED_UPLOAD);
});

test("multipart-upload parses the same form streamed up in small chunks", async () => {
  const encoded = new UndiciResponse(uploadForm());
  const contentType = encoded.headers.get("content-type")!;
  const body = new Uint8Array(await encoded.arrayBuffer());
  const response = await host.request("multipart-upload.localhost", "/", {
    method: "POST",
    headers: { "content-type": contentType },
    body: streamOf(body, 4096),
  });
  assert.equal(response.status, 200);
  assert.deepEqual(await response.json(), EXPECTED_UPLOAD);
});

test("multipart-upload reads urlencoded forms, and answers 400 with the reason for a broken one", async () => {
  const urlencoded = await host.request("multipart-upload.localhost", "/", { method: "POST", body: new URLSearchParams({ q: "a b", lang: "fr" }) });
  assert.deepEqual(await urlencoded.json(), { fields: { q: "a b", lang: "fr" }, files: [] });

  const broken = await host.request("multipart-upload.localhost", "/", {
    method: "POST",
    headers: { "content-type": "multipart/form-data; boundary=abc" },
    body: '--abc\r\nContent-Disposition: form-data; name="a"\r\n\r\nno closing boundary',
  });
  assert.equal(broken.status, 400);
  assert.deepEqual(await broken.json(), { error: "Request.formData: the body is not valid multipart/form-data: the body ends without the closing boundary" });

  const notAForm = await host.request("multipart-upload.localhost", "/", { method: "POST", headers: { "content-type": "text/plain" }, body: "hello" });
  assert.equal(notAForm.status, 400);
  assert.equal((await host.request("multipart-upload.localhost", "/")).status, 405);
});

test("gzip-roundtrip compresses a streamed upload; node:zlib opens all three formats", async () => {
  const data = new TextEncoder().encode(Array.from({ length: 30_000 }, (_, i) => `row ${i},${i * 7},ok\n`).join(""));
  const openers = { gzip: zlib.gunzipSync, deflate: zlib.inflateSync, "deflate-raw": zlib.inflateRawSync };
  for (const [format, open] of Object.entries(openers)) {
    const response = await host.request("gzip-roundtrip.localhost", `/?format=${format}`, { method: "POST", body: streamOf(data, 16 * 1024) });
    assert.equal(response.status, 200, format);
    assert.equal(response.headers.get("content-encoding"), null);
    const compressed = new Uint8Array(await response.arrayBuffer());
    assert.ok(compressed.length < data.length / 3, `${format}: ${compressed.length} of ${data.length} bytes`);
    assert.deepEqual(new Uint8Array(open(compressed)), data, format);
  }
  const gzipType = await host.request("gzip-roundtrip.localhost", "/", { method: "POST", body: "x" });
  assert.equal(gzipType.headers.get("content-type"), "application/gzip");
  assert.equal(zlib.gunzipSync(new Uint8Array(await gzipType.arrayBuffer())).toString(), "x");

  const empty = await host.request("gzip-roundtrip.localhost", "/", { method: "POST" });
  assert.equal(zlib.gunzipSync(new Uint8Array(await empty.arrayBuffer())).length, 0);
  assert.equal((await host.request("gzip-roundtrip.localhost", "/?format=br", { method: "POST", body: "x" })).status, 400);
});
