// The schema of atoll.toml: the single source of the config's truth, its
// TypeScript type and its error messages, shared by the CLI and the host.
import { readFile } from "node:fs/promises";
import { parse as parseToml, TomlDate, TomlError } from "smol-toml";
import * as z from "zod";
import { BadConfigError } from "../errors.js";
import { canonicalTimeZone, knownTimeZones, parseCronExpression } from "./cron-schedule.js";
import { DEFAULT_BUILD, DEFAULT_LIMITS, DEFAULT_TRIGGERS, MIN_MEMORY_MB, TRIGGER_BOUNDS } from "./defaults.js";
import { parseRoutePattern } from "./route-pattern.js";

/** What a script may be called: it becomes part of its URL (`<name>.localhost`). */
export const SCRIPT_NAME_PATTERN = /^[a-z0-9-]{1,63}$/;

export function isValidScriptName(name: unknown): name is string {
  return typeof name === "string" && SCRIPT_NAME_PATTERN.test(name);
}

/** A value in `[vars]`: what TOML and JSON can both carry, minus dates and null. */
export type VarValue = string | number | boolean | VarValue[] | { [key: string]: VarValue };

const VAR_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** What a `[vars]` entry or a secret may be called: letters, digits and `_`, not starting with a digit (nor `__proto__`). */
export function isValidVarName(name: unknown): name is string {
  return typeof name === "string" && VAR_NAME_PATTERN.test(name) && name !== "__proto__";
}
const MAX_VAR_DEPTH = 32;
/** All of `[vars]` as JSON, bytes (1 MiB): env is copied into every isolate of the script. */
export const MAX_VARS_JSON_BYTES = 1024 * 1024;
/** What esbuild's `define` accepts as a name and, besides JSON, as a value. */
const DOTTED_IDENTIFIER = /^[A-Za-z_$][\w$]*(\.[A-Za-z_$][\w$]*)*$/;
const ISO_DATE = /^\d{4}-\d{2}-\d{2}$/;

/** A type error says "is required" when the key is missing, "must be …" otherwise. */
function expected(what: string) {
  return (issue: { input?: unknown }) => (issue.input === undefined ? "is required" : `must be ${what}`);
}

const TABLE = "a table";
/** Marks an issue about a key's name rather than its value (no "(got …)" suffix). */
const KEY_PROBLEM = { about: "key" } as const;

const limitsSchema = z
  .strictObject(
    {
      /** CPU time one invocation may use, in milliseconds. Default 50. */
      cpu_ms: z
        .int({ error: "must be a positive integer (milliseconds)" })
        .positive({ error: "must be a positive integer (milliseconds)" })
        .default(DEFAULT_LIMITS.cpu_ms),
      /** Heap of the script's isolate, in megabytes (at least 8). Default 128. */
      memory_mb: z
        .int({ error: `must be an integer of at least ${MIN_MEMORY_MB} (megabytes)` })
        .min(MIN_MEMORY_MB, { error: `must be an integer of at least ${MIN_MEMORY_MB} (megabytes)` })
        .default(DEFAULT_LIMITS.memory_mb),
      /** Wall-clock time one invocation may take, in milliseconds. Default 30000. */
      wall_ms: z
        .int({ error: "must be a positive integer (milliseconds)" })
        .positive({ error: "must be a positive integer (milliseconds)" })
        .default(DEFAULT_LIMITS.wall_ms),
      /** Outbound fetch calls one invocation may make (0 forbids them). Default 50. */
      subrequests: z
        .int({ error: "must be a non-negative integer" })
        .nonnegative({ error: "must be a non-negative integer" })
        .default(DEFAULT_LIMITS.subrequests),
      /** Largest request body, in megabytes; larger ones get 413. Capped by the host's maximum. Default 100. */
      request_body_mb: z
        .int({ error: "must be a positive integer (megabytes)" })
        .positive({ error: "must be a positive integer (megabytes)" })
        .default(DEFAULT_LIMITS.request_body_mb),
      /** Largest response body, in megabytes; a larger one is cut off. Default 5120. */
      response_body_mb: z
        .int({ error: "must be a positive integer (megabytes)" })
        .positive({ error: "must be a positive integer (megabytes)" })
        .default(DEFAULT_LIMITS.response_body_mb),
    },
    { error: `must be ${TABLE}` },
  )
  .superRefine((limits, ctx) => {
    if (limits.cpu_ms > limits.wall_ms) {
      ctx.addIssue({
        code: "custom",
        path: ["cpu_ms"],
        message: `must not exceed \`limits.wall_ms\` (${limits.wall_ms})`,
      });
    }
  });

