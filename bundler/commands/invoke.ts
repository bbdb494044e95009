// `atoll invoke NAME`: run a script's active version once, now, and print what
// happened and what it logged. An HTTP request through its fetch handler (the
// default), one cron tick (--cron) or one bucket event (--storage); --async
// queues it instead, with retries and the dead-letter list of event triggers.
import { readFile } from "node:fs/promises";
import { Command, InvalidArgumentError } from "commander";
import { isValidScriptName } from "../../host/config/script-config.js";
import { BadScriptNameError } from "../../host/errors.js";
import { terminalSafe } from "../../host/terminal-text.js";
import { ControlClient, type InvokeQueued, type InvokeRequest, type InvokeResult } from "../control-client.js";
import { resolveControlOptions, withControlOptions, type ControlFlags } from "../control-options.js";
import { CliError } from "../errors.js";

interface InvokeFlags extends ControlFlags {
  path?: string;
  method?: string;
  data?: string;
  header: [string, string][];
  cron?: string | true;
  storage?: { action: "put" | "delete"; bucket: string; key: string };
  async?: boolean;
  json?: boolean;
}

export function invokeCommand(): Command {
  return withControlOptions(
    new Command("invoke")
      .description(
        "Run a script's active version once, now: an HTTP request through its fetch handler (default), one cron tick (--cron) or one bucket event (--storage). Prints the response or outcome and the invocation's logs",
      )
      .argument("<name>", "the script's name (as in its atoll.toml)")
      .option("--path <path>", "HTTP: the path and query to request (default /)")
      .option("--method <method>", "HTTP: the request method (default GET, or POST with --data)")
      .option("--data <data>", "HTTP: the request body: text, @file for a file's bytes, @- for stdin")
      .option("--header <name:value>", "HTTP: a request header (repeatable)", collectHeader, [])
      .option("--cron [expression]", "run the scheduled handler once, with this cron expression (default: the script's first schedule)")
      .option("--storage <action:bucket/key>", "run the storage handler once for this change, e.g. put:uploads/images/a.png", parseStorage)
      .option("--async", "queue the invocation instead of waiting: it is delivered at least once, retried on failure, then dead-lettered")
      .option("--json", "print the API's answer as JSON"),
  )
    .addHelpText(
      "after",
      '\nExamples:\n  atoll invoke hello\n  atoll invoke api --method POST --path /items --data @item.json --header content-type:application/json\n  atoll invoke crawler --cron "0 * * * *"\n  atoll invoke thumbnails --storage put:uploads/images/cat.png\n  atoll invoke crawler --cron --async\n',
    )
    .action(async (name: string, flags: InvokeFlags) => {
      if (!isValidScriptName(name)) throw new BadScriptNameError(name);
      const request = await buildRequest(flags);
      const answer = await new ControlClient(await resolveControlOptions(flags)).invoke(name, request);
      if (flags.json) {
        console.log(JSON.stringify(answer, null, 2));
      } else if ("queued" in answer) {
        printQueued(answer);
        return;
      } else {
        printResult(answer);
      }
      if (!("queued" in answer) && answer.outcome !== "ok") process.exitCode = 1;
    });
}

async function buildRequest(flags: InvokeFlags): Promise<InvokeRequest> {
  const http = flags.path !== undefined || flags.method !== undefined || flags.data !== undefined || flags.header.length > 0;
  const kinds = [http && "HTTP options (--path, --method, --data, --header)", flags.cron !== undefined && "--cron", flags.storage && "--storage"].filter(Boolean);
  if (kinds.length > 1) throw new CliError("ATOLL_BAD_REQUEST", `one invocation is one kind of event: ${kinds.join(", ")} cannot go together`);
  const async = flags.async ? { async: true } : {};
  if (flags.cron !== undefined) return { kind: "scheduled", ...(flags.cron === true ? {} : { cron: flags.cron }), ...async };
  if (flags.storage) return { kind: "storage", ...flags.storage, ...async };
  const request: InvokeRequest = { kind: "http", path: flags.path ?? "/", headers: flags.header, ...async };
  if (flags.method !== undefined) request.method = flags.method;
  if (flags.data !== undefined) {
    const bytes = await readData(flags.data);
    const text = utf8(bytes);
    request.body = text ?? Buffer.from(bytes).toString("base64");
    request.encoding = text === undefined ? "base64" : "text";
  }
  return request;
}

