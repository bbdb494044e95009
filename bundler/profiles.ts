// Named logins to hosts (`atoll login`), kept in the user's config folder:
// $ATOLL_CONFIG_DIR, else $XDG_CONFIG_HOME/atoll, else ~/.config/atoll, in
// profiles.json, readable by the user alone (0600 in a 0700 folder) and
// replaced whole (a temporary file renamed over it), so that a crash never
// leaves half a file.
import { chmod, mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import { CliError } from "./errors.js";

export const DEFAULT_PROFILE = "default";

export interface Profile {
  /** The control API, e.g. http://127.0.0.1:8788. */
  url: string;
  token: string;
}

type ProfileFile = { profiles: Record<string, Profile> };

export function configDir(env: NodeJS.ProcessEnv = process.env): string {
  const explicit = env["ATOLL_CONFIG_DIR"]?.trim();
  if (explicit) return explicit;
  const xdg = env["XDG_CONFIG_HOME"]?.trim();
  return join(xdg || join(homedir(), ".config"), "atoll");
}

export function profilesFile(env: NodeJS.ProcessEnv = process.env): string {
  return join(configDir(env), "profiles.json");
}

export class ProfileNotFoundError extends CliError {
  constructor(name: string, known: readonly string[], file: string) {
    super(
      "ATOLL_NO_PROFILE",
      `there is no profile "${name}" in ${file}: ${known.length > 0 ? `the profiles are ${known.map((known) => `"${known}"`).join(", ")}` : "there are none yet"}; add it with \`atoll login --profile ${name} --url URL\``,
    );
    this.name = "ProfileNotFoundError";
  }
}

export class BadProfileFileError extends CliError {
  constructor(file: string, problem: string) {
    super("ATOLL_BAD_PROFILES", `${file} ${problem}: fix it, or remove it and log in again`);
    this.name = "BadProfileFileError";
  }
}

export async function readProfiles(env: NodeJS.ProcessEnv = process.env): Promise<Record<string, Profile>> {
  const file = profilesFile(env);
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return {};
    throw new BadProfileFileError(file, `cannot be read (${(error as Error).message})`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new BadProfileFileError(file, "is not JSON");
  }
  const profiles = (parsed as Partial<ProfileFile> | null)?.profiles;
  if (!profiles || typeof profiles !== "object") throw new BadProfileFileError(file, 'has no "profiles" object');
  const valid: Record<string, Profile> = {};
  for (const [name, profile] of Object.entries(profiles)) {
    if (typeof profile?.url !== "string" || typeof profile.token !== "string") throw new BadProfileFileError(file, `has a profile "${name}" without a url and a token`);
    valid[name] = { url: profile.url, token: profile.token };
  }
  return valid;
}

/** The named profile; ProfileNotFoundError when there is none of that name. */
export async function readProfile(name: string, env: NodeJS.ProcessEnv = process.env): Promise<Profile> {
  const profiles = await readProfiles(env);
  const profile = Object.hasOwn(profiles, name) ? profiles[name] : undefined;
  if (!profile) throw new ProfileNotFoundError(name, Object.keys(profiles), profilesFile(env));
  return profile;
}

export async function saveProfile(name: string, profile: Profile, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const profiles = await readProfiles(env);
  profiles[name] = profile;
  return writeProfiles(profiles, env);
}

/** False when there was no such profile. */
export async function removeProfile(name: string, env: NodeJS.ProcessEnv = process.env): Promise<boolean> {
  const profiles = await readProfiles(env);
  if (!Object.hasOwn(profiles, name)) return false;
  delete profiles[name];
  await writeProfiles(profiles, env);
  return true;
}

async function writeProfiles(profiles: Record<string, Profile>, env: NodeJS.ProcessEnv): Promise<string> {
  const dir = configDir(env);
  const file = profilesFile(env);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const temporary = `${file}.${process.pid}.tmp`;
  const body: ProfileFile = { profiles };
  await writeFile(temporary, `${JSON.stringify(body, null, 2)}\n`, { mode: 0o600 });
  // The mode of writeFile applies only to a new file: make sure of it.
  await chmod(temporary, 0o600);
  await rename(temporary, file);
  return file;
}
