// `atoll bucket put|get|delete|list BUCKET ...`: the buckets functions bind
// with [[buckets]], for operators. Files stream to and from the host; a put
// shows its progress on a terminal.
import { createReadStream, createWriteStream } from "node:fs";
import { stat } from "node:fs/promises";
import { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { Command } from "commander";
import { ControlClient } from "../control-client.js";
import { resolveControlOptions, withControlOptions, type ControlFlags } from "../control-options.js";
import { CliError } from "../errors.js";
import { parsePositive } from "../arguments.js";
import { formatBytes } from "../sizes.js";

function objectPath(bucket: string, key: string): string {
  return `/v1/buckets/${encodeURIComponent(bucket)}/objects/${encodeURIComponent(key)}`;
}

async function client(flags: ControlFlags): Promise<ControlClient> {
  return new ControlClient(await resolveControlOptions(flags));
}

export function bucketCommand(): Command {
  const bucket = new Command("bucket").description("Read and write buckets (the ones functions bind with [[buckets]])");

  bucket.addCommand(
    withControlOptions(
      new Command("put")
        .description("Upload a file (or stdin with -) as an object, streamed")
        .argument("<bucket>")
        .argument("<key>")
        .argument("<file>", "the file to upload, or - for stdin"),
    )
      .option("--content-type <type>", "the object's Content-Type")
      .option("--meta <name=value...>", "custom metadata (repeatable)")
      .action(async (name: string, key: string, file: string, flags: ControlFlags & { contentType?: string; meta?: string[] }) => {
        const total = file === "-" ? null : (await stat(file)).size;
        const source = file === "-" ? process.stdin : createReadStream(file, { highWaterMark: 1024 * 1024 });
        const progress = new Progress(total);
        source.on("data", (chunk: Buffer) => progress.add(chunk.length));
        const headers: Record<string, string> = { "content-type": flags.contentType ?? "application/octet-stream" };
        for (const entry of flags.meta ?? []) {
          const at = entry.indexOf("=");
          if (at < 1) throw new CliError("ATOLL_BAD_REQUEST", `--meta ${JSON.stringify(entry)}: write name=value`);
          headers[`x-atoll-meta-${entry.slice(0, at).toLowerCase()}`] = entry.slice(at + 1);
        }
        const response = await (await client(flags)).raw("PUT", objectPath(name, key), { body: Readable.toWeb(source) as unknown as ReadableStream<Uint8Array>, headers });
        const stored = (await response!.json()) as { size: number; etag: string };
        progress.done();
        console.log(`Put ${JSON.stringify(key)} in ${name}: ${stored.size} bytes, etag ${stored.etag} (${progress.rate()})`);
      }),
  );

  bucket.addCommand(
    withControlOptions(new Command("get").description("Download an object, streamed (to stdout, or --output FILE)").argument("<bucket>").argument("<key>"))
      .option("-o, --output <file>", "write to this file instead of stdout")
      .action(async (name: string, key: string, flags: ControlFlags & { output?: string }) => {
        const response = await (await client(flags)).raw("GET", objectPath(name, key), { notFound: "null" });
        if (!response) throw new CliError("ATOLL_NOT_FOUND", `no object ${JSON.stringify(key)} in bucket "${name}"`);
        const sink: Writable = flags.output ? createWriteStream(flags.output) : process.stdout;
        await pipeline(Readable.fromWeb(response.body as never), sink, { end: flags.output !== undefined });
        if (flags.output) console.error(`Wrote ${response.headers.get("content-length") ?? "?"} bytes to ${flags.output}`);
      }),
  );

  bucket.addCommand(
    withControlOptions(new Command("delete").description("Delete objects").argument("<bucket>").argument("<keys...>")).action(
      async (name: string, keys: string[], flags: ControlFlags) => {
        const control = await client(flags);
        for (const key of keys) {
          await control.raw("DELETE", objectPath(name, key));
          console.log(`Deleted ${JSON.stringify(key)} from ${name}`);
        }
      },
    ),
  );

  bucket.addCommand(
    withControlOptions(new Command("list").description("List objects in key order").argument("<bucket>"))
      .option("--prefix <prefix>", "only keys starting with this")
      .option("--delimiter <delimiter>", 'group keys by this (usually "/")')
      .option("--limit <n>", "at most this many entries (1 to 1000)", parsePositive)
      .option("--cursor <cursor>", "continue a previous listing")
      .option("--json", "print the API's answer as JSON")
      .action(async (name: string, flags: ControlFlags & { prefix?: string; delimiter?: string; limit?: number; cursor?: string; json?: boolean }) => {
        const query = new URLSearchParams();
        for (const option of ["prefix", "delimiter", "cursor"] as const) if (flags[option] !== undefined) query.set(option, flags[option]!);
        if (flags.limit !== undefined) query.set("limit", String(flags.limit));
        const answer = await (await client(flags)).json<{ objects: { key: string; size: number; uploaded: number }[]; truncated: boolean; cursor?: string; delimitedPrefixes: string[] }>(
          "GET",
          `/v1/buckets/${encodeURIComponent(name)}/objects${query.size > 0 ? `?${query}` : ""}`,
        );
        if (flags.json) {
          console.log(JSON.stringify(answer, null, 2));
          return;
        }
        for (const prefix of answer.delimitedPrefixes) console.log(`${prefix}\t(prefix)`);
        for (const object of answer.objects) console.log(`${object.key}\t${object.size}\t${new Date(object.uploaded).toISOString()}`);
        if (answer.truncated) console.error(`More: --cursor ${answer.cursor}`);
      }),
  );
  return bucket;
}

/** Below this a transfer is over in a few round trips: its "rate" would say more about latency than throughput. */
const SMALL_TRANSFER_BYTES = 256 * 1024;

/** "1.25 GB/s", "12.3 MB/s", "850 kB/s", "90 B/s". */
export function formatRate(bytesPerSecond: number): string {
  if (bytesPerSecond >= 1e9) return `${(bytesPerSecond / 1e9).toFixed(2)} GB/s`;
  if (bytesPerSecond >= 1e6) return `${(bytesPerSecond / 1e6).toFixed(1)} MB/s`;
  if (bytesPerSecond >= 1e3) return `${(bytesPerSecond / 1e3).toFixed(0)} kB/s`;
  return `${bytesPerSecond.toFixed(0)} B/s`;
}

/** Erases what a longer earlier line left on the terminal's line. */
const CLEAR_TO_END = "\x1b[K";

/** Bytes sent so far, drawn as a bar on a terminal (nothing when stderr is not one). */
class Progress {
  private sent = 0;
  private readonly started = performance.now();
  private lastDrawn = 0;

  constructor(private readonly total: number | null) {}

  add(bytes: number): void {
    this.sent += bytes;
    const now = performance.now();
    if (process.stderr.isTTY && now - this.lastDrawn > 100) {
      this.lastDrawn = now;
      process.stderr.write(`\r${this.line()}${CLEAR_TO_END}`);
    }
  }

  done(): void {
    if (process.stderr.isTTY) process.stderr.write(`\r${this.line()}${CLEAR_TO_END}\n`);
  }

  /** "12.3 MB/s", "850 kB/s"; for a transfer too small to have a rate worth the name, the time it took. */
  rate(): string {
    const ms = performance.now() - this.started;
    if (this.sent < SMALL_TRANSFER_BYTES) return `in ${ms < 10 ? ms.toFixed(1) : ms.toFixed(0)} ms`;
    return formatRate(this.sent / (Math.max(ms, 1) / 1000));
  }

  private line(): string {
    if (this.total === null || this.total === 0) return `${formatBytes(this.sent)} ${this.rate()}`;
    const share = this.sent / this.total;
    const width = 30;
    const filled = Math.round(share * width);
    return `[${"#".repeat(filled)}${" ".repeat(width - filled)}] ${(share * 100).toFixed(0).padStart(3)}% ${formatBytes(this.sent)}/${formatBytes(this.total)} ${this.rate()}`;
  }
}

