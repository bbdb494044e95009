// `atoll tail NAME`: a script's invocations live, as they end (server-sent
// events from GET /v1/scripts/:name/logs). `atoll logs NAME`: the stored ones
// (GET /v1/scripts/:name/invocations), newest last.
import { Command, InvalidArgumentError } from "commander";
import { isValidScriptName } from "../../host/config/script-config.js";
import { BadScriptNameError } from "../../host/errors.js";
import { ControlClient } from "../control-client.js";
import { resolveControlOptions, withControlOptions, type ControlFlags } from "../control-options.js";
import { formatInvocation, type InvocationJson } from "../invocation-format.js";
import { parsePositive } from "../arguments.js";
import { stopOnSignal } from "../stop-on-signal.js";

interface FilterFlags {
  status?: string;
  outcome?: string;
  method?: string;
  trigger?: string;
  search?: string;
  format: "pretty" | "json";
}

function withFilterOptions(command: Command): Command {
  return command
    .option("--status <codes>", "only these statuses: codes or classes, comma-separated (5xx,404)")
    .option("--outcome <outcomes>", "only these outcomes: ok, exception, cpu, memory, wall, crashed, rejected (comma-separated)")
    .option("--method <methods>", "only these HTTP methods (GET,POST)")
    .option("--trigger <triggers>", "only these triggers: http, cron, storage, invoke")
    .option("--search <text>", "only invocations whose path, event, error or console output holds this text")
    .option("--format <format>", "pretty (default) or json (one record per line)", parseFormat, "pretty");
}

function parseFormat(value: string): "pretty" | "json" {
  if (value !== "pretty" && value !== "json") throw new InvalidArgumentError("expected pretty or json");
  return value;
}

function filterQuery(flags: FilterFlags): URLSearchParams {
  const query = new URLSearchParams();
  for (const key of ["status", "outcome", "method", "trigger", "search"] as const) if (flags[key] !== undefined) query.set(key, flags[key]!);
  return query;
}

function print(record: InvocationJson, format: "pretty" | "json"): void {
  console.log(format === "json" ? JSON.stringify(record) : formatInvocation(record));
}

export function tailCommand(): Command {
  return withFilterOptions(withControlOptions(new Command("tail").description("Show a script's invocations live, each as it ends, with its console output").argument("<name>", "the script's name")))
    .option("--sample <rate>", "show this share of the invocations that match, above 0 and at most 1 (0.1: one in ten)")
    .action(async (name: string, flags: ControlFlags & FilterFlags & { sample?: string }) => {
      if (!isValidScriptName(name)) throw new BadScriptNameError(name);
      const client = new ControlClient(await resolveControlOptions(flags));
      const query = filterQuery(flags);
      if (flags.sample !== undefined) query.set("sample", flags.sample);
      const abort = new AbortController();
      const { stopped } = stopOnSignal(async () => abort.abort());
      const response = (await client.raw("GET", `/v1/scripts/${encodeURIComponent(name)}/logs${query.size > 0 ? `?${query}` : ""}`, { headers: { accept: "text/event-stream" }, signal: abort.signal }))!;
      const reading = readEvents(response.body!, (event, data) => {
        if (event === "ready") console.error(`Tailing ${name}${flags.sample ? ` (sample ${flags.sample})` : ""}: invocations show as they end. Ctrl+C to stop.`);
        else if (event === "invocation") print(JSON.parse(data) as InvocationJson, flags.format);
      }).then(
        () => console.error(`The host ended the tail of ${name} (it stopped, or this tail fell too far behind).`),
        (error: unknown) => {
          if (!abort.signal.aborted) throw error;
        },
      );
      await Promise.race([reading, stopped]);
    });
}

export function logsCommand(): Command {
  return withFilterOptions(withControlOptions(new Command("logs").description("Show a script's stored invocations (the host keeps them 7 days by default), oldest first").argument("<name>", "the script's name")))
    .option("--since <when>", "from this long ago (1h, 30m, 7d) or this ISO 8601 time (default 1h)", "1h")
    .option("--until <when>", "up to this long ago or this time")
    .option("--limit <n>", "at most this many, the newest (default 100, at most 1000)", parsePositive)
    .action(async (name: string, flags: ControlFlags & FilterFlags & { since: string; until?: string; limit?: number }) => {
      if (!isValidScriptName(name)) throw new BadScriptNameError(name);
      const client = new ControlClient(await resolveControlOptions(flags));
      const query = filterQuery(flags);
      query.set("since", flags.since);
      if (flags.until !== undefined) query.set("until", flags.until);
      if (flags.limit !== undefined) query.set("limit", String(flags.limit));
      const answer = await client.json<{ invocations: InvocationJson[]; next_before: number | null }>("GET", `/v1/scripts/${encodeURIComponent(name)}/invocations?${query}`);
      if (answer.invocations.length === 0) {
        console.error(`No invocations of ${name} match since ${flags.since}`);
        return;
      }
      for (const record of [...answer.invocations].reverse()) print(record, flags.format);
      if (answer.next_before !== null) console.error(`(older ones exist: narrow --since, or raise --limit)`);
    });
}

/** Reads a text/event-stream body, calling `onEvent` per event; resolves at its end. */
async function readEvents(body: ReadableStream<Uint8Array>, onEvent: (event: string, data: string) => void): Promise<void> {
  const decoder = new TextDecoder();
  let buffered = "";
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
    buffered += decoder.decode(chunk, { stream: true });
    for (let end = buffered.indexOf("\n\n"); end !== -1; end = buffered.indexOf("\n\n")) {
      const block = buffered.slice(0, end);
      buffered = buffered.slice(end + 2);
      let event = "message";
      const data: string[] = [];
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) event = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
      }
      if (data.length > 0) onEvent(event, data.join("\n"));
    }
  }
}
