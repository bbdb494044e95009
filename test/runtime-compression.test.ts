// CompressionStream and DecompressionStream inside a real isolate: round
// trips, data compressed in the isolate and opened by node:zlib and the other
// way round (gzip, deflate, deflate-raw), and the TypeErrors for bad input.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import zlib from "node:zlib";
import { RuntimeHarness, runInIsolate } from "./support/runtime-harness.js";

const FORMATS = ["gzip", "deflate", "deflate-raw"] as const;
type Format = (typeof FORMATS)[number];

const compressOnHost: Record<Format, (data: Uint8Array) => Buffer> = {
  gzip: (data) => zlib.gzipSync(data),
  deflate: (data) => zlib.deflateSync(data),
  "deflate-raw": (data) => zlib.deflateRawSync(data),
};
const decompressOnHost: Record<Format, (data: Uint8Array) => Buffer> = {
  gzip: (data) => zlib.gunzipSync(data),
  deflate: (data) => zlib.inflateSync(data),
  "deflate-raw": (data) => zlib.inflateRawSync(data),
};

/** Compressible but not trivial: words with a counter, and a stretch of noise. */
function sample(size: number): Uint8Array {
  const text = new TextEncoder().encode(Array.from({ length: Math.ceil(size / 12) }, (_, i) => `line ${i} é\n`).join(""));
  const out = text.subarray(0, size);
  let seed = 12345;
  for (let i = Math.floor(size / 2); i < Math.min(size, Math.floor(size / 2) + 20000); i++) {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    out[i] = seed >>> 24;
  }
  return out;
}

function chunksOf(data: Uint8Array, size: number): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  for (let at = 0; at < data.length; at += size) chunks.push(data.subarray(at, at + size));
  return chunks;
}

// POST /compress?format=…  the request body through CompressionStream
// POST /decompress?format=…  the request body through DecompressionStream; errors as JSON
const SOURCE = `export default {
  async fetch(request) {
    const url = new URL(request.url);
    const format = url.searchParams.get("format");
    const input = request.body ?? new Blob([]).stream();
    if (url.pathname === "/compress") return new Response(input.pipeThrough(new CompressionStream(format)));
    try {
      const bytes = await new Response(input.pipeThrough(new DecompressionStream(format))).bytes();
      return new Response(bytes);
    } catch (error) {
      return Response.json({ name: error.name, message: error.message }, { status: 400 });
    }
  },
};`;

let harness: RuntimeHarness;
before(async () => {
  harness = await RuntimeHarness.boot(SOURCE);
});
after(() => {
  assert.deepEqual(harness.callErrors, []);
  harness.dispose();
});

test("gzip, deflate and deflate-raw round trips inside the isolate, written in odd-sized chunks", async () => {
  const result = await runInIsolate(`
    const data = new TextEncoder().encode("hello compression ".repeat(20000) + "end");
    const out = {};
    for (const format of ["gzip", "deflate", "deflate-raw"]) {
      const compressed = await new Response(new Blob([data]).stream().pipeThrough(new CompressionStream(format))).bytes();
      // Feed the compressed bytes back 7 bytes at a time.
      const pieces = new ReadableStream({
        start(controller) {
          for (let at = 0; at < compressed.length; at += 7) controller.enqueue(compressed.slice(at, at + 7));
          controller.close();
        },
      });
      const back = await new Response(pieces.pipeThrough(new DecompressionStream(format))).text();
      const empty = await new Response(new Blob([]).stream().pipeThrough(new CompressionStream(format))).bytes();
      const emptyBack = await new Response(new Blob([empty]).stream().pipeThrough(new DecompressionStream(format))).bytes();
      out[format] = { ratio: Math.round(data.length / compressed.length), same: back === new TextDecoder().decode(data), empty: emptyBack.length };
    }
    const stream = new CompressionStream("gzip");
    out.shape = [Object.prototype.toString.call(stream), stream.readable instanceof ReadableStream, stream.writable instanceof WritableStream];
    return out;
  `);
  const out = result as Record<string, { ratio: number; same: boolean; empty: number }> & { shape: unknown[] };
  for (const format of FORMATS) {
    assert.equal(out[format]!.same, true, format);
    assert.ok(out[format]!.ratio > 100, `${format} ratio ${out[format]!.ratio}`);
    assert.equal(out[format]!.empty, 0);
  }
  assert.deepEqual(out.shape, ["[object CompressionStream]", true, true]);
});

