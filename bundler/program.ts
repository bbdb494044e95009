// The `atoll` program: its commands, and how it reports failures (a message,
// exit status 1, and a stack trace only with ATOLL_DEBUG=1).
import { Command } from "commander";
import { AtollError } from "../host/errors.js";
import { commands } from "./commands/index.js";
import { CliError } from "./errors.js";
import { packageVersion } from "./package-root.js";

export function createProgram(): Command {
  const program = new Command("atoll")
    .description("Atoll: build, deploy and run edge functions on your own machines")
    .version(packageVersion(), "-v, --version")
    .showHelpAfterError("(add --help for usage)")
    .showSuggestionAfterError();
  for (const create of commands) {
    const command = create();
    command.copyInheritedSettings(program);
    program.addCommand(command);
  }
  return program;
}

/** Runs the CLI; resolves with the exit status it set. */
export async function runCli(argv: readonly string[] = process.argv): Promise<number> {
  try {
    await createProgram().parseAsync(argv);
    return 0;
  } catch (error) {
    reportError(error);
    process.exitCode = 1;
    return 1;
  }
}

function reportError(error: unknown): void {
  if (process.env["ATOLL_DEBUG"] === "1") {
    console.error(error instanceof Error ? (error.stack ?? error.message) : error);
    return;
  }
  if (error instanceof AtollError || error instanceof CliError) {
    console.error(`error: ${error.message}`);
    return;
  }
  const message = error instanceof Error ? error.message : String(error);
  console.error(`error: ${message}\n(set ATOLL_DEBUG=1 to see where it came from)`);
}
