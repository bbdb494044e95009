// `atoll secret put|list|delete`: a script's secrets. Values are read from
// stdin (never from the command line, so never in shell history) and are
// never shown again: `list` prints names only.
import { Command } from "commander";
import { isValidScriptName, isValidVarName } from "../../host/config/script-config.js";
import { BadScriptNameError, BadSecretNameError } from "../../host/errors.js";
import { ControlClient } from "../control-client.js";
import { resolveControlOptions, withControlOptions, type ControlFlags } from "../control-options.js";
import { readSecretValue } from "../secret-input.js";
import { formatTable } from "../table.js";

interface ListFlags extends ControlFlags {
  json?: boolean;
}

export function secretCommand(): Command {
  const secret = new Command("secret")
    .description("Manage a script's secrets: encrypted values its functions read from env, like [vars] but never shown again")
    .addHelpText("after", "\nExamples:\n  atoll secret put hello API_KEY < api-key.txt\n  printf %s \"$TOKEN\" | atoll secret put hello TOKEN\n  atoll secret list hello\n  atoll secret delete hello API_KEY\n");

  secret.addCommand(
    withControlOptions(
      new Command("put")
        .description("Add or replace a secret; its value is read from stdin (typed without echo at a terminal), and the script's next requests see it")
        .argument("<name>", "the script's name")
        .argument("<key>", "the secret's name in env: letters, digits and _"),
    ).action(async (name: string, key: string, flags: ControlFlags) => {
      checkNames(name, key);
      const control = await resolveControlOptions(flags);
      const value = await readSecretValue(`Value of secret ${key} for ${name}: `);
      const saved = await new ControlClient(control).putSecret(name, key, value);
      console.log(`${saved.created ? "Added" : "Replaced"} secret ${key} of ${name}; its next requests see it`);
    }),
  );

  secret.addCommand(
    withControlOptions(
      new Command("list").description("List a script's secrets: names and when each was last put, never values").argument("<name>", "the script's name").option("--json", "print the API's answer as JSON"),
    ).action(async (name: string, flags: ListFlags) => {
      checkNames(name);
      const secrets = await new ControlClient(await resolveControlOptions(flags)).listSecrets(name);
      if (flags.json) {
        console.log(JSON.stringify(secrets, null, 2));
        return;
      }
      if (secrets.length === 0) {
        console.log(`${name} has no secrets: add one with \`atoll secret put ${name} KEY\``);
        return;
      }
      console.log(formatTable([["KEY", "UPDATED"], ...secrets.map((entry) => [entry.key, entry.updated_at])]));
    }),
  );

  secret.addCommand(
    withControlOptions(
      new Command("delete").description("Delete a secret; the script's next requests no longer see it").argument("<name>", "the script's name").argument("<key>", "the secret's name"),
    ).action(async (name: string, key: string, flags: ControlFlags) => {
      checkNames(name, key);
      await new ControlClient(await resolveControlOptions(flags)).deleteSecret(name, key);
      console.log(`Deleted secret ${key} of ${name}`);
    }),
  );

  return secret;
}

function checkNames(name: string, key?: string): void {
  if (!isValidScriptName(name)) throw new BadScriptNameError(name);
  if (key !== undefined && !isValidVarName(key)) throw new BadSecretNameError(key);
}
