// `atoll types [dir]`: write atoll-env.d.ts, the function's Env interface, from its atoll.toml.
import { Command } from "commander";
import { displayPath } from "../display-path.js";
import { ENV_TYPES_FILE, writeEnvTypes } from "../env-types.js";

interface TypesFlags {
  output?: string;
  envInterface: string;
}

export function typesCommand(): Command {
  return new Command("types")
    .description(`Write ${ENV_TYPES_FILE}: the function's Env interface (vars with their literal types, secrets named in .dev.vars, KV namespaces, buckets) from its atoll.toml`)
    .argument("[dir]", "the project directory: the one holding atoll.toml (or a Workers project's wrangler.toml, wrangler.json or wrangler.jsonc)", ".")
    .option("-o, --output <file>", `where to write it (default: <dir>/${ENV_TYPES_FILE})`)
    .option("--env-interface <name>", "the interface's name", "Env")
    .addHelpText("after", `\nRun it again whenever atoll.toml changes (\`atoll dev\` does). Examples:\n  atoll types\n  atoll types fixtures/hello -o /tmp/env.d.ts\n`)
    .action(async (dir: string, flags: TypesFlags) => {
      const written = await writeEnvTypes(dir, flags);
      console.log(`Wrote ${displayPath(written.file)}: interface ${flags.envInterface} with ${written.summary}`);
    });
}
