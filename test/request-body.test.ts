// How the front reads a streamed request body for a function: not at all
// until the function asks, then ahead of it by at most READ_AHEAD_BYTES, so
// that a fast upload crosses to the worker in large chunks (each crossing is a
// round trip) while a slow one is handed over as soon as anything arrives.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { IncomingMessage } from "node:http";
import { Readable } from "node:stream";
import { IncomingBodySource, READ_AHEAD_BYTES } from "../host/front/request-body.js";
import { RequestBodyTooLargeError } from "../host/errors.js";

const KiB = 1024;
const MiB = 1024 * KiB;

/**
 * What an IncomingMessage is to the source: a paused stream fed by a socket
 * that delivers 64 KiB at a time, only while the stream's buffer is below its
 * 16 KiB high-water mark (byte i of delivery n is n). Counts what it delivered.
 */
function socketBody(bytes: number): { stream: Readable; delivered: () => number } {
  let delivered = 0;
  let n = 0;
  const stream = new Readable({
    highWaterMark: 16 * KiB,
    read() {
      if (delivered === bytes) return void this.push(null);
      const size = Math.min(64 * KiB, bytes - delivered);
      delivered += size;
      this.push(Buffer.alloc(size, n++ & 0xff));
    },
  });
  return { stream, delivered: () => delivered };
}

const sourceOf = (stream: Readable, maxBytes = 100 * MiB) => new IncomingBodySource(stream as unknown as IncomingMessage, maxBytes);

test("nothing is taken off the socket before the function's first read", async () => {
  const body = socketBody(4 * MiB);
  sourceOf(body.stream);
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(body.delivered(), 0);
});

test("a fast body comes in chunks of READ_AHEAD_BYTES, with at most about that much more taken ahead, whole and in order", async () => {
  const body = socketBody(4 * MiB + 100 * KiB);
  const source = sourceOf(body.stream);
  const first = (await source.read())!;
  assert.equal(first.byteLength, READ_AHEAD_BYTES);
  const ahead = body.delivered() - first.byteLength;
  assert.ok(ahead >= READ_AHEAD_BYTES && ahead <= READ_AHEAD_BYTES + 128 * KiB, `read ahead ${ahead} bytes: the next chunk, and no more than one socket read past it`);
  const chunks = [first];
  for (let chunk = await source.read(); chunk; chunk = await source.read()) chunks.push(chunk);
  assert.deepEqual(chunks.map((chunk) => chunk.byteLength), [MiB, MiB, MiB, MiB, 100 * KiB]);
  const whole = Buffer.concat(chunks);
  for (let n = 0; n * 64 * KiB < whole.byteLength; n++) assert.equal(whole[n * 64 * KiB], n & 0xff, `delivery ${n} in place`);
});

test("a slow body is handed over as soon as anything arrives", async () => {
  const stream = new Readable({ read() {} });
  const source = sourceOf(stream);
  const reading = source.read();
  setTimeout(() => stream.push(Buffer.from("first bytes")), 20);
  assert.equal(Buffer.from((await reading)!).toString(), "first bytes");
  setTimeout(() => stream.push(null), 20);
  assert.equal(await source.read(), null);
});

test("a body past the limit fails the next read", async () => {
  const source = sourceOf(socketBody(3 * MiB).stream, 2 * MiB + 10);
  assert.equal((await source.read())!.byteLength, MiB);
  assert.equal((await source.read())!.byteLength, MiB);
  await assert.rejects(source.read(), RequestBodyTooLargeError);
  assert.equal(source.overflowed, true);
});
