// `atoll start`: run a host (data plane + control API) in this process until
// SIGINT or SIGTERM, optionally deploying the example functions in fixtures/.
import { relative, resolve } from "node:path";
import { Command } from "commander";
import { DEFAULT_DATA_DIR } from "../control-options.js";
import { deployProject } from "../deploy.js";
import { displayPath } from "../display-path.js";
import { deployableFixtureDirs } from "../fixtures.js";
import { packageRoot } from "../package-root.js";
import { formatBundleSize } from "../sizes.js";
import { stopOnSignal } from "../stop-on-signal.js";
import { collect, parseCount, parsePort } from "../arguments.js";

interface StartFlags {
  port: number;
  hostname: string;
  controlPort: number;
  dataDir: string;
  workers?: number;
  deployFixtures?: boolean;
  allowPrivateFetch?: boolean;
  egressAllow: string[];
}

export function startCommand(): Command {
  return new Command("start")
    .description("Run an Atoll host: the public data plane that serves functions and the control API that deploys them")
    .option("--port <port>", "data-plane (public) port; 0 picks a free one", parsePort, 8787)
    .option("--hostname <address>", "address the data plane listens on: 127.0.0.1 (this machine only) or 0.0.0.0 (every interface)", "127.0.0.1")
    .option("--control-port <port>", "control API port (it listens on 127.0.0.1 only); 0 picks a free one", parsePort, 8788)
    .option("--data-dir <dir>", "where the host keeps its database and admin token", DEFAULT_DATA_DIR)
    .option("--workers <n>", "worker processes running isolates (default: one per core)", parseCount)
    .option("--deploy-fixtures", "deploy the example functions of fixtures/ once the host is up")
    .option("--allow-private-fetch", "let functions fetch loopback, private and link-local addresses (development only: it opens SSRF)")
    .option("--egress-allow <address>", "an address or CIDR range functions may fetch even though it is private (repeatable)", collect, [])
    .addHelpText("after", "\nExamples:\n  atoll start\n  atoll start --hostname 0.0.0.0 --port 80 --data-dir /var/lib/atoll\n  atoll start --deploy-fixtures\n")
    .action(async (flags: StartFlags) => {
      // Loaded here so that the other commands never load the host (SQLite, workers).
      const { startHost } = await import("../../host/main.js");
      const host = await startHost({
        dataDir: resolve(flags.dataDir),
        port: flags.port,
        hostname: flags.hostname,
        controlPort: flags.controlPort,
        ...(flags.workers !== undefined ? { workers: flags.workers } : {}),
        egress: { allowPrivate: flags.allowPrivateFetch === true, allow: flags.egressAllow },
      });
      const { stopped } = stopOnSignal(() => host.close());

      console.log(`Atoll is running`);
      console.log(`  functions:   ${host.dataUrl}`);
      console.log(`  control API: ${host.controlUrl}`);
      console.log(`  admin token: ${displayPath(host.tokenFile)}`);
      if (flags.deployFixtures) await deployFixtures(host.controlUrl, host.token);
      console.log("Press Ctrl+C to stop.");
      await stopped;
    });
}

async function deployFixtures(controlUrl: string, token: string): Promise<void> {
  const root = packageRoot();
  for (const dir of deployableFixtureDirs()) {
    const label = relative(root, dir);
    try {
      const result = await deployProject(dir, { controlUrl, token, message: "atoll start --deploy-fixtures", log: (line) => console.error(line) });
      const size = formatBundleSize(result.bundle_bytes, result.bundle_gzip_bytes);
      console.log(result.unchanged ? `${label}: ${result.name} version ${result.version} unchanged  ${size}` : `Deployed ${label} as ${result.name} version ${result.version}  ${size}`);
      for (const url of result.urls) console.log(`  ${url}`);
    } catch (error) {
      // One bad fixture must not keep the host from serving the others.
      console.error(`Could not deploy ${label}: ${(error as Error).message}`);
    }
  }
}

