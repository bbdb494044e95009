// `atoll dlq list|replay|purge NAME`: the events a script kept failing (cron
// ticks, bucket events, async invocations) after their retries ran out.
import { Command } from "commander";
import { isValidScriptName } from "../../host/config/script-config.js";
import { BadScriptNameError } from "../../host/errors.js";
import { terminalSafe } from "../../host/terminal-text.js";
import { ControlClient, type DeadLetterInfo } from "../control-client.js";
import { resolveControlOptions, withControlOptions, type ControlFlags } from "../control-options.js";
import { CliError } from "../errors.js";
import { formatTable } from "../table.js";
import { parsePositive } from "../arguments.js";

async function client(name: string, flags: ControlFlags): Promise<ControlClient> {
  if (!isValidScriptName(name)) throw new BadScriptNameError(name);
  return new ControlClient(await resolveControlOptions(flags));
}

export function dlqCommand(): Command {
  const dlq = new Command("dlq").description("The dead-letter list of a script: events (cron ticks, bucket events, async invocations) that failed every retry");

  dlq.addCommand(
    withControlOptions(new Command("list").description("List a script's dead-lettered events, newest first").argument("<name>", "the script's name"))
      .option("--limit <n>", "at most this many (default 20, at most 1000)", parsePositive)
      .option("--before <id>", "those older than this event id (the next page)", parsePositive)
      .option("--json", "print the API's answer as JSON")
      .action(async (name: string, flags: ControlFlags & { limit?: number; before?: number; json?: boolean }) => {
        const answer = await (await client(name, flags)).listDeadLetters(name, {
          ...(flags.limit !== undefined ? { limit: flags.limit } : {}),
          ...(flags.before !== undefined ? { before: flags.before } : {}),
        });
        if (flags.json) {
          console.log(JSON.stringify(answer, null, 2));
          return;
        }
        if (answer.dead_letters.length === 0) {
          console.log(`No dead-lettered events for ${name}`);
          return;
        }
        const rows = [
          ["ID", "EVENT", "ATTEMPTS", "FAILED", "ERROR"],
          ...answer.dead_letters.map((letter) => [String(letter.id), describe(letter), String(letter.attempts), letter.failed_at, firstLine(letter.error)]),
        ];
        console.log(formatTable(rows));
        if (answer.next_before !== null) console.log(`(older ones: atoll dlq list ${name} --before ${answer.next_before})`);
        console.log(`\`atoll dlq replay ${name} [ID…]\` runs them again; \`atoll dlq purge ${name} [ID…]\` deletes them.`);
      }),
  );

  dlq.addCommand(
    withControlOptions(
      new Command("replay")
        .description("Put dead-lettered events back in the queue (all, or those named), their attempts reset: they run again")
        .argument("<name>", "the script's name")
        .argument("[ids...]", "event ids (default: every dead-lettered event of the script)"),
    ).action(async (name: string, ids: string[], flags: ControlFlags) => {
      const chosen = ids.length > 0 ? ids.map(parseId) : undefined;
      const answer = await (await client(name, flags)).replayDeadLetters(name, chosen);
      if (answer.replayed.length === 0) console.log(`Nothing to replay for ${name}${chosen ? ` (no dead-lettered event #${chosen.join(", #")})` : ""}`);
      else console.log(`Replayed ${answer.replayed.length} event(s) of ${name} (#${answer.replayed.join(", #")}): they are queued to run again`);
    }),
  );

  dlq.addCommand(
    withControlOptions(
      new Command("purge")
        .description("Delete dead-lettered events (all, or those named)")
        .argument("<name>", "the script's name")
        .argument("[ids...]", "event ids (default: every dead-lettered event of the script)"),
    ).action(async (name: string, ids: string[], flags: ControlFlags) => {
      const chosen = ids.length > 0 ? ids.map(parseId) : undefined;
      const answer = await (await client(name, flags)).purgeDeadLetters(name, chosen);
      console.log(`Purged ${answer.purged} dead-lettered event(s) of ${name}`);
    }),
  );
  return dlq;
}

function describe(letter: DeadLetterInfo): string {
  const event = letter.event;
  switch (letter.kind) {
    case "scheduled":
      return `scheduled ${JSON.stringify(event["cron"])} ${new Date(Number(event["scheduledTime"])).toISOString()}`;
    case "storage":
      return `storage ${String(event["action"])} ${String(event["bucket"])}/${String(event["key"])}`;
    case "http":
      return `http ${String(event["method"])} ${String(event["path"])}`;
  }
}

/** The first line of a function's error, cut to fit a table; its escape sequences never reach the terminal (host/terminal-text.ts). */
function firstLine(text: string): string {
  const line = terminalSafe(text.split("\n")[0]!, false);
  return line.length > 120 ? `${line.slice(0, 119)}…` : line;
}

function parseId(value: string): number {
  const number = Number(value);
  if (!/^\d+$/.test(value) || number < 1) throw new CliError("ATOLL_BAD_REQUEST", `expected event ids (whole numbers, as \`atoll dlq list\` shows them), got ${JSON.stringify(value)}`);
  return number;
}

