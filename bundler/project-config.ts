// Which config file a project has and what it says: atoll.toml when there is
// one, else a Workers project's wrangler.json, wrangler.jsonc or
// wrangler.toml, read as atoll.toml (see wrangler-config.ts). Every command
// that reads a project's config (deploy, build, dev, types) comes here.
import { existsSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import { CONFIG_FILE_NAME } from "../host/config/defaults.js";
import { parseScriptConfig, readConfigFile, parseConfigToml, type ScriptConfig } from "../host/config/script-config.js";
import { BadConfigError } from "../host/errors.js";
import { takeCompatibilityFlags } from "./compatibility-flags.js";
import { displayPath } from "./display-path.js";
import { inWranglerTerms, parseWranglerText, translateWranglerConfig, WRANGLER_FILE_NAMES } from "./wrangler-config.js";

export interface ProjectConfig {
  /** Absolute path of the file read. */
  file: string;
  /** "atoll.toml", "wrangler.toml", … */
  fileName: string;
  config: ScriptConfig;
  /** Its `compatibility_flags` (nodejs_compat …), which only the bundler acts on: not part of `config`. */
  compatibilityFlags: string[];
  /** What of a wrangler file was not taken, one line per key; none for atoll.toml. */
  warnings: string[];
}

/** The config file of the project in `dir`: atoll.toml, else the first wrangler file there; atoll.toml's path when there is none. */
export function projectConfigFile(dir: string): string {
  const projectDir = resolve(dir);
  const atoll = join(projectDir, CONFIG_FILE_NAME);
  if (existsSync(atoll)) return atoll;
  for (const name of WRANGLER_FILE_NAMES) if (existsSync(join(projectDir, name))) return join(projectDir, name);
  return atoll;
}

/** Reads and validates the project's config. Throws BadConfigError (problems named as the file names them). */
export async function loadProjectConfig(dir: string): Promise<ProjectConfig> {
  const file = projectConfigFile(dir);
  const fileName = basename(file);
  // Problems name the file as the user would type it (relative to the current directory).
  const source = displayPath(file);
  if (fileName === CONFIG_FILE_NAME) {
    if (!existsSync(file)) {
      throw new BadConfigError([
        `no config file at ${source} (nor a ${WRANGLER_FILE_NAMES.join(", ")} beside it): create one (see wrangler-like.toml.example, or run atoll init), or pass the directory that holds it`,
      ]);
    }
    const { rest, flags } = takeCompatibilityFlags(parseConfigToml(await readConfigFile(source), source), source);
    return { file, fileName, config: parseScriptConfig(rest, source), compatibilityFlags: flags, warnings: [] };
  }
  const translated = translateWranglerConfig(parseWranglerText(await readConfigFile(source), source), source);
  try {
    const { rest, flags } = takeCompatibilityFlags(translated.value, source);
    return { file, fileName, config: parseScriptConfig(rest, source), compatibilityFlags: flags, warnings: translated.warnings };
  } catch (error) {
    if (error instanceof BadConfigError) throw new BadConfigError(error.problems.map(inWranglerTerms));
    throw error;
  }
}
