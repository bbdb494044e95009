// The example functions shipped in fixtures/ that `atoll start --deploy-fixtures`
// deploys: every fixtures/<name>/atoll.toml, except the broken and hostile ones,
// which exist to be refused or to misbehave.
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { CONFIG_FILE_NAME } from "../host/config/defaults.js";
import { packageRoot } from "./package-root.js";

const NOT_DEPLOYED = new Set(["broken", "hostile"]);

/** Absolute paths of the deployable fixture projects, sorted by name. */
export function deployableFixtureDirs(fixturesDir: string = join(packageRoot(), "fixtures")): string[] {
  if (!existsSync(fixturesDir)) return [];
  return readdirSync(fixturesDir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && !NOT_DEPLOYED.has(entry.name))
    .map((entry) => join(fixturesDir, entry.name))
    .filter((dir) => existsSync(join(dir, CONFIG_FILE_NAME)))
    .sort();
}