async function readData(data: string): Promise<Uint8Array> {
  if (!data.startsWith("@")) return new TextEncoder().encode(data);
  const source = data.slice(1);
  if (source === "-") {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return new Uint8Array(Buffer.concat(chunks));
  }
  try {
    return new Uint8Array(await readFile(source));
  } catch (error) {
    throw new CliError("ATOLL_BAD_REQUEST", `--data ${data}: cannot read ${source}: ${(error as Error).message}`);
  }
}

function printQueued(answer: InvokeQueued): void {
  console.log(`Queued ${answer.kind} invocation #${answer.id} of ${answer.name}: it runs at least once; a failure is retried, then dead-lettered (atoll dlq list ${answer.name})`);
}

function printResult(answer: InvokeResult): void {
  const timing = `version ${answer.version}, ${answer.cold ? "cold" : "warm"}, ${answer.duration_ms} ms`;
  const event = answer.event;
  const what =
    answer.kind === "scheduled"
      ? `scheduled ${JSON.stringify(event["cron"] ?? "")}`
      : answer.kind === "storage"
        ? `storage ${String(event["action"])} ${String(event["bucket"])}/${String(event["key"])}`
        : `${String(event["method"])} ${String(event["path"])}`;
  if (answer.response) {
    const { status, status_text, headers, body, body_encoding, truncated } = answer.response;
    console.log(`HTTP ${status}${status_text ? ` ${status_text}` : ""}  (${timing})`);
    for (const [header, value] of headers) console.log(`${header}: ${value}`);
    console.log("");
    if (body_encoding === "base64") process.stdout.write(Buffer.from(body, "base64"));
    else process.stdout.write(body);
    if (body.length > 0 && !(body_encoding === "text" && body.endsWith("\n"))) process.stdout.write("\n");
    if (truncated) console.log("(the body was cut: a direct invocation keeps its first MiB)");
  } else if (answer.outcome === "ok") {
    console.log(`${what}: ok${answer.no_retry ? " (noRetry() was called)" : ""}  (${timing})`);
  }
  // The function's errors and logs are its text: colours on a terminal only, never another escape sequence (host/terminal-text.ts).
  // (The body is printed as it is, as curl does: it is what was asked for.)
  const safe = (text: string) => terminalSafe(text, process.stdout.isTTY === true);
  if (answer.error) {
    console.log(`${what}: failed (${timing}): ${answer.error.code}: ${safe(answer.error.message)}${answer.no_retry ? " (noRetry() was called)" : ""}`);
    if (answer.error.stack) console.log(indent(safe(answer.error.stack)));
  }
  if (answer.logs.length > 0 || answer.dropped_logs > 0) {
    console.log(`--- logs (${answer.logs.length}${answer.dropped_logs > 0 ? `, ${answer.dropped_logs} more dropped` : ""}) ---`);
    for (const line of answer.logs) console.log(`${line.level}: ${safe(line.message)}`);
  }
}

function indent(text: string): string {
  return text
    .split("\n")
    .map((line) => `  ${line}`)
    .join("\n");
}

function collectHeader(value: string, previous: [string, string][]): [string, string][] {
  const colon = value.indexOf(":");
  if (colon <= 0) throw new InvalidArgumentError('expected name:value, e.g. "content-type:application/json"');
  return [...previous, [value.slice(0, colon).trim(), value.slice(colon + 1).trim()]];
}

function parseStorage(value: string): { action: "put" | "delete"; bucket: string; key: string } {
  const match = /^(put|delete):([^/]+)\/(.+)$/.exec(value);
  if (!match) throw new InvalidArgumentError("expected action:bucket/key, e.g. put:uploads/images/cat.png (action: put or delete)");
  return { action: match[1] as "put" | "delete", bucket: match[2]!, key: match[3]! };
}

function utf8(bytes: Uint8Array): string | undefined {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return undefined;
  }
}
