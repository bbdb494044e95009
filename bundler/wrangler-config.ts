// A Workers project's wrangler.toml (or wrangler.json / wrangler.jsonc) read
// as an atoll.toml: each key whose meaning matches ours is taken, under our
// name for it (r2_buckets → buckets, minify → build.minify); each key we do
// not support is named in one warning line that says what to do instead; keys
// that mean nothing on a self-hosted host (account_id, workers_dev) are listed
// together in one line. The result then goes through the same validation as
// an atoll.toml, so a bad value is the same clear error. The README's table
// of wrangler keys mirrors the three lists below.
import { parse as parseJsonc, printParseErrorCode, type ParseError } from "jsonc-parser";
import { BadConfigError } from "../host/errors.js";
import { parseConfigToml } from "../host/config/script-config.js";
import { KNOWN_FLAGS } from "./compatibility-flags.js";

/** The wrangler config files Atoll reads, in wrangler's own order of preference. */
export const WRANGLER_FILE_NAMES = ["wrangler.json", "wrangler.jsonc", "wrangler.toml"] as const;

export interface TranslatedConfig {
  /** The config in atoll.toml's shape, not yet validated. */
  value: Record<string, unknown>;
  /** One line per key not taken, each saying what to do. */
  warnings: string[];
}

/** Keys a self-hosted host has no use for: taken as read and ignored, listed in one line. */
const IGNORED_KEYS = new Set([
  "$schema",
  "account_id",
  "workers_dev",
  "preview_urls",
  "send_metrics",
  "upload_source_maps",
  "keep_vars",
  "usage_model",
  "logpush",
  "observability",
  "placement",
  "legacy_env",
  "first_party_worker",
  "wasm_modules_dir",
]);

const CLOUDFLARE_SERVICE = "a Cloudflare service Atoll does not have: its binding is missing from env, so code that uses it fails";

/** Keys Atoll does not support, with what to do instead. */
const UNSUPPORTED_KEYS: Record<string, string> = {
  durable_objects: "Durable Objects are not supported: keep state in KV (kv_namespaces) or a bucket (r2_buckets)",
  migrations: "Durable Object migrations have no meaning without Durable Objects",
  d1_databases: "D1 is not supported: keep the data in KV (kv_namespaces) or a bucket (r2_buckets)",
  queues: "Queues are not supported: an async invocation (POST /v1/scripts/NAME/invoke with async, or a bucket trigger) runs work later, with retries",
  find_additional_modules: "not needed: Atoll bundles every module `main` imports, and `rules` say how to load the ones that are not code",
  base_dir: "not taken: `rules` globs are relative to the project's folder",
  preserve_file_names: "not needed: Atoll bundles every module into one",
  wasm_modules: "service-worker wasm bindings are not supported: import the .wasm file from a module (`import mod from \"./x.wasm\"`)",
  text_blobs: "service-worker text blobs are not supported: import the text from a module (export default `…`)",
  data_blobs: "service-worker data blobs are not supported: import the bytes from a module",
  node_compat: 'the legacy Node.js polyfills are not taken: set compatibility_flags = ["nodejs_compat"], which gives the node: modules Workers offers',
  site: "Workers Sites are not supported: serve the files from a bucket (r2_buckets) in the function",
  env: "wrangler environments are not supported: the top-level keys are used; keep one folder (or one atoll.toml) per deploy target",
  build: "a custom build command is not run: run it before atoll deploy (Atoll bundles `main` itself, with esbuild)",
  no_bundle: "Atoll always bundles `main` into one module with esbuild",
  tsconfig: "Atoll's esbuild reads the tsconfig.json beside your sources; another path is not taken",
  jsx_factory: "not taken: set the JSX factory in tsconfig.json (compilerOptions.jsxFactory), which esbuild reads",
  jsx_fragment: "not taken: set it in tsconfig.json (compilerOptions.jsxFragmentFactory), which esbuild reads",
  alias: "module aliases are not taken: use compilerOptions.paths in tsconfig.json, which esbuild reads",
  keep_names: "not taken: Atoll's esbuild keeps names unless `minify` is true",
  dev: "wrangler dev settings are not read: pass atoll dev --port, --hostname or --control-port",
  tail_consumers: "tail Workers are not supported: every invocation is one line in the host's log (atoll dev prints them)",
  ai: CLOUDFLARE_SERVICE,
  browser: CLOUDFLARE_SERVICE,
  vectorize: CLOUDFLARE_SERVICE,
  hyperdrive: CLOUDFLARE_SERVICE,
  analytics_engine_datasets: CLOUDFLARE_SERVICE,
  mtls_certificates: CLOUDFLARE_SERVICE,
  dispatch_namespaces: CLOUDFLARE_SERVICE,
  send_email: CLOUDFLARE_SERVICE,
  version_metadata: CLOUDFLARE_SERVICE,
  workflows: CLOUDFLARE_SERVICE,
  secrets_store_secrets: "the Secrets Store is not supported: set each secret with atoll secret put (or .dev.vars under atoll dev)",
  pipelines: CLOUDFLARE_SERVICE,
  containers: CLOUDFLARE_SERVICE,
  ratelimits: CLOUDFLARE_SERVICE,
  unsafe: "unsafe bindings are Cloudflare-internal",
  logfwdr: CLOUDFLARE_SERVICE,
};

