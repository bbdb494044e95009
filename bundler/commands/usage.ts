// `atoll usage [NAME] --since 7d`: what each script used, the meter of pay per
// call (GET /v1/usage): requests, errors, CPU-ms, GB-seconds, bytes in and out,
// and what it cost when the host has a price table ([billing]).
import { Command } from "commander";
import { isValidScriptName } from "../../host/config/script-config.js";
import { BadScriptNameError } from "../../host/errors.js";
import { describeCost, formatCost, type Cost } from "../../host/observe/billing.js";
import { ControlClient } from "../control-client.js";
import { resolveControlOptions, withControlOptions, type ControlFlags } from "../control-options.js";
import { formatTable } from "../table.js";
import { formatBytes } from "../sizes.js";

interface UsageFigures {
  kv_reads: number;
  kv_writes: number;
  kv_lists: number;
  bucket_class_a: number;
  bucket_class_b: number;
  requests: number;
  errors: number;
  cpu_ms: number;
  gb_s: number;
  bytes_in: number;
  bytes_out: number;
  fetch_bytes_in: number;
  fetch_bytes_out: number;
  bytes_stored: number;
  /** Only from a host with a price table. */
  cost?: CostFigures;
}

type CostFigures = Cost & { currency: string };

export function usageCommand(): Command {
  return withControlOptions(new Command("usage").description("What scripts used: requests, errors, CPU-ms, GB-seconds (wall time × memory_mb), bytes in and out; and what it cost, when the host has a [billing] price table").argument("[name]", "one script (default: all)"))
    .option("--since <when>", "from this long ago (1h, 7d) or this ISO 8601 time", "7d")
    .option("--until <when>", "up to this long ago or this time")
    .option("--hourly", "one row per script and hour")
    .option("--json", "print the API's answer as JSON")
    .action(async (name: string | undefined, flags: ControlFlags & { since: string; until?: string; hourly?: boolean; json?: boolean }) => {
      if (name !== undefined && !isValidScriptName(name)) throw new BadScriptNameError(name);
      const client = new ControlClient(await resolveControlOptions(flags));
      const query = new URLSearchParams({ since: flags.since });
      if (flags.until !== undefined) query.set("until", flags.until);
      if (name !== undefined) query.set("script", name);
      const answer = await client.json<{ since: string; until: string; scripts: (UsageFigures & { script: string; hours: (UsageFigures & { hour: string })[] })[]; total_cost?: CostFigures }>(
        "GET",
        `/v1/usage?${query}`,
      );
      if (flags.json) {
        console.log(JSON.stringify(answer, null, 2));
        return;
      }
      if (answer.scripts.length === 0) {
        console.log(`No invocations${name ? ` of ${name}` : ""} from ${answer.since} to ${answer.until}`);
        return;
      }
      // A host without [billing] sends no cost at all: no column then.
      const totalCost = answer.total_cost;
      const priced = totalCost !== undefined;
      const row = (label: string[], figures: UsageFigures) => [
        ...label,
        String(figures.requests),
        String(figures.errors),
        figures.cpu_ms.toFixed(1),
        figures.gb_s.toFixed(3),
        formatBytes(figures.bytes_in),
        formatBytes(figures.bytes_out),
        `${figures.kv_reads}/${figures.kv_writes}/${figures.kv_lists}`,
        `${figures.bucket_class_a}/${figures.bucket_class_b}`,
        `${formatBytes(figures.fetch_bytes_in)}/${formatBytes(figures.fetch_bytes_out)}`,
        formatBytes(figures.bytes_stored),
        ...(priced ? [figures.cost ? formatCost(figures.cost.total, figures.cost.currency) : "-"] : []),
      ];
      const rows = flags.hourly
        ? answer.scripts.flatMap((script) => script.hours.map((hour) => row([script.script, hour.hour], hour)))
        : answer.scripts.map((script) => row([script.script], script));
      console.log(formatTable([[...(flags.hourly ? ["SCRIPT", "HOUR"] : ["SCRIPT"]), "REQUESTS", "ERRORS", "CPU-MS", "GB-S", "IN", "OUT", "KV R/W/LIST", "BUCKET A/B", "FETCH IN/OUT", "STORED", ...(priced ? ["COST"] : [])], ...rows]));
      if (totalCost) console.log(`total cost ${formatCost(totalCost.total, totalCost.currency)}: ${describeCost(totalCost, totalCost.currency)}`);
      console.log(`from ${answer.since} to ${answer.until}; bucket A: puts and lists, B: gets and heads (as R2 bills them); fetch: bytes of the functions' outbound fetches; stored: what their buckets hold (the latest hour)`);
    });
}