for (const format of FORMATS) {
  test(`${format}: compressed in the isolate, node:zlib opens it; compressed by node:zlib, the isolate opens it`, async () => {
    const data = sample(300_000);
    const compressed = await harness.fetch({ method: "POST", url: `https://example.com/compress?format=${format}`, bodyChunks: chunksOf(data, 10_000) });
    assert.equal(compressed.error, null);
    assert.equal(compressed.bodyKind, "stream");
    assert.ok(compressed.body.length < data.length / 2, `${compressed.body.length} bytes`);
    assert.deepEqual(new Uint8Array(decompressOnHost[format](compressed.body)), data);

    const fromHost = compressOnHost[format](data);
    const opened = await harness.fetch({ method: "POST", url: `https://example.com/decompress?format=${format}`, bodyChunks: chunksOf(fromHost, 333) });
    assert.equal(opened.status, 200, opened.text.slice(0, 200));
    assert.deepEqual(opened.body, data);
  });
}

test("gzip headers with a file name, extra field, comment and header CRC are read", async () => {
  const data = new TextEncoder().encode("named member");
  const raw = zlib.deflateRawSync(data);
  const head = [0x1f, 0x8b, 8, 4 | 8 | 16 | 2, 0, 0, 0, 0, 0, 3, 3, 0, 0xaa, 0xbb, 0xcc, ...new TextEncoder().encode("a.txt"), 0, ...new TextEncoder().encode("comment"), 0];
  const headerCrc = zlib.crc32(new Uint8Array(head)) & 0xffff;
  const trailer = Buffer.alloc(8);
  trailer.writeUInt32LE(zlib.crc32(data), 0);
  trailer.writeUInt32LE(data.length, 4);
  const member = Buffer.concat([Buffer.from(head), Buffer.from([headerCrc & 0xff, headerCrc >> 8]), raw, trailer]);
  assert.deepEqual(zlib.gunzipSync(member), Buffer.from(data));
  const opened = await harness.fetch({ method: "POST", url: "https://example.com/decompress?format=gzip", bodyChunks: chunksOf(member, 3) });
  assert.equal(opened.text, "named member");
});

