// `atoll init NAME [--template fetch|hono|cron|bucket]`: scaffold a function folder.
import { resolve } from "node:path";
import { Command, InvalidArgumentError } from "commander";
import { displayPath } from "../display-path.js";
import { isTemplateName, scaffold, TEMPLATES, type TemplateName } from "../scaffold.js";

interface InitFlags {
  template: TemplateName;
  dir?: string;
  atollSpec?: string;
}

export function initCommand(): Command {
  const names = Object.keys(TEMPLATES).join("|");
  return new Command("init")
    .description("Create a new function: atoll.toml, src/index.ts, tsconfig.json, package.json (atoll as a dev dependency), .gitignore and atoll-env.d.ts, ready for `atoll dev`")
    .argument("<name>", "the script's name (a-z, 0-9 and -), also the folder's")
    .option("-t, --template <template>", `what to start from: ${Object.entries(TEMPLATES).map(([name, t]) => `${name} (${t.description})`).join(", ")}`, parseTemplate, "fetch")
    .option("--dir <dir>", "where to create it (default: ./<name>)")
    .option("--atoll-spec <spec>", "devDependencies.atoll in package.json, e.g. file:../atoll or a git URL (default: file:<this checkout> when atoll runs from a source checkout, else npm:atoll-host@^<this atoll's version>)")
    .addHelpText("after", `\nTemplates: ${names}. Examples:\n  atoll init hello\n  atoll init api --template hono\n  atoll init nightly --template cron\n  atoll init thumbnails --template bucket\n`)
    .action(async (name: string, flags: InitFlags) => {
      const dir = resolve(flags.dir ?? name);
      const { files } = await scaffold(name, dir, flags.template, flags.atollSpec !== undefined ? { atollSpec: flags.atollSpec } : {});
      const shown = displayPath(dir);
      console.log(`Created ${shown}/ from the ${flags.template} template: ${files.join(", ")}`);
      console.log("Next:");
      if (shown !== ".") console.log(`  cd ${shown}`);
      console.log("  npm install");
      console.log("  npx atoll dev        # serves it, redeploys on save");
    });
}

function parseTemplate(value: string): TemplateName {
  if (!isTemplateName(value)) throw new InvalidArgumentError(`expected one of ${Object.keys(TEMPLATES).join(", ")}`);
  return value;
}
