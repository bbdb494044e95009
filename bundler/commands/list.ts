// `atoll list`: the scripts a host has, with their active version and routes.
import { Command } from "commander";
import { ControlClient } from "../control-client.js";
import { resolveControlOptions, withControlOptions, type ControlFlags } from "../control-options.js";

interface ListFlags extends ControlFlags {
  json?: boolean;
}

export function listCommand(): Command {
  return withControlOptions(
    new Command("list").description("List the scripts deployed on a host, with their active version and routes").option("--json", "print the API's answer as JSON"),
  ).action(async (flags: ListFlags) => {
    const scripts = await new ControlClient(await resolveControlOptions(flags)).listScripts();
    if (flags.json) {
      console.log(JSON.stringify(scripts, null, 2));
      return;
    }
    if (scripts.length === 0) {
      console.log("No scripts deployed yet: deploy one with `atoll deploy <dir>`.");
      return;
    }
    const rows = [["NAME", "VERSION", "UPDATED", "ROUTES"], ...scripts.map((script) => [script.name, String(script.active_version), script.updated_at, script.routes.join(", ") || "-"])];
    const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
    for (const row of rows) console.log(row.map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column]!))).join("  "));
  });
}