/** A namespace or bucket name: part of storage paths and URLs. */
const STORE_NAME_PATTERN = /^[a-z0-9][a-z0-9_-]{0,62}$/;
const STORE_NAME = "lower-case letters, digits, - and _ (up to 63, starting with a letter or digit)";

const bindingName = z
  .string({ error: expected("a string") })
  .regex(VAR_NAME_PATTERN, { error: "must be a JavaScript identifier (letters, digits, _; not starting with a digit), e.g. CACHE" });

const kvNamespaceSchema = z.strictObject(
  {
    /** The name the function sees: `env.<binding>`. */
    binding: bindingName,
    /** The namespace's id on the host; scripts that name the same id share it. */
    id: z.string({ error: expected("a string") }).regex(STORE_NAME_PATTERN, { error: `must be ${STORE_NAME}` }),
  },
  { error: `must be ${TABLE}` },
);

const bucketSchema = z.strictObject(
  {
    /** The name the function sees: `env.<binding>`. */
    binding: bindingName,
    /** The bucket on the host; scripts that name the same bucket share it. */
    bucket_name: z.string({ error: expected("a string") }).regex(STORE_NAME_PATTERN, { error: `must be ${STORE_NAME}` }),
  },
  { error: `must be ${TABLE}` },
);

const serviceSchema = z.strictObject(
  {
    /** The name the function sees: `env.<binding>`, whose fetch() calls the other script. */
    binding: bindingName,
    /** The script it calls, by name; it answers at its active version, as a request to its URL would. */
    service: z.string({ error: expected("a script name") }).regex(SCRIPT_NAME_PATTERN, { error: "must be a script name: 1 to 63 characters of a-z, 0-9 and '-'" }),
  },
  { error: `must be ${TABLE}` },
);

/** A file of a static assets directory, as the manifest names it: "/" then its path with / separators. */
export const ASSET_PATH_PATTERN = /^\/[^\0]{1,1023}$/;
/** How an asset's bytes are named on the host: the SHA-256 of its contents, hex. */
export const ASSET_HASH_PATTERN = /^[0-9a-f]{64}$/;
/** Workers' limits: files a version may hold, and bytes one file may have. */
export const ASSET_LIMITS = { maxFiles: 20_000, maxFileBytes: 25 * 1024 * 1024 } as const;

const assetsSchema = z.strictObject(
  {
    /** The folder of files served as they are, relative to the config file: "./public". Required. */
    directory: z.string({ error: expected('a path such as "./public"') }).min(1, { error: "must not be empty" }),
    /** The name under which the function can fetch them: `env.ASSETS.fetch(request)`. Default: none. */
    binding: bindingName.optional(),
    /** How paths map to .html files: Workers' "auto-trailing-slash" (the default), "force-trailing-slash", "drop-trailing-slash" or "none". */
    html_handling: z
      .enum(["auto-trailing-slash", "force-trailing-slash", "drop-trailing-slash", "none"], { error: 'must be "auto-trailing-slash", "force-trailing-slash", "drop-trailing-slash" or "none"' })
      .default("auto-trailing-slash"),
    /** A request that matches no file: "none" (the function answers, else 404; the default), "404-page" (the nearest 404.html) or "single-page-application" (/index.html). */
    not_found_handling: z
      .enum(["none", "404-page", "single-page-application"], { error: 'must be "none", "404-page" or "single-page-application"' })
      .default("none"),
    /** Call the function before looking for a file (it reaches them through the binding). Default false: files answer first. */
    run_worker_first: z.boolean({ error: "must be true or false" }).default(false),
    /** The manifest, path → SHA-256: written by `atoll deploy` from the directory, never by hand. */
    files: z
      .record(
        z.string().regex(ASSET_PATH_PATTERN, { error: 'must be a path starting with "/"' }),
        z.string({ error: "must be a SHA-256 in hex" }).regex(ASSET_HASH_PATTERN, { error: "must be a SHA-256 in hex" }),
        { error: `must be ${TABLE} of paths and hashes` },
      )
      .refine((files) => Object.keys(files).length <= ASSET_LIMITS.maxFiles, { error: `must hold at most ${ASSET_LIMITS.maxFiles} files (Workers' limit too)` })
      .optional(),
  },
  { error: `must be ${TABLE}` },
);

