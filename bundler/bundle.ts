// Bundles a project (a directory with atoll.toml) into one self-contained ES
// module: the only form the host accepts.
import { stat } from "node:fs/promises";
import { dirname, join, relative, resolve } from "node:path";
import type { AssetFile } from "./assets.js";
import { gzipSync } from "node:zlib";
import { build, type BuildFailure, type BuildOptions, type BuildResult, type Message, type Metafile } from "esbuild";
import type { ScriptConfig } from "../host/config/script-config.js";
import { BuildError } from "./errors.js";
import { displayPath } from "./display-path.js";
import { formatMessage } from "./esbuild-messages.js";
import { moduleRules } from "./module-rules.js";
import { nodeModulesFor } from "./node-compat.js";
import { loadProjectConfig } from "./project-config.js";

export interface BundleOptions {
  /** Also produce an external source map (`BundleResult.sourceMap`). Default false. */
  sourcemap?: boolean;
}

export interface BundleResult {
  /** The project's validated atoll.toml (or wrangler file). */
  config: ScriptConfig;
  /** The bundle: one ES module with a default export and no imports. */
  code: string;
  /** Size of `code` in bytes (UTF-8). */
  bytes: number;
  /** Size of `code` once gzipped, in bytes: roughly what a host stores and sends. */
  gzipBytes: number;
  /** What of a wrangler file was not taken, then esbuild's warnings, formatted as "file:line:column: warning: …". */
  warnings: string[];
  /** The source map (JSON) when `sourcemap` was asked for. */
  sourceMap?: string;
  /** The static assets directory (`[assets] directory`), absolute; uploaded with the bundle. */
  assetsDir?: string;
  /** Its files, once read (assets.ts attachAssets), which also puts their manifest in `config`. */
  assetFiles?: AssetFile[];
}

/** Reads `<dir>/atoll.toml` (or its wrangler file) and bundles its `main`. Throws BadConfigError or BuildError. */
export async function bundleProject(dir: string, options: BundleOptions = {}): Promise<BundleResult> {
  const project = await loadProject(dir);
  let result;
  try {
    result = await build(esbuildOptions(project, options));
  } catch (error) {
    throw asBuildError(error, project.dir);
  }
  return bundleOf(project, result);
}

/** A project directory with its validated config and the entry module it names. */
export interface Project {
  /** Absolute. */
  dir: string;
  config: ScriptConfig;
  /** Absolute path of the config file: atoll.toml, or a wrangler file when there is no atoll.toml. */
  configFile: string;
  /** The config's `compatibility_flags`: nodejs_compat gives node: modules and a global Buffer (see node-compat.ts). */
  compatibilityFlags: string[];
  /** What of a wrangler file was not taken, one line per key. */
  configWarnings: string[];
  /** Absolute path of `main`; null for a site of static assets alone (no `main`: ASSETS_ONLY_ENTRY). */
  entry: string | null;
}

/** The function of a project with no `main`: its assets binding answers, with not_found_handling, as Workers' asset server does. */
function assetsOnlyEntry(binding: string): string {
  return `export default { fetch(request, env) { return env[${JSON.stringify(binding)}].fetch(request); } };\n`;
}

/** Reads and validates the project's config and checks that its `main` exists. Throws BadConfigError or BuildError. */
export async function loadProject(dir: string): Promise<Project> {
  const projectDir = resolve(dir);
  const { file, config: loaded, compatibilityFlags, warnings } = await loadProjectConfig(projectDir);
  if (loaded.main === undefined) {
    // Assets alone: the generated entry needs a binding to reach them.
    const config = { ...loaded, assets: { ...loaded.assets!, binding: loaded.assets!.binding ?? "ASSETS" } };
    return { dir: projectDir, config, configFile: file, compatibilityFlags, configWarnings: warnings, entry: null };
  }
  const config = loaded;
  const entry = resolve(projectDir, loaded.main);
  if (!(await isFile(entry))) {
    throw new BuildError([`\`main\` names ${displayPath(entry)}, which is not a file (in ${displayPath(file)})`]);
  }
  return { dir: projectDir, config, configFile: file, compatibilityFlags, configWarnings: warnings, entry };
}

/** How esbuild bundles a project: one ES module for a neutral platform, every import inside it. */
export function esbuildOptions(project: Project, options: BundleOptions = {}): BuildOptions & { write: false; metafile: true } {
  return {
    absWorkingDir: project.dir,
    ...(project.entry !== null
      ? { entryPoints: [project.entry] }
      : { stdin: { contents: assetsOnlyEntry(project.config.assets!.binding!), resolveDir: project.dir, sourcefile: "assets-only.js", loader: "js" as const } }),
    // Never written (write: false); names the outputs and the source map's paths.
    outfile: join(project.dir, "dist", "index.js"),
    bundle: true,
    format: "esm",
    platform: "neutral",
    target: "es2022",
    mainFields: ["module", "main"],
    // Wrangler's conditions: packages built for Workers (their "workerd" export, e.g. one that imports its .wasm) are taken as they are.
    conditions: ["workerd", "worker", "browser"],
    write: false,
    minify: project.config.build.minify,
    define: project.config.build.define,
    sourcemap: options.sourcemap ? "external" : false,
    metafile: true,
    logLevel: "silent",
    plugins: [nodeModulesFor(project.compatibilityFlags), moduleRules(project.dir, project.config.build.rules)],
  };
}

/** esbuild's failure as a BuildError whose problems are "file:line:column: error: …" with a code frame. */
export function asBuildError(error: unknown, projectDir: string): unknown {
  if (isBuildFailure(error)) return new BuildError(error.errors.map((message) => formatMessage(message, projectDir, "error")));
  return error;
}

/** The bundle in esbuild's result, checked: self-contained, with a default export. Throws BuildError. */
export function bundleOf(project: Project, result: BuildResult<{ write: false; metafile: true }>): BundleResult {
  const js = result.outputFiles.find((file) => file.path.endsWith(".js"));
  if (!js) throw new BuildError(["esbuild produced no JavaScript output"]);
  checkOutput(result.metafile, relative(project.dir, js.path), project.entry === null ? "the assets-only entry" : displayPath(project.entry));
  const code = js.text;
  const map = result.outputFiles.find((file) => file.path.endsWith(".js.map"));
  return {
    config: project.config,
    code,
    bytes: Buffer.byteLength(code),
    gzipBytes: gzipSync(code).length,
    warnings: [...project.configWarnings, ...result.warnings.map((message: Message) => formatMessage(message, project.dir, "warning"))],
    ...(map ? { sourceMap: map.text } : {}),
    // Relative to the config file, as wrangler reads it.
    ...(project.config.assets ? { assetsDir: resolve(dirname(project.configFile), project.config.assets.directory) } : {}),
  };
}

/** The bundle must stand alone (the isolate has no module loader) and have a default export. */
function checkOutput(metafile: Metafile, outputPath: string, entry: string): void {
  const output = metafile.outputs[outputPath];
  if (!output) return;
  const imports = output.imports.filter((item) => !item.path.startsWith("<"));
  if (imports.length > 0) {
    throw new BuildError(imports.map((item) => `the bundle still imports ${JSON.stringify(item.path)}: every import must be bundled (use a literal path in dynamic import() calls)`));
  }
  if (!output.exports.includes("default")) {
    throw new BuildError([
      `${entry} has no default export: add \`export default { fetch(request, env, ctx) { ... } }\` (or \`export default app\` for a Hono app)`,
    ]);
  }
}

function isBuildFailure(error: unknown): error is BuildFailure {
  return error instanceof Error && Array.isArray((error as Partial<BuildFailure>).errors);
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}
