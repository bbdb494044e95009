// `atoll init`: a new function folder from one of the templates in
// templates/ (see templates/README.md), ready to type-check and to run under
// `atoll dev`.
import { existsSync, readFileSync } from "node:fs";
import { mkdir, readdir, readFile, stat, writeFile } from "node:fs/promises";
import { join, relative } from "node:path";
import { isValidScriptName } from "../host/config/script-config.js";
import { BadScriptNameError } from "../host/errors.js";
import { writeEnvTypes } from "./env-types.js";
import { CliError } from "./errors.js";
import { PACKAGE_NAME, packageRoot } from "./package-root.js";

/** The templates, with what each adds to package.json. */
export const TEMPLATES = {
  fetch: { description: "a fetch handler answering JSON", dependencies: [] },
  hono: { description: "a Hono app", dependencies: ["hono"] },
  cron: { description: "a scheduled job keeping its runs in KV", dependencies: [] },
  bucket: { description: "a processor of the files put in a bucket", dependencies: [] },
} as const satisfies Record<string, { description: string; dependencies: readonly string[] }>;

export type TemplateName = keyof typeof TEMPLATES;

export function isTemplateName(name: string): name is TemplateName {
  return Object.hasOwn(TEMPLATES, name);
}

export interface ScaffoldOptions {
  /** What package.json's devDependencies.atoll says. Default: defaultAtollSpec(). */
  atollSpec?: string;
}

export interface ScaffoldResult {
  /** Files written, relative to the project directory, sorted. */
  files: string[];
}

/** Writes a new project for script `name` into `dir`, which must not exist or be empty. */
export async function scaffold(name: string, dir: string, template: TemplateName, options: ScaffoldOptions = {}): Promise<ScaffoldResult> {
  if (!isValidScriptName(name)) throw new BadScriptNameError(name);
  if (existsSync(dir) && (await readdir(dir)).length > 0) {
    throw new CliError("ATOLL_INIT_EXISTS", `${dir} already exists and is not empty: choose another name, or remove it first`);
  }
  const templates = join(packageRoot(), "templates");
  const replacements: Record<string, string> = { name, today: new Date().toISOString().slice(0, 10) };
  const files: string[] = [];
  for (const source of [join(templates, "_common"), join(templates, template)]) {
    for (const file of await listFiles(source)) {
      const target = join(dir, relative(source, file).replace(/(^|\/)gitignore$/, "$1.gitignore"));
      const text = (await readFile(file, "utf8")).replace(/\{\{(\w+)\}\}/g, (whole, key: string) => replacements[key] ?? whole);
      await mkdir(join(target, ".."), { recursive: true });
      await writeFile(target, text);
      files.push(relative(dir, target));
    }
  }
  await writeFile(join(dir, "package.json"), `${JSON.stringify(await packageJson(name, template, options), null, 2)}\n`);
  files.push("package.json");
  await writeEnvTypes(dir);
  files.push("atoll-env.d.ts");
  return { files: files.sort() };
}

/**
 * What the new project's devDependencies.atoll says. Atoll is published as
 * atoll-host (the registry's "atoll" is another project), so an installed
 * atoll names itself through an npm alias, `npm:atoll-host@^<version>`: the
 * folder stays node_modules/atoll and the project's code keeps importing
 * "atoll/sdk". Run from a checkout (its TypeScript sources beside dist/; a
 * published package has dist/ only), it is that checkout, by path, so that
 * `npm install` works offline against the tree that made the project.
 */
export function defaultAtollSpec(root: string = packageRoot()): string {
  if (existsSync(join(root, "bundler", "cli.ts")) && existsSync(join(root, "host", "main.ts"))) return `file:${root}`;
  const { version } = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version: string };
  return `npm:${PACKAGE_NAME}@^${version}`;
}

/**
 * The npm allowScripts policy for a project depending on atoll by `spec`:
 * atoll's own postinstall (the isolated-vm fix) and the dependencies it
 * allows itself (the native addons and esbuild). npm matches a registry
 * package by its real name (atoll-host, not the alias), anything else by the
 * spec as written.
 */
export function allowScriptsFor(spec: string, ownPolicy: Record<string, boolean> = {}): Record<string, boolean> {
  return { [spec.startsWith(`npm:${PACKAGE_NAME}@`) ? PACKAGE_NAME : spec]: true, ...ownPolicy };
}

async function packageJson(name: string, template: TemplateName, options: ScaffoldOptions): Promise<Record<string, unknown>> {
  const atoll = JSON.parse(await readFile(join(packageRoot(), "package.json"), "utf8")) as {
    dependencies: Record<string, string>;
    devDependencies: Record<string, string>;
    allowScripts?: Record<string, boolean>;
  };
  const atollSpec = options.atollSpec ?? defaultAtollSpec();
  const dependencies: Record<string, string> = {};
  // The versions this atoll is built and tested with.
  for (const dependency of TEMPLATES[template].dependencies) dependencies[dependency] = atoll.dependencies[dependency]!;
  return {
    name,
    version: "0.0.0",
    private: true,
    type: "module",
    scripts: {
      dev: "atoll dev",
      deploy: "atoll deploy",
      types: "atoll types",
      typecheck: "tsc",
    },
    ...(Object.keys(dependencies).length > 0 ? { dependencies } : {}),
    devDependencies: {
      atoll: atollSpec,
      typescript: atoll.devDependencies["typescript"] ?? "^5.9.0",
    },
    allowScripts: allowScriptsFor(atollSpec, atoll.allowScripts),
  };
}

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of (await readdir(dir)).sort()) {
    const path = join(dir, entry);
    if ((await stat(path)).isDirectory()) out.push(...(await listFiles(path)));
    else out.push(path);
  }
  return out;
}