const storageTriggerSchema = z.strictObject(
  {
    /** The bucket whose changes call the script's storage(event, env, ctx) handler. */
    bucket: z.string({ error: expected("a bucket name") }).regex(STORE_NAME_PATTERN, { error: `must be ${STORE_NAME}` }),
    /** Which changes: "put", "delete" or both. Default both. */
    events: z
      .array(z.enum(["put", "delete"], { error: 'must be "put" or "delete"' }), { error: 'must be an array of "put" and "delete"' })
      .min(1, { error: 'must name at least one of "put" and "delete"' })
      .transform((events) => [...new Set(events)])
      .default(["put", "delete"]),
    /** Only keys that start with this. Default: every key. */
    prefix: z.string({ error: "must be a string" }).max(1024, { error: "must be at most 1024 characters" }).default(""),
    /** Only keys that end with this (".png"). Default: every key. */
    suffix: z.string({ error: "must be a string" }).max(1024, { error: "must be at most 1024 characters" }).default(""),
  },
  { error: `must be ${TABLE}` },
);

const triggersObject = z.strictObject(
  {
    /**
     * Cron schedules that call scheduled(controller, env, ctx): five fields
     * (minute hour day-of-month month day-of-week) or six with seconds first.
     */
    crons: z
      .array(z.string({ error: 'must be a cron expression string such as "*/5 * * * *"' }), { error: 'must be an array of cron expressions such as ["*/5 * * * *"]' })
      .max(TRIGGER_BOUNDS.maxCrons, { error: `must hold at most ${TRIGGER_BOUNDS.maxCrons} schedules` })
      .transform((crons) => crons.map((cron) => cron.trim().replace(/\s+/g, " ")))
      .default([]),
    /** The IANA time zone the crons are read in. Default "UTC". */
    timezone: z.string({ error: 'must be an IANA time zone name such as "Europe/Paris"' }).default(DEFAULT_TRIGGERS.timezone),
    /** Retries of a failed event after its first attempt (0 to 10). Default 2. */
    retries: z
      .int({ error: `must be an integer from 0 to ${TRIGGER_BOUNDS.maxRetries}` })
      .min(0, { error: `must be an integer from 0 to ${TRIGGER_BOUNDS.maxRetries}` })
      .max(TRIGGER_BOUNDS.maxRetries, { error: `must be an integer from 0 to ${TRIGGER_BOUNDS.maxRetries}` })
      .default(DEFAULT_TRIGGERS.retries),
    /** An event not delivered this long after it was queued is dead-lettered, in seconds. Default 21600 (6 hours). */
    max_event_age_s: z
      .int({ error: `must be a whole number of seconds from 1 to ${TRIGGER_BOUNDS.maxEventAgeS}` })
      .min(1, { error: `must be a whole number of seconds from 1 to ${TRIGGER_BOUNDS.maxEventAgeS}` })
      .max(TRIGGER_BOUNDS.maxEventAgeS, { error: `must be a whole number of seconds from 1 to ${TRIGGER_BOUNDS.maxEventAgeS}` })
      .default(DEFAULT_TRIGGERS.max_event_age_s),
    /** Storage invocations that may follow one another (a storage handler writing into a watched bucket) before the chain is stopped. Default 4. */
    max_chain_depth: z
      .int({ error: `must be an integer from 1 to ${TRIGGER_BOUNDS.maxChainDepth}` })
      .min(1, { error: `must be an integer from 1 to ${TRIGGER_BOUNDS.maxChainDepth}` })
      .max(TRIGGER_BOUNDS.maxChainDepth, { error: `must be an integer from 1 to ${TRIGGER_BOUNDS.maxChainDepth}` })
      .default(DEFAULT_TRIGGERS.max_chain_depth),
    /** Bucket changes that call storage(event, env, ctx): `[[triggers.storage]] bucket = "uploads"`. */
    storage: z
      .array(storageTriggerSchema, { error: "must be an array of tables ([[triggers.storage]])" })
      .max(TRIGGER_BOUNDS.maxStorageTriggers, { error: `must hold at most ${TRIGGER_BOUNDS.maxStorageTriggers} tables` })
      .default([]),
  },
  { error: `must be ${TABLE}` },
);

