// `atoll login`, `atoll whoami`, `atoll logout`: named logins to hosts
// (../profiles.ts), so that commands run from a function's own folder reach
// a host without --control-url and --token each time.
import { Command } from "commander";
import { ControlClient } from "../control-client.js";
import { DEFAULT_CONTROL_URL, DEFAULT_DATA_DIR, readTokenFile, resolveControlOptions, withControlOptions, type ControlFlags } from "../control-options.js";
import { CliError } from "../errors.js";
import { DEFAULT_PROFILE, profilesFile, removeProfile, saveProfile } from "../profiles.js";
import { readSecretValue } from "../secret-input.js";

interface LoginFlags {
  url: string;
  profile: string;
  dataDir: string;
  token?: string;
}

const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]", "::1"]);

export function loginCommand(): Command {
  return new Command("login")
    .description("Save a host's control URL and admin token as a profile, after checking that the host accepts the token")
    .option("--url <url>", "the host's control API", DEFAULT_CONTROL_URL)
    .option("--profile <name>", "the profile's name", DEFAULT_PROFILE)
    .option("--token <token>", "the admin token (else piped on stdin, read from --data-dir for a host on this machine, or typed when asked)")
    .option("--data-dir <dir>", "for a host on this machine: its data directory, where the token is read from", DEFAULT_DATA_DIR)
    .addHelpText(
      "after",
      "\nExamples:\n  atoll login                                  # the host on this machine (token from .atoll/admin-token)\n  ssh host cat /var/lib/atoll/admin-token | atoll login --url http://10.0.0.5:8788 --profile prod\n",
    )
    .action(async (flags: LoginFlags) => {
      if (!URL.canParse(flags.url) || !/^https?:$/.test(new URL(flags.url).protocol)) {
        throw new CliError("ATOLL_CONTROL_UNREACHABLE", `--url ${JSON.stringify(flags.url)} is not an http(s) URL: pass one such as ${DEFAULT_CONTROL_URL}`);
      }
      const url = flags.url.replace(/\/+$/, "");
      const { token, from } = await loginToken(flags, url);
      // Checked before anything is saved: a wrong token or URL is said now, not at the next deploy.
      const scripts = await new ControlClient({ controlUrl: url, token }).listScripts();
      const file = await saveProfile(flags.profile, { url, token });
      console.log(`Logged in to ${url} as profile "${flags.profile}" (token ${from}; ${scripts.length} script${scripts.length === 1 ? "" : "s"} deployed there), saved in ${file}`);
    });
}

async function loginToken(flags: LoginFlags, url: string): Promise<{ token: string; from: string }> {
  if (flags.token?.trim()) return { token: flags.token.trim(), from: "from --token" };
  if (!process.stdin.isTTY) {
    const token = await readSecretValue("", process.stdin).catch(() => "");
    if (!token.trim()) throw new CliError("ATOLL_NO_TOKEN", "no token on stdin: pipe the host's admin token in (`cat .atoll/admin-token | atoll login --url URL`) or pass --token");
    return { token: token.trim(), from: "from stdin" };
  }
  if (LOOPBACK.has(new URL(url).hostname)) {
    try {
      return { token: await readTokenFile(flags.dataDir), from: `read from ${flags.dataDir}` };
    } catch {
      // Not this machine's host, or another data directory: ask.
    }
  }
  return { token: await readSecretValue(`Admin token for ${url} (the host's <data-dir>/admin-token): `), from: "typed" };
}

export function whoamiCommand(): Command {
  return withControlOptions(new Command("whoami").description("Say which host and token commands use now, and whether the host accepts the token")).action(async (flags: ControlFlags) => {
    const control = await resolveControlOptions(flags);
    console.log(`profile:     ${control.profile ?? "(none)"}`);
    console.log(`control API: ${control.controlUrl}`);
    console.log(`token:       from ${control.tokenSource}`);
    const scripts = await new ControlClient(control).listScripts();
    console.log(`accepted:    yes (${scripts.length} script${scripts.length === 1 ? "" : "s"} deployed)`);
  });
}

export function logoutCommand(): Command {
  return new Command("logout")
    .description("Forget a saved profile")
    .option("--profile <name>", "the profile to forget", DEFAULT_PROFILE)
    .action(async (flags: { profile: string }) => {
      if (!(await removeProfile(flags.profile))) throw new CliError("ATOLL_NO_PROFILE", `there is no profile "${flags.profile}" in ${profilesFile()}: nothing to forget`);
      console.log(`Forgot profile "${flags.profile}" (${profilesFile()})`);
    });
}
