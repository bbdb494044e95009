// Blob, File, FormData and form bodies inside a real isolate: slicing and
// streaming Blobs, FormData's list semantics, multipart/form-data both ways
// (including bodies that Node's own FormData makes), urlencoded bodies, and
// the TypeErrors malformed bodies give.
import { test } from "node:test";
import assert from "node:assert/strict";
import { RuntimeHarness, runInIsolate } from "./support/runtime-harness.js";

async function withHandler(source: string, run: (harness: RuntimeHarness) => Promise<void>): Promise<void> {
  const harness = await RuntimeHarness.boot(source);
  try {
    await run(harness);
    assert.deepEqual(harness.callErrors, []);
  } finally {
    harness.dispose();
  }
}

/** Bytes 0..255 repeated, with the given text spliced in every 1000 bytes. */
function binary(size: number, splice: string): Uint8Array {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i++) bytes[i] = (i * 7 + 3) & 0xff;
  const insert = new TextEncoder().encode(splice);
  for (let at = 0; at + insert.length <= size; at += 1000) bytes.set(insert, at);
  return bytes;
}

/** In-isolate source of a hash good enough to compare bytes across the bridge. */
const FNV = `function fnv(bytes) { let h = 0x811c9dc5; for (const b of bytes) h = Math.imul(h ^ b, 0x01000193) >>> 0; return h.toString(16); }`;
function fnv(bytes: Uint8Array): string {
  let h = 0x811c9dc5;
  for (const b of bytes) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  return h.toString(16);
}

test("Blob: parts, size, type, text/bytes/arrayBuffer, and copies that do not leak", async () => {
  const result = await runInIsolate(`
    const source = new Uint8Array([104, 105]);
    const inner = new Blob(["é"]);
    const blob = new Blob(["a", source, source.buffer, new Uint16Array([0x6a6a]), inner, 42, null], { type: "Text/Plain;Charset=UTF-8" });
    source[0] = 0;
    const bytes = await blob.bytes();
    bytes[0] = 0;
    const buffer = await blob.arrayBuffer();
    return {
      size: blob.size,
      type: blob.type,
      text: await blob.text(),
      again: await blob.text(),
      bytesIsU8: bytes instanceof Uint8Array,
      bufferIsAB: buffer instanceof ArrayBuffer,
      bufferLength: buffer.byteLength,
      empty: [new Blob().size, new Blob([]).type, await new Blob().text()],
      badType: new Blob(["x"], { type: "text/plain; é" }).type,
      tag: Object.prototype.toString.call(blob),
      native: await new Blob(["a\\r\\nb\\rc\\nd"], { endings: "native" }).text(),
      transparent: await new Blob(["a\\r\\nb"], { endings: "transparent" }).text(),
      notIterable: (() => { try { new Blob("abc"); return "no error"; } catch (e) { return e.name; } })(),
      badEndings: (() => { try { new Blob([], { endings: "windows" }); return "no error"; } catch (e) { return e.name; } })(),
      lone: await new Blob(["\\ud800"]).bytes(),
    };
  `);
  assert.deepEqual(result, {
    size: 15,
    type: "text/plain;charset=utf-8",
    text: "ahihijjé42null",
    again: "ahihijjé42null",
    bytesIsU8: true,
    bufferIsAB: true,
    bufferLength: 15,
    empty: [0, "", ""],
    badType: "",
    tag: "[object Blob]",
    native: "a\nb\nc\nd",
    transparent: "a\r\nb",
    notIterable: "TypeError",
    badEndings: "TypeError",
    lone: { "0": 0xef, "1": 0xbf, "2": 0xbd },
  });
});