const triggersSchema = triggersObject
  .superRefine((triggers, ctx) => {
    const zone = canonicalTimeZone(triggers.timezone);
    if (zone === undefined) {
      const suggestion = suggest(triggers.timezone, knownTimeZones());
      ctx.addIssue({
        code: "custom",
        path: ["timezone"],
        message: `is not a time zone: use an IANA name such as "UTC" or "Europe/Paris"${suggestion ? ` (did you mean "${suggestion}"?)` : ""}`,
      });
    }
    triggers.crons.forEach((cron, index) => {
      const first = triggers.crons.indexOf(cron);
      if (first !== index) {
        ctx.addIssue({ code: "custom", path: ["crons", index], message: `repeats \`triggers.crons[${first}]\`` });
        return;
      }
      // Read in UTC when the zone is wrong: its own problem is reported above.
      const parsed = parseCronExpression(cron, zone ?? "UTC");
      if (parsed.problem) ctx.addIssue({ code: "custom", path: ["crons", index], message: parsed.problem });
    });
  })
  // Stored and compared in its canonical spelling ("europe/paris" → "Europe/Paris").
  .transform((triggers) => ({ ...triggers, timezone: canonicalTimeZone(triggers.timezone) ?? triggers.timezone }));

/** What an import of a file that is not code gives, as Workers' module rules say it. */
export const MODULE_RULE_TYPES = ["Text", "Data", "CompiledWasm"] as const;

const moduleRuleSchema = z
  .strictObject(
    {
      /** "Text": the file as a string; "Data": as an ArrayBuffer; "CompiledWasm": a WebAssembly.Module. */
      type: z.enum(MODULE_RULE_TYPES, { error: 'must be "Text", "Data" or "CompiledWasm"' }),
      /** Files the rule applies to, relative to the project's folder: ["**\/*.md"]. */
      globs: z
        .array(z.string({ error: "must be a glob string" }).min(1, { error: "must not be empty" }), { error: 'must be an array of globs such as ["**/*.md"]' })
        .min(1, { error: 'must name at least one glob, such as "**/*.md"' }),
      /** Keep the default rules of this type too (Workers' meaning). Default false. */
      fallthrough: z.boolean({ error: "must be true or false" }).default(false),
    },
    { error: `must be ${TABLE}` },
  );

