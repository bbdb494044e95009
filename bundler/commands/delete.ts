// `atoll delete NAME`: remove a script, all its versions and its routes from a host.
import { Command } from "commander";
import { isValidScriptName } from "../../host/config/script-config.js";
import { BadScriptNameError } from "../../host/errors.js";
import { ControlClient } from "../control-client.js";
import { resolveControlOptions, withControlOptions, type ControlFlags } from "../control-options.js";

export function deleteCommand(): Command {
  return withControlOptions(
    new Command("delete").description("Delete a script from a host: every version, and its routes stop answering").argument("<name>", "the script's name (as in its atoll.toml)"),
  ).action(async (name: string, flags: ControlFlags) => {
    if (!isValidScriptName(name)) throw new BadScriptNameError(name);
    const answer = await new ControlClient(await resolveControlOptions(flags)).deleteScript(name);
    console.log(`Deleted ${answer.deleted ?? name}`);
  });
}
