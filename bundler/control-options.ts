// How client commands find the control API and its token: a flag, else an
// environment variable, else the default (for the token: the file the host
// writes into its data directory).
import { readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { Command } from "commander";
import type { ControlOptions } from "./control-client.js";
import { TOKEN_FILE_NAME } from "../host/control/auth.js";
import { CliError, MissingTokenError } from "./errors.js";

export const DEFAULT_CONTROL_URL = "http://127.0.0.1:8788";
export const DEFAULT_DATA_DIR = ".atoll";

export interface ControlFlags {
  controlUrl?: string;
  token?: string;
  dataDir?: string;
}

/** Adds --control-url, --token and --data-dir to a client command. */
export function withControlOptions(command: Command): Command {
  return command
    .option("--control-url <url>", `the host's control API (default: $ATOLL_CONTROL_URL, else ${DEFAULT_CONTROL_URL})`)
    .option("--token <token>", `admin token (default: $ATOLL_TOKEN, else the file <data-dir>/${TOKEN_FILE_NAME})`)
    .option("--data-dir <dir>", "the host's data directory, where its admin token is read from", DEFAULT_DATA_DIR);
}

export async function resolveControlOptions(flags: ControlFlags, env: NodeJS.ProcessEnv = process.env): Promise<ControlOptions> {
  const controlUrl = flags.controlUrl ?? nonEmpty(env["ATOLL_CONTROL_URL"]) ?? DEFAULT_CONTROL_URL;
  if (!URL.canParse(controlUrl) || !/^https?:$/.test(new URL(controlUrl).protocol)) {
    throw new CliError("ATOLL_CONTROL_UNREACHABLE", `the control URL ${JSON.stringify(controlUrl)} is not an http(s) URL: pass one such as ${DEFAULT_CONTROL_URL}`);
  }
  const token = nonEmpty(flags.token) ?? nonEmpty(env["ATOLL_TOKEN"]) ?? (await readTokenFile(flags.dataDir ?? DEFAULT_DATA_DIR));
  return { controlUrl: controlUrl.replace(/\/+$/, ""), token };
}

async function readTokenFile(dataDir: string): Promise<string> {
  const file = resolve(join(dataDir, TOKEN_FILE_NAME));
  let token: string | undefined;
  try {
    token = nonEmpty((await readFile(file, "utf8")).trim());
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw new CliError("ATOLL_NO_TOKEN", `cannot read the admin token from ${file}: ${(error as Error).message}`);
  }
  if (!token) throw new MissingTokenError(file);
  return token;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === "" ? undefined : value.trim();
}
