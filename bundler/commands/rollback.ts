// `atoll rollback NAME [VERSION]`: point a script back at an older version, or cancel its canary.
import { Command, InvalidArgumentError } from "commander";
import { isValidScriptName } from "../../host/config/script-config.js";
import { BadScriptNameError } from "../../host/errors.js";
import { ControlClient } from "../control-client.js";
import { resolveControlOptions, withControlOptions, type ControlFlags } from "../control-options.js";

export function rollbackCommand(): Command {
  return withControlOptions(
    new Command("rollback")
      .description(
        "Make an older version of a script active again, without uploading anything: VERSION, or by default the version active before the current one. While a canary is live, cancel it instead",
      )
      .argument("<name>", "the script's name (as in its atoll.toml)")
      .argument("[version]", "the version to make active (see `atoll versions NAME`)", parseVersion),
  )
    .addHelpText("after", "\nExamples:\n  atoll rollback hello\n  atoll rollback hello 3\n")
    .action(async (name: string, version: number | undefined, flags: ControlFlags) => {
      if (!isValidScriptName(name)) throw new BadScriptNameError(name);
      const change = await new ControlClient(await resolveControlOptions(flags)).rollback(name, version);
      if (change.kind === "cancel-canary") {
        console.log(`Cancelled the canary of ${name} (version ${change.ended_canary?.version}): version ${change.active_version} serves every request`);
        return;
      }
      const cancelled = change.ended_canary ? `; the canary version ${change.ended_canary.version} is cancelled` : "";
      console.log(`Rolled back ${name} to version ${change.active_version} (was version ${change.previous_version})${cancelled}`);
    });
}

function parseVersion(value: string): number {
  const number = Number(value);
  if (!/^\d+$/.test(value) || number < 1) throw new InvalidArgumentError("expected a version number (1, 2, 3 …)");
  return number;
}
