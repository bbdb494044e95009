// `.dev.vars`: secrets for local development, next to atoll.toml and never
// committed (the .gitignore `atoll init` writes names it). One `NAME=value`
// per line, as in a .env file: `#` comments, blank lines, optional `export `,
// values optionally in single or double quotes (double quotes understand \n,
// \t, \" and \\). `atoll dev` puts them in its host as the script's secrets;
// `atoll types` declares their names in Env as strings. The config file has
// no way to declare secrets on purpose: their values never belong there.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { isValidVarName } from "../host/config/script-config.js";
import { CliError } from "./errors.js";

export const DEV_VARS_FILE = ".dev.vars";

/** The file's NAME → value pairs, in file order; an empty map when there is no file. Throws CliError naming the line of a problem. */
export async function loadDevVars(projectDir: string): Promise<Map<string, string>> {
  const file = join(projectDir, DEV_VARS_FILE);
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return new Map();
    throw error;
  }
  return parseDevVars(text, file);
}

export function parseDevVars(text: string, file: string): Map<string, string> {
  const vars = new Map<string, string>();
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    const match = /^(?:export\s+)?([^=\s]+)\s*=\s*(.*)$/.exec(line);
    if (!match) throw new CliError("ATOLL_BAD_DEV_VARS", `${file}:${index + 1}: expected NAME=value`);
    const [, name, rest] = match as unknown as [string, string, string];
    if (!isValidVarName(name)) throw new CliError("ATOLL_BAD_DEV_VARS", `${file}:${index + 1}: ${JSON.stringify(name)} is not a valid secret name: use letters, digits and _, not starting with a digit`);
    vars.set(name, unquote(rest));
  });
  return vars;
}

function unquote(value: string): string {
  if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) {
    return value.slice(1, -1).replace(/\\([nt"\\])/g, (_, escaped: string) => ({ n: "\n", t: "\t", '"': '"', "\\": "\\" })[escaped]!);
  }
  if (value.length >= 2 && value.startsWith("'") && value.endsWith("'")) return value.slice(1, -1);
  // An unquoted value ends at a comment.
  return value.replace(/\s+#.*$/, "");
}