test("corrupt, truncated and over-long input, bad formats and chunks: TypeErrors", async () => {
  const data = sample(5000);
  const gzip = zlib.gzipSync(data);
  const deflate = zlib.deflateSync(data);
  const flipped = (bytes: Buffer, at: number) => {
    const copy = Buffer.from(bytes);
    copy[at] = copy[at]! ^ 0xff;
    return copy;
  };
  const cases: [Format, Uint8Array, RegExp][] = [
    ["gzip", Buffer.from("not gzip at all"), /gzip data is corrupt: it does not start with the gzip magic bytes/],
    ["gzip", flipped(gzip, gzip.length - 6), /CRC-32 does not match/],
    ["gzip", flipped(gzip, gzip.length - 2), /length field does not match/],
    ["gzip", gzip.subarray(0, gzip.length - 5), /truncated/],
    ["gzip", gzip.subarray(0, gzip.length - 100), /truncated/],
    ["gzip", gzip.subarray(0, 5), /truncated/],
    ["gzip", new Uint8Array(0), /truncated/],
    ["gzip", Buffer.concat([gzip, Buffer.from([0])]), /data after the end of the gzip stream/],
    ["gzip", Buffer.concat([gzip, gzip]), /data after the end/],
    ["deflate", Buffer.from([0x78, 0x9c, 0xff, 0xff]), /deflate data is corrupt/],
    ["deflate", Buffer.from([0x79, 0x9c]), /zlib header is invalid/],
    ["deflate", flipped(deflate, deflate.length - 1), /Adler-32 does not match/],
    ["deflate", deflate.subarray(0, deflate.length - 1), /truncated/],
    ["deflate", Buffer.concat([deflate, Buffer.from("x")]), /data after the end of the deflate stream/],
    ["deflate-raw", Buffer.from([0xff, 0xff, 0xff]), /deflate-raw data is corrupt: invalid block type/],
    ["deflate-raw", zlib.deflateRawSync(data).subarray(0, 50), /truncated/],
    ["deflate-raw", Buffer.concat([zlib.deflateRawSync(data), Buffer.from([1, 2])]), /data after the end/],
  ];
  for (const [format, body, message] of cases) {
    for (const chunked of [false, true]) {
      const response = await harness.fetch({
        method: "POST",
        url: `https://example.com/decompress?format=${format}`,
        ...(chunked ? { bodyChunks: chunksOf(body, 2) } : { body }),
      });
      assert.equal(response.status, 400, `${format} ${message}: got ${response.status} ${response.text.slice(0, 100)}`);
      const error = response.json() as { name: string; message: string };
      assert.equal(error.name, "TypeError", error.message);
      assert.match(error.message, message);
    }
  }

  const misuse = await runInIsolate(`
    const errors = {};
    const attempt = (name, run) => { try { run(); errors[name] = "no error"; } catch (e) { errors[name] = e.name + ": " + e.message; } };
    attempt("compress-brotli", () => new CompressionStream("br"));
    attempt("decompress-upper", () => new DecompressionStream("GZIP"));
    attempt("no-argument", () => new CompressionStream());
    for (const [label, Stream] of [["compress", CompressionStream], ["decompress", DecompressionStream]]) {
      const stream = new Stream("gzip");
      const writer = stream.writable.getWriter();
      writer.write("a string").catch(() => {});
      try { await stream.readable.getReader().read(); errors[label + "-chunk"] = "no error"; } catch (e) { errors[label + "-chunk"] = e.name + ": " + e.message; }
    }
    return errors;
  `);
  const errors = misuse as Record<string, string>;
  assert.match(errors["compress-brotli"]!, /^TypeError: CompressionStream: the format must be "gzip", "deflate" or "deflate-raw", got "br"/);
  assert.match(errors["decompress-upper"]!, /^TypeError: DecompressionStream: the format must be/);
  assert.match(errors["no-argument"]!, /^TypeError: CompressionStream: 1 argument required/);
  const chunkErrors = Object.entries(errors).filter(([name]) => name.endsWith("-chunk"));
  assert.equal(chunkErrors.length, 2);
  for (const [, message] of chunkErrors) assert.match(message, /^TypeError: (Compression|Decompression)Stream: chunks must be an ArrayBuffer or an ArrayBufferView such as Uint8Array, got string/);
});

test("decompression output is produced as input arrives, not all at close", async () => {
  const result = await runInIsolate(`
    const data = new Uint8Array(2_000_000).map((_, i) => (i % 251) & 0xff);
    const compressed = await new Response(new Blob([data]).stream().pipeThrough(new CompressionStream("gzip"))).bytes();
    const stream = new DecompressionStream("gzip");
    const writer = stream.writable.getWriter();
    const reader = stream.readable.getReader();
    writer.write(compressed.subarray(0, compressed.length >> 1)).catch(() => {});
    const first = await reader.read();
    writer.write(compressed.subarray(compressed.length >> 1)).catch(() => {});
    writer.close().catch(() => {});
    let total = first.value.length;
    for (;;) { const { done, value } = await reader.read(); if (done) break; total += value.length; }
    return { firstBeforeClose: first.value.length > 0, total };
  `);
  assert.deepEqual(result, { firstBeforeClose: true, total: 2_000_000 });
});
