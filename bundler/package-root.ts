// Where the atoll package is installed, so that the CLI finds its own files
// (package.json, templates/, fixtures/) whatever the current directory.
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The name Atoll is published under (the registry's "atoll" is another
 * project). Projects depend on it as `"atoll": "npm:atoll-host@…"`, so that
 * their code imports "atoll/sdk".
 */
export const PACKAGE_NAME = "atoll-host";

let cached: string | undefined;

/** The directory holding Atoll's package.json (this file runs from bundler/ or dist/bundler/). */
export function packageRoot(): string {
  if (cached) return cached;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = join(dir, "package.json");
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, "utf8")) as { name?: unknown }).name === PACKAGE_NAME) {
      cached = dir;
      return dir;
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`cannot find the package.json of ${PACKAGE_NAME} above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
}

export function packageVersion(): string {
  const manifest = JSON.parse(readFileSync(join(packageRoot(), "package.json"), "utf8")) as { version?: unknown };
  return typeof manifest.version === "string" ? manifest.version : "0.0.0";
}
