// `atoll deploy [dir]`: bundle a project and upload it as the script's new active version.
import { Command } from "commander";
import { bundleProject } from "../bundle.js";
import { resolveControlOptions, withControlOptions, type ControlFlags } from "../control-options.js";
import { uploadBundle } from "../deploy.js";
import { formatBundleSize } from "../sizes.js";

interface DeployFlags extends ControlFlags {
  message?: string;
}

export function deployCommand(): Command {
  return withControlOptions(
    new Command("deploy")
      .description("Bundle a function and upload it to a host as a new version, which starts serving at once")
      .argument("[dir]", "the project directory: the one holding atoll.toml", ".")
      .option("-m, --message <message>", "a note kept with the version, like a commit message"),
  )
    .addHelpText("after", '\nExamples:\n  atoll deploy\n  atoll deploy fixtures/hello -m "first version"\n  ATOLL_TOKEN=... atoll deploy --control-url http://10.0.0.5:8788\n')
    .action(async (dir: string, flags: DeployFlags) => {
      const control = await resolveControlOptions(flags);
      const bundle = await bundleProject(dir);
      for (const warning of bundle.warnings) console.error(warning);
      const result = await uploadBundle(bundle, { ...control, ...(flags.message !== undefined ? { message: flags.message } : {}) });
      console.log(`Deployed ${result.name} version ${result.version}  ${formatBundleSize(result.bundle_bytes, result.bundle_gzip_bytes)}`);
      for (const url of result.urls) console.log(`  ${url}`);
    });
}