test("Blob.slice: negative and out-of-range indices, slices of slices across parts, content type", async () => {
  const result = await runInIsolate(`
    const blob = new Blob(["abc", "def", new Blob(["ghij"])], { type: "text/plain" });
    const text = (b) => b.text();
    return {
      all: await text(blob.slice()),
      tail: await text(blob.slice(-4)),
      middle: await text(blob.slice(2, -3)),
      acrossParts: await text(blob.slice(1, 8)),
      ofSlice: await text(blob.slice(1, 9).slice(2, -2)),
      beyond: await text(blob.slice(5, 100)),
      reversed: blob.slice(6, 2).size,
      fractional: await text(blob.slice(1.5, 3.5)),
      huge: blob.slice(-1e20, 1e20).size,
      type: [blob.slice(0, 1).type, blob.slice(0, 1, "Image/PNG").type, blob.slice(0, 1, "bad\\u0001").type],
    };
  `);
  assert.deepEqual(result, {
    all: "abcdefghij",
    tail: "ghij",
    middle: "cdefg",
    acrossParts: "bcdefgh",
    ofSlice: "defg",
    beyond: "fghij",
    reversed: 0,
    // [Clamp] rounds half to even: 1.5 → 2, 3.5 → 4.
    fractional: "cd",
    huge: 10,
    type: ["", "image/png", ""],
  });
});

