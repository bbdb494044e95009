// `atoll kv get|put|delete|list NAMESPACE ...`: the KV namespaces functions
// bind with [[kv_namespaces]], for operators (seed data, inspect, clean up).
import { readFile } from "node:fs/promises";
import { Command } from "commander";
import { ControlClient } from "../control-client.js";
import { resolveControlOptions, withControlOptions, type ControlFlags } from "../control-options.js";
import { CliError } from "../errors.js";
import { parsePositive } from "../arguments.js";

const METADATA_HEADER = "x-atoll-kv-metadata";

function valuesPath(namespace: string, key: string): string {
  return `/v1/kv/${encodeURIComponent(namespace)}/values/${encodeURIComponent(key)}`;
}

async function client(flags: ControlFlags): Promise<ControlClient> {
  return new ControlClient(await resolveControlOptions(flags));
}

export function kvCommand(): Command {
  const kv = new Command("kv").description("Read and write KV namespaces (the ones functions bind with [[kv_namespaces]])");

  kv.addCommand(
    withControlOptions(new Command("get").description("Print a key's value (raw bytes to stdout)").argument("<namespace>").argument("<key>"))
      .option("--metadata", "print the key's metadata (JSON) on stderr too")
      .action(async (namespace: string, key: string, flags: ControlFlags & { metadata?: boolean }) => {
        const response = await (await client(flags)).raw("GET", valuesPath(namespace, key), { notFound: "null" });
        if (!response) throw new CliError("ATOLL_NOT_FOUND", `no key ${JSON.stringify(key)} in KV namespace "${namespace}"`);
        if (flags.metadata) console.error(response.headers.get(METADATA_HEADER) ?? "null");
        process.stdout.write(new Uint8Array(await response.arrayBuffer()));
      }),
  );

  kv.addCommand(
    withControlOptions(
      new Command("put")
        .description("Write a key: the value is the argument, --file, or stdin")
        .argument("<namespace>")
        .argument("<key>")
        .argument("[value]", "the value as text (else --file, else stdin)"),
    )
      .option("--file <path>", "read the value from a file")
      .option("--ttl <seconds>", "expire the key after this many seconds", parsePositive)
      .option("--expiration <epoch-seconds>", "expire the key at this time (seconds since the epoch)", parsePositive)
      .option("--metadata <json>", "metadata to keep with the key (JSON, up to 1 KiB)")
      .action(async (namespace: string, key: string, value: string | undefined, flags: ControlFlags & { file?: string; ttl?: number; expiration?: number; metadata?: string }) => {
        const bytes = value !== undefined ? new TextEncoder().encode(value) : flags.file ? new Uint8Array(await readFile(flags.file)) : await readStdin();
        const query = new URLSearchParams();
        if (flags.ttl !== undefined) query.set("expiration_ttl", String(flags.ttl));
        if (flags.expiration !== undefined) query.set("expiration", String(flags.expiration));
        const headers: Record<string, string> = { "content-type": "application/octet-stream" };
        if (flags.metadata !== undefined) headers[METADATA_HEADER] = flags.metadata;
        const search = query.size > 0 ? `?${query}` : "";
        await (await client(flags)).raw("PUT", `${valuesPath(namespace, key)}${search}`, { body: bytes, headers });
        console.log(`Put ${JSON.stringify(key)} in ${namespace} (${bytes.byteLength} bytes)`);
      }),
  );

  kv.addCommand(
    withControlOptions(new Command("delete").description("Delete a key (deleting a missing key is not an error)").argument("<namespace>").argument("<key>")).action(
      async (namespace: string, key: string, flags: ControlFlags) => {
        await (await client(flags)).raw("DELETE", valuesPath(namespace, key));
        console.log(`Deleted ${JSON.stringify(key)} from ${namespace}`);
      },
    ),
  );

  kv.addCommand(
    withControlOptions(new Command("list").description("List keys in key order").argument("<namespace>"))
      .option("--prefix <prefix>", "only keys starting with this")
      .option("--limit <n>", "at most this many keys (1 to 1000)", parsePositive)
      .option("--cursor <cursor>", "continue a previous listing")
      .option("--json", "print the API's answer as JSON")
      .action(async (namespace: string, flags: ControlFlags & { prefix?: string; limit?: number; cursor?: string; json?: boolean }) => {
        const query = new URLSearchParams();
        if (flags.prefix !== undefined) query.set("prefix", flags.prefix);
        if (flags.limit !== undefined) query.set("limit", String(flags.limit));
        if (flags.cursor !== undefined) query.set("cursor", flags.cursor);
        const answer = await (await client(flags)).json<{ keys: { name: string; expiration?: number }[]; list_complete: boolean; cursor?: string }>(
          "GET",
          `/v1/kv/${encodeURIComponent(namespace)}/keys${query.size > 0 ? `?${query}` : ""}`,
        );
        if (flags.json) {
          console.log(JSON.stringify(answer, null, 2));
          return;
        }
        for (const key of answer.keys) console.log(key.expiration ? `${key.name}\t(expires ${new Date(key.expiration * 1000).toISOString()})` : key.name);
        if (!answer.list_complete) console.error(`More keys: --cursor ${answer.cursor}`);
      }),
  );
  return kv;
}

async function readStdin(): Promise<Uint8Array> {
  if (process.stdin.isTTY) throw new CliError("ATOLL_BAD_REQUEST", "no value: pass it as an argument, with --file, or on stdin");
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return new Uint8Array(Buffer.concat(chunks));
}
