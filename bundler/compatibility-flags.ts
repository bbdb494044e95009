// A project's `compatibility_flags`, as Workers names them: which Atoll acts on
// (nodejs_compat and nodejs_als change how the bundle is built), which change
// nothing here, and reading them out of a config before the rest is validated.
// They only concern the bundler, so the host's config never carries them.
import { BadConfigError } from "../host/errors.js";

/** Flags that give the node: modules of bundler/node-compat/ and a global Buffer. */
export const NODE_COMPAT_FLAGS: readonly string[] = ["nodejs_compat", "nodejs_compat_v2"];
/** The flag that gives node:async_hooks alone. */
export const ASYNC_LOCAL_STORAGE_FLAG = "nodejs_als";
/** Flags whose behaviour Atoll has anyway (or which change nothing here). */
export const HARMLESS_FLAGS: readonly string[] = ["global_fetch_strictly_public", "streams_enable_constructors", "transformstream_enable_standard_constructor", "url_standard"];
/** Every flag an atoll.toml may set. */
export const KNOWN_FLAGS: readonly string[] = [...NODE_COMPAT_FLAGS, ASYNC_LOCAL_STORAGE_FLAG, ...HARMLESS_FLAGS];

export function hasNodeCompat(flags: readonly string[]): boolean {
  return flags.some((flag) => NODE_COMPAT_FLAGS.includes(flag));
}

export interface TakenFlags {
  /** The config without `compatibility_flags`, for the schema to validate. */
  rest: unknown;
  /** The flags it held, checked; none when the key is absent. */
  flags: string[];
}

/** Takes `compatibility_flags` out of a parsed config. Throws BadConfigError naming `source` when it is not a list of known flags. */
export function takeCompatibilityFlags(config: unknown, source: string): TakenFlags {
  if (typeof config !== "object" || config === null || Array.isArray(config) || !("compatibility_flags" in config)) return { rest: config, flags: [] };
  const { compatibility_flags: value, ...rest } = config as Record<string, unknown>;
  if (!Array.isArray(value) || value.some((flag) => typeof flag !== "string")) {
    throw new BadConfigError([`\`compatibility_flags\` must be an array of flag names such as ["nodejs_compat"] in ${source} (got ${JSON.stringify(value)})`]);
  }
  const problems = (value as string[]).flatMap((flag, index) =>
    KNOWN_FLAGS.includes(flag) ? [] : [`\`compatibility_flags[${index}]\` is ${JSON.stringify(flag)}, a flag Atoll does not know, in ${source}: the flags Atoll takes are ${KNOWN_FLAGS.join(", ")}`],
  );
  if (problems.length > 0) throw new BadConfigError(problems);
  return { rest, flags: [...new Set(value as string[])] };
}
