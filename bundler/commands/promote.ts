// `atoll promote NAME`: complete a gradual deploy, making the canary the active version.
import { Command } from "commander";
import { isValidScriptName } from "../../host/config/script-config.js";
import { BadScriptNameError } from "../../host/errors.js";
import { ControlClient } from "../control-client.js";
import { resolveControlOptions, withControlOptions, type ControlFlags } from "../control-options.js";

export function promoteCommand(): Command {
  return withControlOptions(
    new Command("promote")
      .description("Complete a gradual deploy (`atoll deploy --percent`): the canary becomes the active version and serves every request")
      .argument("<name>", "the script's name (as in its atoll.toml)"),
  )
    .addHelpText("after", "\nExamples:\n  atoll deploy --percent 10 && atoll promote hello\n")
    .action(async (name: string, flags: ControlFlags) => {
      if (!isValidScriptName(name)) throw new BadScriptNameError(name);
      const change = await new ControlClient(await resolveControlOptions(flags)).promote(name);
      console.log(`Promoted ${name} version ${change.active_version}: it serves every request (was version ${change.previous_version})`);
    });
}