const buildSchema = z.strictObject(
  {
    /**
     * Imports of files that are not code: `[[build.rules]] type = "Text",
     * globs = ["**\/*.md"]`. Workers' defaults apply besides: .txt, .html
     * and .sql as Text, .bin as Data, .wasm as CompiledWasm. Default: none.
     */
    rules: z.array(moduleRuleSchema, { error: "must be an array of tables ([[build.rules]])" }).default([]),
    /** Minify the bundle. Default false. */
    minify: z.boolean({ error: "must be true or false" }).default(DEFAULT_BUILD.minify),
    /**
     * Replace global names by constants at build time (esbuild `define`), e.g.
     * `"process.env.NODE_ENV" = '"production"'`. Each value is a JavaScript
     * expression: JSON, or a (dotted) identifier. Default: none.
     */
    define: z
      .record(z.string(), z.unknown(), { error: `must be ${TABLE} of strings` })
      .superRefine((define, ctx) => {
        for (const [key, value] of Object.entries(define)) {
          if (!DOTTED_IDENTIFIER.test(key)) {
            ctx.addIssue({ code: "custom", path: [key], message: "is not a name esbuild can replace: use an identifier or a dotted name such as `process.env.NODE_ENV`", params: KEY_PROBLEM });
          } else if (typeof value !== "string") {
            ctx.addIssue({ code: "custom", path: [key], message: "must be a string holding a JavaScript expression, e.g. '\"production\"' or 'true'" });
          } else if (!isDefineValue(value)) {
            ctx.addIssue({ code: "custom", path: [key], message: "must be JSON (e.g. '\"production\"', 'true', '42') or an identifier such as `globalThis.DEBUG`" });
          }
        }
      })
      .transform((define) => define as Record<string, string>)
      .default({}),
  },
  { error: `must be ${TABLE}` },
);

const varsSchema = z
  .record(z.string(), z.unknown(), { error: `must be ${TABLE}` })
  .superRefine((vars, ctx) => {
    for (const [key, value] of Object.entries(vars)) {
      if (!VAR_NAME_PATTERN.test(key)) {
        ctx.addIssue({ code: "custom", path: [key], message: "is not a valid variable name: use letters, digits and `_`, not starting with a digit", params: KEY_PROBLEM });
      } else if (key === "__proto__") {
        ctx.addIssue({ code: "custom", path: [key], message: "is a reserved name", params: KEY_PROBLEM });
      } else {
        checkVarValue(value, [key], 1, ctx);
      }
    }
    if (ctx.issues.length > 0) return;
    const bytes = Buffer.byteLength(JSON.stringify(vars));
    if (bytes > MAX_VARS_JSON_BYTES) {
      ctx.addIssue({
        code: "custom",
        message: `holds ${bytes} bytes as JSON, over the limit of ${MAX_VARS_JSON_BYTES} (env is copied into every isolate of the script): keep large data in KV or a bucket`,
        params: KEY_PROBLEM,
      });
    }
  })
  // A deep copy as plain objects (TOML inline tables have a null prototype): what the script will see.
  .transform((vars) => JSON.parse(JSON.stringify(vars)) as Record<string, VarValue>);

const routeSchema = z.string({ error: 'must be a route pattern string such as "example.test/*" or "/static/*"' }).transform((pattern, ctx) => {
  const parsed = parseRoutePattern(pattern);
  if (parsed.route) return parsed.route.pattern;
  ctx.addIssue({ code: "custom", message: parsed.problem });
  return z.NEVER;
});