/** Keys taken as they are or under our name (the rest of the translation handles each). */
const TAKEN_KEYS = new Set(["name", "main", "compatibility_date", "compatibility_flags", "routes", "route", "vars", "kv_namespaces", "r2_buckets", "services", "assets", "triggers", "limits", "define", "minify", "rules"]);

/** Parses wrangler.toml / wrangler.json / wrangler.jsonc text; a syntax error names its line and column. */
export function parseWranglerText(text: string, path: string): unknown {
  if (path.endsWith(".toml")) return parseConfigToml(text, path);
  const errors: ParseError[] = [];
  const value: unknown = parseJsonc(text, errors, { allowTrailingComma: true, disallowComments: false });
  if (errors.length > 0) {
    throw new BadConfigError(
      errors.slice(0, 5).map((error) => {
        const { line, column } = lineAndColumn(text, error.offset);
        return `${path}:${line}:${column}: JSON syntax error: ${printParseErrorCode(error.error)}`;
      }),
    );
  }
  return value;
}

/** wrangler's config as atoll.toml's, with a warning for each key not taken. */
export function translateWranglerConfig(raw: unknown, source: string): TranslatedConfig {
  if (!isTable(raw)) throw new BadConfigError([`${source} must hold a table of keys such as name and main`]);
  const value: Record<string, unknown> = {};
  const warnings: string[] = [];
  const warn = (key: string, what: string) => warnings.push(`${source}: \`${key}\` ${what}`);
  const ignored: string[] = [];

  for (const key of Object.keys(raw)) {
    if (TAKEN_KEYS.has(key)) continue;
    if (IGNORED_KEYS.has(key)) ignored.push(key);
    else if (key in UNSUPPORTED_KEYS) warn(key, `is not supported: ${UNSUPPORTED_KEYS[key]}`);
    else warn(key, "is not a wrangler key Atoll knows: ignored (check its spelling)");
  }

  for (const key of ["name", "main", "compatibility_date", "vars"] as const) if (raw[key] !== undefined) value[key] = raw[key];

  const routes = [...(raw["route"] !== undefined ? [raw["route"]] : []), ...(Array.isArray(raw["routes"]) ? raw["routes"] : raw["routes"] !== undefined ? [raw["routes"]] : [])];
  if (routes.length > 0) value["routes"] = routes.map((route, index) => routePattern(route, index, warn));

  if (raw["kv_namespaces"] !== undefined) {
    value["kv_namespaces"] = Array.isArray(raw["kv_namespaces"])
      ? raw["kv_namespaces"].map((namespace, index) => placeholderKvId(pick(namespace, ["binding", "id"], ["preview_id"], `kv_namespaces[${index}]`, warn), index, warn))
      : raw["kv_namespaces"];
  }
  if (raw["r2_buckets"] !== undefined) {
    value["buckets"] = Array.isArray(raw["r2_buckets"])
      ? raw["r2_buckets"].map((bucket, index) => pick(bucket, ["binding", "bucket_name"], ["preview_bucket_name"], `r2_buckets[${index}]`, warn))
      : raw["r2_buckets"];
  }
  if (raw["services"] !== undefined) {
    value["services"] = Array.isArray(raw["services"])
      ? raw["services"].map((service, index) => {
          if (isTable(service) && service["entrypoint"] !== undefined) {
            warn(`services[${index}].entrypoint`, "is not supported (no WorkerEntrypoint classes or RPC): the binding calls the script's default fetch handler");
          }
          return pick(service, ["binding", "service"], ["environment", "entrypoint"], `services[${index}]`, warn);
        })
      : raw["services"];
  }
  if (raw["assets"] !== undefined) value["assets"] = isTable(raw["assets"]) ? assetsTable(raw["assets"], warn) : raw["assets"];
  if (raw["triggers"] !== undefined) value["triggers"] = isTable(raw["triggers"]) ? pick(raw["triggers"], ["crons"], [], "triggers", warn) : raw["triggers"];
  if (raw["limits"] !== undefined) value["limits"] = isTable(raw["limits"]) ? pick(raw["limits"], ["cpu_ms", "subrequests"], [], "limits", warn) : raw["limits"];

  const build: Record<string, unknown> = {};
  if (raw["rules"] !== undefined) {
    build["rules"] = Array.isArray(raw["rules"])
      ? raw["rules"].flatMap((rule, index) => {
          // ESModule and CommonJS rules name code, which esbuild bundles whatever the rules say.
          if (isTable(rule) && (rule["type"] === "ESModule" || rule["type"] === "CommonJS")) {
            warn(`rules[${index}]`, `(${rule["type"]}) is not needed: esbuild bundles JavaScript modules of either kind`);
            return [];
          }
          return [pick(rule, ["type", "globs", "fallthrough"], [], `rules[${index}]`, warn)];
        })
      : raw["rules"];
  }
  if (raw["minify"] !== undefined) build["minify"] = raw["minify"];
  if (raw["define"] !== undefined) build["define"] = raw["define"];
  if (Object.keys(build).length > 0) value["build"] = build;

  if (raw["compatibility_flags"] !== undefined) {
    const flags = Array.isArray(raw["compatibility_flags"]) ? raw["compatibility_flags"] : [raw["compatibility_flags"]];
    // nodejs_compat and nodejs_als are taken (see compatibility-flags.ts); a flag Atoll does not know is dropped.
    const known: string[] = [];
    for (const flag of flags) {
      if (typeof flag === "string" && KNOWN_FLAGS.includes(flag)) known.push(flag);
      else warn("compatibility_flags", `holds ${JSON.stringify(flag)}, which Atoll does not know: ignored (the runtime behaves as a recent Workers runtime does)`);
    }
    if (known.length > 0) value["compatibility_flags"] = known;
  }

  if (ignored.length > 0) warnings.push(`${source}: ignored, as they mean nothing on a self-hosted host: ${ignored.map((key) => `\`${key}\``).join(", ")}`);
  return { value, warnings };
}

/**
 * Problems the validation found, named by wrangler's keys rather than ours:
 * "`buckets[0].bucket_name` …" reads "`r2_buckets[0].bucket_name` …".
 */
export function inWranglerTerms(problem: string): string {
  return problem.replace(/`buckets(\[\d+\])/g, "`r2_buckets$1").replace(/`buckets`/g, "`r2_buckets`").replace(/`build\.(minify|define|rules)/g, "`$1");
}