test("Blob.stream: 64 KiB chunks of fresh bytes, and a BYOB reader", async () => {
  const result = await runInIsolate(`
    const part = new Uint8Array(50000).map((_, i) => i & 0xff);
    const blob = new Blob([part, "x", part, new Blob([part]).slice(100)]);
    const sizes = [];
    const seen = [];
    for await (const chunk of blob.stream()) {
      sizes.push(chunk.length);
      seen.push(...chunk.subarray(0, 1));
      chunk.fill(0);
    }
    const byob = blob.stream().getReader({ mode: "byob" });
    const first = await byob.read(new Uint8Array(10));
    const again = await blob.slice(49998, 50003).bytes();
    const emptyReads = [];
    const reader = new Blob([]).stream().getReader();
    emptyReads.push(await reader.read());
    return { size: blob.size, sizes, total: sizes.reduce((a, b) => a + b, 0), first: Array.from(first.value), again: Array.from(again), emptyReads };
  `);
  const { size, sizes, total, first, again, emptyReads } = result as { size: number; sizes: number[]; total: number; first: number[]; again: number[]; emptyReads: unknown[] };
  assert.equal(size, 149901);
  assert.equal(total, size);
  assert.ok(sizes.every((n) => n > 0 && n <= 65536), String(sizes));
  assert.equal(sizes[0], 65536);
  assert.deepEqual(first, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  // Zeroing the chunks did not change the Blob.
  assert.deepEqual(again, [0x4e, 0x4f, 120, 0, 1]);
  assert.deepEqual(emptyReads, [{ done: true }]);
});

test("File: name, lastModified, a Blob underneath; slices are Blobs", async () => {
  const result = await runInIsolate(`
    const before = Date.now();
    const file = new File(["hello"], "a/b.txt", { type: "TEXT/plain" });
    const dated = new File([file], "copy.txt", { lastModified: 1700000000000.7 });
    return {
      name: file.name,
      type: file.type,
      size: file.size,
      recent: file.lastModified >= before && file.lastModified <= Date.now(),
      dated: [dated.name, dated.lastModified, await dated.text(), dated.type],
      isBlob: file instanceof Blob,
      tag: Object.prototype.toString.call(file),
      slice: [Object.prototype.toString.call(file.slice(1)), await file.slice(1).text()],
      tooFew: (() => { try { new File(["x"]); return "no error"; } catch (e) { return e.name; } })(),
    };
  `);
  assert.deepEqual(result, {
    name: "a/b.txt",
    type: "text/plain",
    size: 5,
    recent: true,
    dated: ["copy.txt", 1700000000000, "hello", ""],
    isBlob: true,
    tag: "[object File]",
    slice: ["[object Blob]", "ello"],
    tooFew: "TypeError",
  });
});

test("FormData: order, set() semantics, Blobs become Files, live iteration, argument errors", async () => {
  const result = await runInIsolate(`
    const form = new FormData();
    form.append("a", "1");
    form.append("b", "2");
    form.append("a", "3");
    form.append("c", "4");
    form.append("a", "5");
    const order = [...form].map(([k, v]) => k + "=" + v);
    form.set("a", "x");
    const afterSet = [...form.keys()].join(",") + " " + [...form.values()].join(",");
    form.set("new", "y");
    form.delete("b");
    const blob = new Blob(["data"], { type: "text/csv" });
    form.append("blob", blob);
    form.append("named", blob, "report.csv");
    const file = new File(["f"], "f.txt", { lastModified: 5 });
    form.append("file", file);
    form.append("renamed", file, "g.txt");
    const asBlob = form.get("blob");
    const named = form.get("named");
    const renamed = form.get("renamed");
    const visited = [];
    form.forEach(function (value, name, self) { visited.push(name + (self === form && this === 7 ? "" : "!")); }, 7);
    const live = [];
    for (const [name] of form) { live.push(name); if (name === "a") form.delete("c"); }
    const errors = [];
    for (const run of [() => form.append("x"), () => form.append("x", "y", "z.txt"), () => new FormData({}), () => form.get(), () => new FormData(null)]) {
      try { run(); errors.push("no error"); } catch (e) { errors.push(e.name); }
    }
    return {
      order, afterSet, get: [form.get("a"), form.get("missing"), form.getAll("a"), form.has("b"), form.has("new")],
      blob: [asBlob instanceof File, asBlob.name, asBlob.type, await asBlob.text()],
      named: [named.name, named.type],
      fileKept: form.get("file") === file,
      renamed: [renamed.name, renamed.lastModified, renamed !== file],
      visited, live, errors,
      lone: (() => { const f = new FormData(); f.append("\\ud800", "\\udc00"); return [...f][0].map((s) => s.charCodeAt(0)); })(),
      tag: Object.prototype.toString.call(form),
    };
  `);
  assert.deepEqual(result, {
    order: ["a=1", "b=2", "a=3", "c=4", "a=5"],
    afterSet: "a,b,c x,2,4",
    get: ["x", null, ["x"], false, true],
    blob: [true, "blob", "text/csv", "data"],
    named: ["report.csv", "text/csv"],
    fileKept: true,
    renamed: ["g.txt", 5, true],
    visited: ["a", "c", "new", "blob", "named", "file", "renamed"],
    live: ["a", "new", "blob", "named", "file", "renamed"],
    errors: ["TypeError", "TypeError", "TypeError", "TypeError", "TypeError"],
    lone: [0xfffd, 0xfffd],
    tag: "[object FormData]",
  });
});

test("multipart: a FormData body serializes as browsers do, with CRLFs and escaped names", async () => {
  const result = (await runInIsolate(`
    const form = new FormData();
    form.append('we"ird\\nname', "line1\\nline2\\rline3\\r\\nend");
    form.append("file", new File(["xyz"], 'a"b\\r\\n.txt'));
    form.append("typed", new Blob(["{}"], { type: "application/json" }), "data.json");
    const response = new Response(form);
    const type = response.headers.get("content-type");
    return { type, body: await response.text() };
  `)) as { type: string; body: string };
  const boundary = /^multipart\/form-data; boundary=(----AtollFormBoundary[A-Za-z0-9]{24})$/.exec(result.type)?.[1];
  assert.ok(boundary, result.type);
  assert.equal(
    result.body,
    [
      `--${boundary}`,
      'Content-Disposition: form-data; name="we%22ird%0D%0Aname"',
      "",
      "line1\r\nline2\r\nline3\r\nend",
      `--${boundary}`,
      'Content-Disposition: form-data; name="file"; filename="a%22b%0D%0A.txt"',
      "Content-Type: application/octet-stream",
      "",
      "xyz",
      `--${boundary}`,
      'Content-Disposition: form-data; name="typed"; filename="data.json"',
      "Content-Type: application/json",
      "",
      "{}",
      `--${boundary}--`,
      "",
    ].join("\r\n"),
  );
});

test("multipart round trip: new Response(formData).formData() gives back fields and files, boundary-like bytes included", async () => {
  const result = (await runInIsolate(`
    ${FNV}
    const form = new FormData();
    form.append("text", "héllo\\r\\nwörld");
    form.append("empty", "");
    form.append('quote"name', "v");
    const binary = new Uint8Array(300000).map((_, i) => (i * 7 + 3) & 0xff);
    // Bytes that look like a delimiter, and CRLFs, inside the file.
    const tricky = new TextEncoder().encode("\\r\\n--\\r\\n------AtollFormBoundary\\r\\n\\r\\n--");
    for (let at = 0; at < binary.length - tricky.length; at += 997) binary.set(tricky, at);
    form.append("bin", new File([binary], "bin.dat", { type: "application/octet-stream" }));
    form.append("nothing", new File([], ""));
    const response = new Response(form);
    const back = await response.formData();
    const entries = [];
    for (const [name, value] of back) {
      entries.push(typeof value === "string" ? [name, value] : [name, value.name, value.type, value.size, fnv(await value.bytes())]);
    }
    return { entries, hash: fnv(binary) };
  `)) as { entries: unknown[][]; hash: string };
  assert.deepEqual(result.entries, [
    ["text", "héllo\r\nwörld"],
    ["empty", ""],
    ['quote"name', "v"],
    ["bin", "bin.dat", "application/octet-stream", 300000, result.hash],
    ["nothing", "", "application/octet-stream", 0, fnv(new Uint8Array(0))],
  ]);
});

test("a Request or Response with a Blob or FormData body gets its content type; Blob bodies go out inline", async () => {
  await withHandler(
    `export default {
      async fetch(request) {
        const url = new URL(request.url);
        if (url.pathname === "/blob") return new Response(new Blob(["<p>", "hi</p>"], { type: "text/html" }));
        if (url.pathname === "/untyped") return new Response(new Blob(["raw"]));
        if (url.pathname === "/rewrapped") {
          const inner = new Response(new Blob(["kept"], { type: "text/x-kept" }));
          return new Response(inner.body, inner);
        }
        if (url.pathname === "/sliced") return new Response(new Blob(["0123456789"]).slice(2, 5), { headers: { "content-type": "text/x-own" } });
        const form = new FormData();
        form.append("k", "v");
        const req = new Request("https://example.com/", { method: "POST", body: form });
        const blob = await new Response("x", { headers: { "content-type": "Text/Plain; Charset=UTF-8" } }).blob();
        const fromBody = await new Response(new Blob(["abc"], { type: "a/b" })).blob();
        return Response.json({
          requestType: req.headers.get("content-type").split(";")[0],
          requestForm: [...(await req.formData())],
          blobType: blob.type,
          blobText: await blob.text(),
          fromBody: [fromBody.type, await fromBody.text()],
          noType: (await new Response(new Uint8Array([1])).blob()).type,
          clone: await (() => { const r = new Response(new Blob(["twice"])); const c = r.clone(); return Promise.all([r.text(), c.text()]); })(),
          bodyStream: await (async () => { const r = new Response(new Blob(["streamed"])); const chunks = []; for await (const c of r.body) chunks.push(c.length); return chunks; })(),
        });
      },
    };`,
    async (harness) => {
      const blob = await harness.fetch({ url: "https://example.com/blob" });
      assert.equal(blob.bodyKind, "inline");
      assert.equal(blob.text, "<p>hi</p>");
      assert.equal(blob.header("content-type"), "text/html");
      const untyped = await harness.fetch({ url: "https://example.com/untyped" });
      assert.equal(untyped.header("content-type"), null);
      assert.equal(untyped.text, "raw");
      const rewrapped = await harness.fetch({ url: "https://example.com/rewrapped" });
      assert.equal(rewrapped.bodyKind, "inline");
      assert.equal(rewrapped.text, "kept");
      assert.equal(rewrapped.header("content-type"), "text/x-kept");
      const sliced = await harness.fetch({ url: "https://example.com/sliced" });
      assert.equal(sliced.text, "234");
      assert.equal(sliced.header("content-type"), "text/x-own");
      const other = await harness.fetch({ url: "https://example.com/other" });
      assert.deepEqual(other.json(), {
        requestType: "multipart/form-data",
        requestForm: [["k", "v"]],
        blobType: "text/plain;charset=utf-8",
        blobText: "x",
        fromBody: ["a/b", "abc"],
        noType: "",
        clone: ["twice", "twice"],
        bodyStream: [8],
      });
    },
  );
});

const DESCRIBE_FORM = `${FNV}
export default {
  async fetch(request) {
    const started = Date.now();
    const form = await request.formData();
    const fields = [];
    const files = [];
    for (const [name, value] of form) {
      if (typeof value === "string") fields.push([name, value]);
      else files.push({ name, filename: value.name, type: value.type, size: value.size, hash: fnv(await value.bytes()) });
    }
    return Response.json({ fields, files, ms: Date.now() - started });
  },
};`;

/**
 * A multipart body made by Node's own FormData (undici). Made when the module
 * loads: Node's native Blob reader fails an internal assertion (execution_async_id)
 * when it runs in a test continuation after isolated-vm calls have settled.
 */
const png = binary(70000, "\r\n--");
const notes = binary(5000, "\r\n\r\n");
const nodeForm = new FormData();
nodeForm.append("title", "héllo wörld");
nodeForm.append("multi\nline", "a\nb");
nodeForm.append("picture", new Blob([png], { type: "image/png" }), "pic.png");
nodeForm.append("notes", new File([notes], 'my "notes".txt', { type: "text/plain" }));
nodeForm.append("title", "second");
const nodeEncoded = new Response(nodeForm);
const nodeContentType = nodeEncoded.headers.get("content-type")!;
const nodeBody = new Uint8Array(await nodeEncoded.arrayBuffer());

test("parses a multipart body made by Node's own FormData (undici), inline and streamed in small chunks", async () => {
  const contentType = nodeContentType;
  const body = nodeBody;
  const text = notes;
  assert.match(contentType, /^multipart\/form-data; boundary=/);

  const expected = {
    // undici turns a lone LF into CRLF in names and values, as the spec says.
    fields: [["title", "héllo wörld"], ["multi\r\nline", "a\r\nb"], ["title", "second"]],
    files: [
      { name: "picture", filename: "pic.png", type: "image/png", size: png.length, hash: fnv(png) },
      { name: "notes", filename: 'my "notes".txt', type: "text/plain", size: text.length, hash: fnv(text) },
    ],
  };
  await withHandler(DESCRIBE_FORM, async (harness) => {
    const inline = await harness.fetch({ method: "POST", headers: { "content-type": contentType }, body });
    assert.equal(inline.error, null);
    const { ms: _ms, ...described } = inline.json() as Record<string, unknown>;
    assert.deepEqual(described, expected);

    const chunks: Uint8Array[] = [];
    for (let at = 0; at < body.length; at += 1021) chunks.push(body.subarray(at, at + 1021));
    const streamed = await harness.fetch({ method: "POST", headers: { "content-type": contentType }, bodyChunks: chunks });
    const { ms: _ms2, ...again } = streamed.json() as Record<string, unknown>;
    assert.deepEqual(again, expected);
  });
});

test("multipart parsing: preamble, epilogue, unquoted boundary, transport padding, no Content-Type on a file", async () => {
  const body = [
    "This is a preamble.",
    "--XyZ   ",
    'Content-Disposition: form-data; name="field"',
    "",
    "value",
    "--XyZ",
    "content-disposition: form-data; filename=\"x.bin\"; name=file",
    "X-Other: ignored",
    "",
    "raw",
    "--XyZ--",
    "This is the epilogue, ignored.",
  ].join("\r\n");
  await withHandler(DESCRIBE_FORM, async (harness) => {
    for (const contentType of ["multipart/form-data; boundary=XyZ", 'Multipart/Form-Data; charset=utf-8; boundary="XyZ"']) {
      const response = await harness.fetch({ method: "POST", headers: { "content-type": contentType }, body });
      const { ms: _ms, ...described } = response.json() as Record<string, unknown>;
      assert.deepEqual(described, {
        fields: [["field", "value"]],
        files: [{ name: "file", filename: "x.bin", type: "text/plain", size: 3, hash: fnv(new TextEncoder().encode("raw")) }],
      });
    }
  });
});

test("application/x-www-form-urlencoded bodies parse with formData()", async () => {
  const result = await runInIsolate(`
    const fromRequest = await request.formData();
    const fromParams = await new Response(new URLSearchParams({ x: "1 2", y: "é" })).formData();
    const question = await new Response("?q=1", { headers: { "content-type": "application/x-www-form-urlencoded" } }).formData();
    return { fromRequest: [...fromRequest], fromParams: [...fromParams], question: [...question] };
  `, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded;charset=UTF-8" }, body: "a=1&b=%C3%A9+x&a=2&empty=&=noname" });
  assert.deepEqual(result, {
    fromRequest: [["a", "1"], ["b", "é x"], ["a", "2"], ["empty", ""], ["", "noname"]],
    fromParams: [["x", "1 2"], ["y", "é"]],
    question: [["?q", "1"]],
  });
});

test("malformed form bodies are TypeErrors that say what is wrong", async () => {
  const cases: [string, string, RegExp][] = [
    ["multipart/form-data", "--x\r\n\r\n--x--", /no boundary parameter/],
    ["multipart/form-data; boundary=abc", "no delimiter here", /boundary "abc" of the Content-Type does not occur/],
    ["multipart/form-data; boundary=abc", '--abc\r\nContent-Disposition: form-data; name="a"\r\n\r\nvalue without end', /ends without the closing boundary/],
    ["multipart/form-data; boundary=abc", '--abc\r\nContent-Disposition: form-data; name="a"\r\n\r\nv\r\n--abc', /ends without the closing boundary/],
    ["multipart/form-data; boundary=abc", "--abc\r\nContent-Disposition: form-data\r\n\r\nv\r\n--abc--", /no Content-Disposition header with a name/],
    ["multipart/form-data; boundary=abc", '--abc\r\nContent-Disposition: attachment; name="a"\r\n\r\nv\r\n--abc--', /"attachment", not "form-data"/],
    ["multipart/form-data; boundary=abc", "--abc\r\nno colon here\r\n\r\nv\r\n--abc--", /malformed header line/],
    ["multipart/form-data; boundary=abc", '--abc\r\nContent-Disposition: form-data; name="a\r\n\r\nv\r\n--abc--', /not closed/],
    ["multipart/form-data; boundary=abc", "--abcX\r\n", /not followed by a line break/],
    [`multipart/form-data; boundary=${"b".repeat(71)}`, "", /1 to 70 characters/],
    ["text/plain", "a=1", /"text\/plain" is neither multipart\/form-data nor application\/x-www-form-urlencoded/],
  ];
  const source = `export default {
    async fetch(request) {
      try {
        await request.formData();
        return new Response("no error");
      } catch (error) {
        return Response.json({ name: error.name, message: error.message, used: request.bodyUsed });
      }
    },
  };`;
  await withHandler(source, async (harness) => {
    for (const [contentType, body, message] of cases) {
      const response = await harness.fetch({ method: "POST", headers: { "content-type": contentType }, body });
      const error = response.json() as { name: string; message: string; used: boolean };
      assert.equal(error.name, "TypeError", `${contentType} ${JSON.stringify(body)}: ${response.text}`);
      assert.match(error.message, /^Request\.formData: /);
      assert.match(error.message, message);
      assert.equal(error.used, true);
    }
    const missing = await harness.fetch({ method: "POST", body: "a=1" });
    assert.match((missing.json() as { message: string }).message, /the Content-Type is missing/);
  });
});

test("finding the boundary stays linear on a large body full of near-delimiters", async () => {
  const boundary = "----AtollFormBoundaryLinearTest0123456789";
  // Every 40 bytes: CRLF, the dashes and all of the boundary but its last character.
  const near = `\r\n--${boundary.slice(0, -1)}`;
  const content = near.repeat(Math.ceil((8 * 1024 * 1024) / near.length));
  const body = new TextEncoder().encode(
    `--${boundary}\r\nContent-Disposition: form-data; name="f"; filename="near.txt"\r\n\r\n${content}\r\n--${boundary}--\r\n`,
  );
  const started = Date.now();
  await withHandler(DESCRIBE_FORM, async (harness) => {
    const response = await harness.fetch({ method: "POST", headers: { "content-type": `multipart/form-data; boundary=${boundary}` }, body });
    const described = response.json() as { files: { size: number }[]; ms: number };
    assert.equal(described.files[0]?.size, content.length);
    // A quadratic search would take minutes here; linear is well under a second of parsing.
    assert.ok(described.ms < 3000, `parsing took ${described.ms} ms`);
  });
  assert.ok(Date.now() - started < 10_000);
});