export const scriptConfigSchema = z.strictObject(
  {
    /** The script's name: 1 to 63 characters of a-z, 0-9 and `-`. Required. */
    name: z.string({ error: expected("a string") }).regex(SCRIPT_NAME_PATTERN, { error: "must be 1 to 63 characters of a-z, 0-9 and '-'" }),
    /** The entry module, relative to atoll.toml; its default export is the handler. Required, but for a site of static assets alone. */
    main: z
      .string({ error: expected("a path such as \"src/index.ts\"") })
      .min(1, { error: "must not be empty" })
      .refine((path) => !/^(\/|[A-Za-z]:[\\/]|\\\\)/.test(path), { error: 'must be a relative path, such as "src/index.ts"' })
      .optional(),
    /** The date (YYYY-MM-DD) whose runtime behaviour the script expects. Default: none. */
    compatibility_date: z
      .preprocess(
        (value) => (value instanceof TomlDate && value.isDate() ? value.toISOString() : value),
        z.string({ error: "must be a date written YYYY-MM-DD" }).refine(isCalendarDate, { error: "must be a date written YYYY-MM-DD" }),
      )
      .optional(),
    /**
     * Route patterns the script serves: `"example.test/api/*"` (host and path) or
     * `"/static/*"` (any host). Hosts are lower-cased. Default: none (the script
     * is still reachable at `<name>.localhost`).
     */
    routes: z
      .array(routeSchema, { error: 'must be an array of route patterns such as ["example.test/*"]' })
      .superRefine((routes, ctx) => {
        routes.forEach((route, index) => {
          const first = routes.indexOf(route);
          if (first !== index) ctx.addIssue({ code: "custom", path: [index], message: `repeats \`routes[${first}]\` (${JSON.stringify(route)})` });
        });
      })
      .default([]),
    /** Plain values handed to the script as `env.<NAME>`: strings, numbers, booleans, arrays, tables. Default: none. */
    vars: varsSchema.default({}),
    /** KV namespaces the script uses: `[[kv_namespaces]] binding = "CACHE", id = "cache"`. */
    kv_namespaces: z.array(kvNamespaceSchema, { error: `must be an array of tables ([[kv_namespaces]])` }).default([]),
    /** Buckets the script uses: `[[buckets]] binding = "UPLOADS", bucket_name = "uploads"`. */
    buckets: z.array(bucketSchema, { error: `must be an array of tables ([[buckets]])` }).default([]),
    /** Service bindings: `[[services]] binding = "AUTH", service = "auth"` gives env.AUTH.fetch(request), straight to that script. */
    // Optional rather than defaulted: configs without it (every one saved before it existed) stay as they were.
    services: z.array(serviceSchema, { error: `must be an array of tables ([[services]])` }).optional(),
    /** Static files served before (or, with run_worker_first, through) the function: `[assets] directory = "./public"`. Default: none. */
    assets: assetsSchema.optional(),
    /** Per-invocation limits. */
    limits: limitsSchema.prefault({}),
    /** Cron schedules, bucket triggers, and how their events are retried. */
    triggers: triggersSchema.prefault({}),
    /** How `atoll build` and `atoll deploy` bundle the script. */
    build: buildSchema.prefault({}),
  },
  { error: `must be ${TABLE}` },
);

/** A validated atoll.toml, every default filled in. Serialisable as JSON. */
export type ScriptConfig = z.output<typeof scriptConfigSchema>;

/** Keys each table accepts, for "unknown key" messages and their suggestions. */
const KNOWN_KEYS: Record<string, readonly string[]> = {
  "": Object.keys(scriptConfigSchema.shape),
  limits: ["cpu_ms", "memory_mb", "wall_ms", "subrequests", "request_body_mb", "response_body_mb"],
  kv_namespaces: Object.keys(kvNamespaceSchema.shape),
  buckets: Object.keys(bucketSchema.shape),
  services: Object.keys(serviceSchema.shape),
  assets: Object.keys(assetsSchema.shape),
  triggers: Object.keys(triggersObject.shape),
  "triggers.storage": Object.keys(storageTriggerSchema.shape),
  build: Object.keys(buildSchema.shape),
};

/** The triggers of a config (versions saved before `[triggers]` existed have none). */
export function triggersOf(config: ScriptConfig): ScriptConfig["triggers"] {
  return config.triggers ?? { crons: [], timezone: DEFAULT_TRIGGERS.timezone, retries: DEFAULT_TRIGGERS.retries, max_event_age_s: DEFAULT_TRIGGERS.max_event_age_s, max_chain_depth: DEFAULT_TRIGGERS.max_chain_depth, storage: [] };
}

/** Keys people bring from other tools that Atoll refuses on purpose, and why. */
const REFUSED_KEYS: Record<string, string> = {
  "build.external": "an Atoll bundle must be self-contained, so every import is bundled",
  "services.entrypoint": "named entrypoints (WorkerEntrypoint classes and RPC) are not supported: a service binding calls the script's default fetch handler",
};

/**
 * Validates a parsed config and fills in its defaults. Throws BadConfigError
 * listing every problem, each naming its key and `source` (e.g. "atoll.toml").
 */