/** A wrangler route: a pattern string, or `{ pattern, zone_name | zone_id | custom_domain }`. */
function routePattern(route: unknown, index: number, warn: (key: string, what: string) => void): unknown {
  if (typeof route === "string" || !isTable(route)) return route;
  const pattern = route["pattern"];
  if (typeof pattern !== "string") return pattern;
  for (const key of Object.keys(route)) {
    if (!["pattern", "zone_name", "zone_id", "custom_domain"].includes(key)) warn(`routes[${index}].${key}`, "is not taken: a route here is its pattern");
  }
  // A custom domain is a whole host: every path on it.
  return route["custom_domain"] === true && !pattern.includes("/") ? `${pattern}/*` : pattern;
}

/** `[assets]`: taken as it is, but for run_worker_first's list of routes (a newer wrangler's), which Atoll reads as true. */
function assetsTable(assets: Record<string, unknown>, warn: (key: string, what: string) => void): unknown {
  const taken = pick(assets, ["directory", "binding", "html_handling", "not_found_handling", "run_worker_first"], [], "assets", warn) as Record<string, unknown>;
  if (Array.isArray(taken["run_worker_first"])) {
    warn("assets.run_worker_first", "as a list of routes is not supported: taken as true (the function runs first on every path and reaches the files through its assets binding)");
    taken["run_worker_first"] = true;
  }
  return taken;
}

/** The `taken` keys of a table; `dropped` ones go quietly (dev-only ids), any other is named in a warning. */
function pick(table: unknown, taken: string[], dropped: string[], where: string, warn: (key: string, what: string) => void): unknown {
  if (!isTable(table)) return table;
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(table)) {
    if (taken.includes(key)) out[key] = item;
    else if (!dropped.includes(key)) warn(`${where}.${key}`, "is not supported: ignored");
  }
  return out;
}

/**
 * A namespace whose `id` is empty or absent: a template's placeholder until
 * `wrangler kv namespace create` fills it in (newer wranglers create the
 * namespace on deploy). On a host the id is only the namespace's name, so the
 * binding names it: SHORTENER_KV → shortener_kv, one warning line saying so.
 */
function placeholderKvId(namespace: unknown, index: number, warn: (key: string, what: string) => void): unknown {
  if (!isTable(namespace) || (namespace["id"] !== undefined && namespace["id"] !== "") || typeof namespace["binding"] !== "string") return namespace;
  const name = namespace["binding"].toLowerCase().replace(/[^a-z0-9_-]/g, "_").replace(/^[_-]+/, "").slice(0, 63);
  if (name === "") return namespace;
  warn(`kv_namespaces[${index}].id`, `is ${namespace["id"] === undefined ? "not set" : "empty"} (a placeholder until a namespace is created): the namespace on this host is named after its binding, \`${name}\``);
  return { ...namespace, id: name };
}

function isTable(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function lineAndColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset);
  const line = before.split("\n").length;
  return { line, column: offset - before.lastIndexOf("\n") };
}
