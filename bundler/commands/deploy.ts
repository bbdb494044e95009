// `atoll deploy [dir]`: bundle a project and upload it as the script's new
// active version, or with --percent as a canary next to the active one.
import { Command, InvalidArgumentError } from "commander";
import { bundleProject } from "../bundle.js";
import { resolveControlOptions, withControlOptions, type ControlFlags } from "../control-options.js";
import { uploadBundle } from "../deploy.js";
import { formatBundleSize } from "../sizes.js";

interface DeployFlags extends ControlFlags {
  message?: string;
  percent?: number;
}

export function deployCommand(): Command {
  return withControlOptions(
    new Command("deploy")
      .description("Bundle a function and upload it to a host as a new version, which starts serving at once")
      .argument("[dir]", "the project directory: the one holding atoll.toml (or a Workers project's wrangler.toml, wrangler.json or wrangler.jsonc)", ".")
      .option("-m, --message <message>", "a note kept with the version, like a commit message")
      .option(
        "--percent <n>",
        "a gradual deploy: the new version serves this share of clients (1 to 99, sticky per client) and the active one the rest, until `atoll promote` or `atoll rollback`",
        parsePercent,
      ),
  )
    .addHelpText(
      "after",
      '\nExamples:\n  atoll deploy\n  atoll deploy fixtures/hello -m "first version"\n  atoll deploy --percent 10 -m "new parser"\n  ATOLL_TOKEN=... atoll deploy --control-url http://10.0.0.5:8788\n',
    )
    .action(async (dir: string, flags: DeployFlags) => {
      const control = await resolveControlOptions(flags);
      const bundle = await bundleProject(dir);
      for (const warning of bundle.warnings) console.error(warning);
      const result = await uploadBundle(bundle, {
        ...control,
        ...(flags.message !== undefined ? { message: flags.message } : {}),
        ...(flags.percent !== undefined ? { percent: flags.percent } : {}),
      });
      const size = formatBundleSize(result.bundle_bytes, result.bundle_gzip_bytes);
      if (result.unchanged) {
        // Nothing was made: the bundle and config are the active version's (a new -m message is no change).
        console.log(`${result.name} unchanged (version ${result.version} is active)`);
      } else if (result.canary) {
        console.log(`Deployed ${result.name} version ${result.version} as a canary for ${result.canary.percent}% of clients (version ${result.active_version} serves the rest)  ${size}`);
      } else {
        console.log(`Deployed ${result.name} version ${result.version}  ${size}`);
      }
      for (const url of result.urls) console.log(`  ${url}`);
      if (result.canary) console.log(`Complete it with \`atoll promote ${result.name}\`, or cancel it with \`atoll rollback ${result.name}\`.`);
    });
}

function parsePercent(value: string): number {
  const percent = Number(value);
  if (!/^\d+$/.test(value) || percent < 1 || percent > 99) throw new InvalidArgumentError("expected a whole number from 1 to 99");
  return percent;
}