export function parseScriptConfig(value: unknown, source: string): ScriptConfig {
  const result = scriptConfigSchema.safeParse(value);
  // Checked here rather than in the schema, so that it is reported with every other problem.
  const noMain = missingMain(value) ? [`\`main\` is required in ${source}: name the entry module, such as "src/index.ts" (only a site of [assets] alone may go without)`] : [];
  if (result.success) {
    const clashes = [...noMain, ...bindingClashes(result.data, source)];
    if (clashes.length > 0) throw new BadConfigError(clashes);
    return result.data;
  }
  throw new BadConfigError([...noMain, ...result.error.issues.flatMap((issue) => describeIssue(issue, value, source))]);
}

/** A config needs its `main`, but for Workers' assets-only projects: their files (and not_found_handling) answer everything. */
function missingMain(value: unknown): boolean {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const table = value as Record<string, unknown>;
  return table["main"] === undefined && table["assets"] === undefined;
}

/** Every `env.<NAME>` must come from one place: a var, a KV namespace or a bucket. */
function bindingClashes(config: ScriptConfig, source: string): string[] {
  const seen = new Map<string, string>();
  for (const name of Object.keys(config.vars)) seen.set(name, `vars.${name}`);
  const problems: string[] = [];
  const claim = (name: string, where: string) => {
    const first = seen.get(name);
    if (first) problems.push(`\`${where}\` binds env.${name}, which \`${first}\` binds already in ${source}: give one of them another name`);
    else seen.set(name, where);
  };
  config.kv_namespaces.forEach((kv, index) => claim(kv.binding, `kv_namespaces[${index}].binding`));
  config.buckets.forEach((bucket, index) => claim(bucket.binding, `buckets[${index}].binding`));
  (config.services ?? []).forEach((service, index) => claim(service.binding, `services[${index}].binding`));
  if (config.assets?.binding !== undefined) claim(config.assets.binding, "assets.binding");
  return problems;
}

/** Reads, parses and validates an atoll.toml file. */
export async function loadScriptConfigFile(path: string): Promise<ScriptConfig> {
  return parseScriptConfig(parseConfigToml(await readConfigFile(path), path), path);
}

