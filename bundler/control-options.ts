// How client commands find the control API and its token: a flag, else an
// environment variable, else a profile saved by `atoll login`, else the
// default (for the token: the file the host writes into its data directory).
import { readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { Command } from "commander";
import type { ControlOptions } from "./control-client.js";
import { TOKEN_FILE_NAME } from "../host/control/auth.js";
import { CliError, MissingTokenError } from "./errors.js";
import { DEFAULT_PROFILE, readProfile, readProfiles, type Profile } from "./profiles.js";

export const DEFAULT_CONTROL_URL = "http://127.0.0.1:8788";
export const DEFAULT_DATA_DIR = ".atoll";

export interface ControlFlags {
  controlUrl?: string;
  token?: string;
  dataDir?: string;
  profile?: string;
}

/** Where the token in use came from (`atoll whoami`). */
export type TokenSource = "--token" | "ATOLL_TOKEN" | `profile "${string}"` | `${string}/${typeof TOKEN_FILE_NAME}`;

export interface ResolvedControl extends ControlOptions {
  tokenSource: TokenSource;
  /** The profile that gave the URL or the token, if one did. */
  profile: string | null;
}

/** Adds --control-url, --token, --data-dir and --profile to a client command. */
export function withControlOptions(command: Command): Command {
  return command
    .option("--control-url <url>", `the host's control API (default: $ATOLL_CONTROL_URL, else the profile's, else ${DEFAULT_CONTROL_URL})`)
    .option("--token <token>", `admin token (default: $ATOLL_TOKEN, else the profile's, else the file <data-dir>/${TOKEN_FILE_NAME})`)
    .option("--data-dir <dir>", "the host's data directory, where its admin token is read from", DEFAULT_DATA_DIR)
    .option("--profile <name>", `a login saved by \`atoll login\` (default: $ATOLL_PROFILE, else "${DEFAULT_PROFILE}" when there is one)`);
}

/**
 * The control API and token: flags first, then ATOLL_CONTROL_URL and
 * ATOLL_TOKEN, then the profile (--profile, else $ATOLL_PROFILE, else
 * "default" if it exists), then the local defaults.
 */
export async function resolveControlOptions(flags: ControlFlags, env: NodeJS.ProcessEnv = process.env): Promise<ResolvedControl> {
  const named = nonEmpty(flags.profile) ?? nonEmpty(env["ATOLL_PROFILE"]);
  const profileName = named ?? DEFAULT_PROFILE;
  let profile: Profile | undefined;
  const needsProfile = (flags.controlUrl === undefined && nonEmpty(env["ATOLL_CONTROL_URL"]) === undefined) || (nonEmpty(flags.token) === undefined && nonEmpty(env["ATOLL_TOKEN"]) === undefined);
  if (needsProfile) {
    if (named !== undefined) profile = await readProfile(named, env);
    else profile = (await readProfiles(env))[DEFAULT_PROFILE];
  }
  const controlUrl = flags.controlUrl ?? nonEmpty(env["ATOLL_CONTROL_URL"]) ?? profile?.url ?? DEFAULT_CONTROL_URL;
  if (!URL.canParse(controlUrl) || !/^https?:$/.test(new URL(controlUrl).protocol)) {
    throw new CliError("ATOLL_CONTROL_UNREACHABLE", `the control URL ${JSON.stringify(controlUrl)} is not an http(s) URL: pass one such as ${DEFAULT_CONTROL_URL}`);
  }
  let token: string;
  let tokenSource: TokenSource;
  if (nonEmpty(flags.token) !== undefined) [token, tokenSource] = [nonEmpty(flags.token)!, "--token"];
  else if (nonEmpty(env["ATOLL_TOKEN"]) !== undefined) [token, tokenSource] = [nonEmpty(env["ATOLL_TOKEN"])!, "ATOLL_TOKEN"];
  else if (profile) [token, tokenSource] = [profile.token, `profile "${profileName}"`];
  else {
    const dataDir = flags.dataDir ?? DEFAULT_DATA_DIR;
    [token, tokenSource] = [await readTokenFile(dataDir), `${dataDir}/${TOKEN_FILE_NAME}`];
  }
  return { controlUrl: controlUrl.replace(/\/+$/, ""), token, tokenSource, profile: profile ? profileName : null };
}

/** The admin token in a host's data directory. */
export async function readTokenFile(dataDir: string): Promise<string> {
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
