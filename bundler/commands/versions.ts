// `atoll versions NAME`: a script's versions, newest first, with the active one and any canary marked.
import { Command } from "commander";
import { isValidScriptName } from "../../host/config/script-config.js";
import { BadScriptNameError } from "../../host/errors.js";
import { ControlClient } from "../control-client.js";
import { resolveControlOptions, withControlOptions, type ControlFlags } from "../control-options.js";
import { formatBytes } from "../sizes.js";
import { formatTable } from "../table.js";
import { parsePositive } from "../arguments.js";

interface VersionsFlags extends ControlFlags {
  json?: boolean;
  limit?: number;
  before?: number;
}

export function versionsCommand(): Command {
  return withControlOptions(
    new Command("versions")
      .description("List a script's versions, newest first: when each was uploaded, its size, bundle hash and message, which one is active and which is a canary")
      .argument("<name>", "the script's name (as in its atoll.toml)")
      .option("--json", "print the API's answer as JSON")
      .option("--limit <n>", "versions per page, 1 to 100 (default 20)", parsePositive)
      .option("--before <version>", "list the versions older than this one (the next page)", parsePositive),
  )
    .addHelpText("after", "\nExamples:\n  atoll versions hello\n  atoll versions hello --limit 100 --json\n")
    .action(async (name: string, flags: VersionsFlags) => {
      if (!isValidScriptName(name)) throw new BadScriptNameError(name);
      const client = new ControlClient(await resolveControlOptions(flags));
      const list = await client.listVersions(name, { ...(flags.limit !== undefined ? { limit: flags.limit } : {}), ...(flags.before !== undefined ? { before: flags.before } : {}) });
      if (flags.json) {
        console.log(JSON.stringify(list, null, 2));
        return;
      }
      const status = (version: (typeof list.versions)[number]) => (version.active ? "active" : version.canary ? `canary ${list.canary?.percent ?? "?"}%` : "-");
      const rows = [
        ["VERSION", "STATUS", "CREATED", "SIZE", "HASH", "MESSAGE"],
        ...list.versions.map((version) => [String(version.version), status(version), version.created_at, formatBytes(version.bundle_bytes), version.bundle_hash.slice(0, 12), version.message ?? ""]),
      ];
      console.log(formatTable(rows));
      if (list.next_before !== null) console.log(`(older versions: atoll versions ${name} --before ${list.next_before})`);
      if (list.canary) {
        console.log(`Version ${list.canary.version} is a canary serving ${list.canary.percent}% of clients: \`atoll promote ${name}\` completes it, \`atoll rollback ${name}\` cancels it.`);
      } else if (list.previous_version !== null) {
        console.log(`\`atoll rollback ${name}\` goes back to version ${list.previous_version}.`);
      }
    });
}