/** A config file's text; BadConfigError when it is missing or unreadable. */
export async function readConfigFile(path: string): Promise<string> {
  try {
    return await readFile(path, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw new BadConfigError([`no config file at ${path}: create one (see wrangler-like.toml.example), or pass the directory that holds it`]);
    throw new BadConfigError([`cannot read ${path}: ${(error as Error).message}`]);
  }
}

/** TOML text as a value; a syntax error is a BadConfigError with its line, column and the lines around it. */
export function parseConfigToml(text: string, path: string): unknown {
  try {
    return parseToml(text);
  } catch (error) {
    if (error instanceof TomlError) {
      const reason = error.message.split("\n")[0]!.replace(/^Invalid TOML document: /, "");
      const codeblock = error.codeblock.trimEnd().replace(/\n/g, "\n    ");
      throw new BadConfigError([`${path}:${error.line}:${error.column}: TOML syntax error: ${reason}\n    ${codeblock}`]);
    }
    throw error;
  }
}

function describeIssue(issue: z.core.$ZodIssue, input: unknown, source: string): string[] {
  if (issue.code === "unrecognized_keys") {
    // [[kv_namespaces]] entries share one set of keys: "kv_namespaces.0" → "kv_namespaces".
    const table = issue.path.filter((part) => typeof part !== "number").map(String).join(".");
    return issue.keys.map((key) => {
      const full = formatPath([...issue.path, key]);
      const refused = REFUSED_KEYS[`${table ? `${table}.` : ""}${key}`];
      if (refused) return `\`${full}\` is not supported in ${source}: ${refused}`;
      const suggestion = suggest(key, KNOWN_KEYS[table] ?? []);
      const hint = suggestion ? ` (did you mean \`${formatPath([...issue.path, suggestion])}\`?)` : "";
      return `unknown key \`${full}\` in ${source}${hint}`;
    });
  }
  if (issue.path.length === 0) return [`the config must be a table of keys such as name and main in ${source} (got ${describeValue(input)})`];
  const value = valueAt(input, issue.path);
  const aboutKey = issue.code === "custom" && issue.params?.["about"] === "key";
  const got = value === undefined || aboutKey || issue.message === "is required" ? "" : ` (got ${describeValue(value)})`;
  // "must include a path: write …" reads best with the source before the hint.
  const colon = issue.message.indexOf(": ");
  const problem = colon === -1 ? issue.message : issue.message.slice(0, colon);
  const hint = colon === -1 ? "" : issue.message.slice(colon);
  return [`\`${formatPath(issue.path)}\` ${problem} in ${source}${got}${hint}`];
}

function checkVarValue(value: unknown, path: PropertyKey[], depth: number, ctx: z.core.$RefinementCtx): void {
  if (typeof value === "string" || typeof value === "boolean") return;
  if (typeof value === "number") {
    if (!Number.isFinite(value)) ctx.addIssue({ code: "custom", path, message: "must be a finite number (inf and nan cannot be passed to a script)" });
    return;
  }
  if (depth > MAX_VAR_DEPTH) {
    ctx.addIssue({ code: "custom", path, message: `is nested too deeply (at most ${MAX_VAR_DEPTH} levels)` });
    return;
  }
  if (Array.isArray(value)) {
    value.forEach((item, index) => checkVarValue(item, [...path, index], depth + 1, ctx));
    return;
  }
  if (value instanceof Date) {
    ctx.addIssue({ code: "custom", path, message: "is a TOML date, which scripts cannot receive: quote it as a string" });
    return;
  }
  if (isPlainObject(value)) {
    for (const [key, item] of Object.entries(value)) checkVarValue(item, [...path, key], depth + 1, ctx);
    return;
  }
  ctx.addIssue({ code: "custom", path, message: "must be a string, number, boolean, array or table" });
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

function isDefineValue(value: string): boolean {
  if (DOTTED_IDENTIFIER.test(value)) return true;
  try {
    JSON.parse(value);
    return true;
  } catch {
    return false;
  }
}

function isCalendarDate(value: string): boolean {
  if (!ISO_DATE.test(value)) return false;
  const date = new Date(`${value}T00:00:00Z`);
  return !Number.isNaN(date.getTime()) && date.toISOString().startsWith(value);
}

/** `limits.cpu_ms`, `routes[2]`, `build.define."process.env.X"`: how TOML would name the key. */
function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const segment of path) {
    if (typeof segment === "number") out += `[${segment}]`;
    else {
      const key = String(segment);
      const bare = /^[A-Za-z0-9_-]+$/.test(key) ? key : JSON.stringify(key);
      out += out === "" ? bare : `.${bare}`;
    }
  }
  return out;
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let current = input;
  for (const segment of path) {
    if (typeof current !== "object" || current === null) return undefined;
    current = (current as Record<PropertyKey, unknown>)[segment];
  }
  return current;
}

function describeValue(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (value instanceof Date) return "a date";
  switch (typeof value) {
    case "string":
      return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
    case "number":
    case "boolean":
      return String(value);
    case "object":
      return "a table";
    default:
      return typeof value;
  }
}

/** The closest known key, if one is close enough to be a likely typo. */
function suggest(key: string, candidates: readonly string[]): string | undefined {
  const lower = key.toLowerCase();
  let best: { candidate: string; distance: number } | undefined;
  for (const candidate of candidates) {
    const distance = editDistance(lower, candidate);
    if (!best || distance < best.distance) best = { candidate, distance };
  }
  if (best && best.distance <= Math.max(2, Math.floor(best.candidate.length / 3))) return best.candidate;
  return candidates.find((candidate) => lower.length >= 3 && (candidate.startsWith(lower) || lower.startsWith(candidate)));
}

/** Damerau-Levenshtein (optimal string alignment): a swap of two letters counts as one edit. */
function editDistance(a: string, b: string): number {
  const rows: number[][] = [];
  for (let i = 0; i <= a.length; i++) rows.push([i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 0; j <= b.length; j++) rows[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    const row = rows[i]!;
    const prev = rows[i - 1]!;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let value = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) value = Math.min(value, rows[i - 2]![j - 2]! + 1);
      row[j] = value;
    }
  }
  return rows[a.length]![b.length]!;
}
