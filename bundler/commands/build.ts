// `atoll build [dir]`: bundle a project into <outdir>/index.js without deploying it.
import { mkdir, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { Command } from "commander";
import { bundleProject } from "../bundle.js";
import { displayPath } from "../display-path.js";
import { formatBundleSize } from "../sizes.js";

interface BuildFlags {
  outdir?: string;
  sourcemap?: boolean;
}

export function buildCommand(): Command {
  return new Command("build")
    .description("Bundle a function into one self-contained ES module, as `atoll deploy` would, without uploading it")
    .argument("[dir]", "the project directory: the one holding atoll.toml (or a Workers project's wrangler.toml, wrangler.json or wrangler.jsonc)", ".")
    .option("--outdir <dir>", "where to write index.js (default: <dir>/dist)")
    .option("--sourcemap", "also write index.js.map")
    .addHelpText("after", "\nExamples:\n  atoll build\n  atoll build fixtures/hello --outdir /tmp/hello\n")
    .action(async (dir: string, flags: BuildFlags) => {
      const bundle = await bundleProject(dir, { sourcemap: flags.sourcemap === true });
      for (const warning of bundle.warnings) console.error(warning);
      const outdir = resolve(flags.outdir ?? join(dir, "dist"));
      await mkdir(outdir, { recursive: true });
      const outfile = join(outdir, "index.js");
      await writeFile(outfile, bundle.code);
      if (bundle.sourceMap !== undefined) await writeFile(`${outfile}.map`, bundle.sourceMap);
      console.log(`Built ${bundle.config.name}: ${displayPath(outfile)}  ${formatBundleSize(bundle.bytes, bundle.gzipBytes)}`);
    });
}
