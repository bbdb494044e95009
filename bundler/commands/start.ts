// `atoll start`: run a host (data plane + control API) in this process until
// SIGINT or SIGTERM, optionally deploying the example functions in fixtures/,
// with the host config file of --config (host/config/host-config.ts).
import { relative, resolve } from "node:path";
import { Command } from "commander";
import { loadHostConfigFile } from "../../host/config/host-config.js";
import { DEFAULT_DATA_DIR } from "../control-options.js";
import { bundleProject } from "../bundle.js";
import { ControlClient, type ControlOptions } from "../control-client.js";
import { uploadBundle } from "../deploy.js";
import { ControlApiError } from "../errors.js";
import { displayPath } from "../display-path.js";
import { deployableFixtureDirs } from "../fixtures.js";
import { packageRoot } from "../package-root.js";
import { formatBundleSize } from "../sizes.js";
import { stopOnSignal } from "../stop-on-signal.js";
import { collect, parseCount, parseDuration, parsePort, parsePositive } from "../arguments.js";

interface StartFlags {
  port: number;
  hostname: string;
  controlPort: number;
  dataDir: string;
  workers?: number;
  deployFixtures?: boolean;
  /** commander's --no-preload: false when given. */
  preload: boolean;
  allowPrivateFetch?: boolean;
  egressAllow: string[];
  /** commander's --no-invocation-records: false when given. */
  invocationRecords: boolean;
  invocationRetention?: number;
  invocationMaxRecords?: number;
  store?: string;
  objects?: string;
  queueLease?: number;
  config?: string;
}

export function startCommand(): Command {
  return new Command("start")
    .description("Run an Atoll host: the public data plane that serves functions and the control API that deploys them")
    .option("--port <port>", "data-plane (public) port; 0 picks a free one", parsePort, 8787)
    .option("--hostname <address>", "address the data plane listens on: 127.0.0.1 (this machine only) or 0.0.0.0 (every interface)", "127.0.0.1")
    .option("--control-port <port>", "control API port (it listens on 127.0.0.1 only); 0 picks a free one", parsePort, 8788)
    .option("--data-dir <dir>", "where the host keeps its database and admin token", DEFAULT_DATA_DIR)
    .option("--config <file>", "the host config file (TOML): [billing], the price table that turns usage into a cost per script")
    .option("--store <url>", "where deployments, secrets, KV and the event queue live: sqlite (default, the data directory) or redis://HOST:PORT[/DB], shared by several hosts")
    .option("--objects <url>", "where bucket objects live: local (default, the data directory) or s3://BUCKET[/PREFIX]?endpoint=URL on S3-compatible storage (credentials from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)")
    .option("--queue-lease <duration>", "how long a claimed queue event is held for the host running it, such as 30s (default 30s with --store redis, renewed while it runs: a host that dies holds its events this long at most; 1h on the embedded store)", parseDuration)
    .option("--workers <n>", "worker processes running isolates (default: one per core)", parseCount)
    .option("--deploy-fixtures", "deploy the example functions of fixtures/ before the host starts serving")
    .option("--no-preload", "do not load a newly deployed version into an isolate before its first request (saves memory on hosts with many rarely used scripts)")
    .option("--allow-private-fetch", "let functions fetch loopback, private and link-local addresses (development only: it opens SSRF)")
    .option("--egress-allow <address>", "an address or CIDR range functions may fetch even though it is private (repeatable)", collect, [])
    .option("--invocation-retention <duration>", "how long invocation records are kept for `atoll logs`, such as 7d or 12h (default 7d)", parseDuration)
    .option("--invocation-max-records <n>", "at most this many invocation records are kept, the oldest dropped first (default 100000)", parsePositive)
    .option("--no-invocation-records", "keep no invocation records (`atoll tail` still shows them live)")
    .addHelpText("after", "\nExamples:\n  atoll start\n  atoll start --hostname 0.0.0.0 --port 80 --data-dir /var/lib/atoll\n  atoll start --deploy-fixtures\n  atoll start --config atoll-host.toml\n  atoll start --store redis://10.0.0.5:6379 --objects 's3://atoll-objects?endpoint=http://10.0.0.6:9000'\n")
    .action(async (flags: StartFlags) => {
      // A bad config file stops the start before anything of the host runs.
      const config = flags.config !== undefined ? await loadHostConfigFile(flags.config) : {};
      // Loaded here so that the other commands never load the host (SQLite, workers).
      const { startHost } = await import("../../host/main.js");
      const deployed: string[] = [];
      const host = await startHost({
        dataDir: resolve(flags.dataDir),
        port: flags.port,
        hostname: flags.hostname,
        controlPort: flags.controlPort,
        ...(flags.store !== undefined ? { store: flags.store } : {}),
        ...(flags.objects !== undefined ? { objects: flags.objects } : {}),
        ...(flags.queueLease !== undefined ? { triggers: { leaseMs: flags.queueLease } } : {}),
        ...(flags.workers !== undefined ? { workers: flags.workers } : {}),
        egress: { allowPrivate: flags.allowPrivateFetch === true, allow: flags.egressAllow },
        preloadOnDeploy: flags.preload,
        ...(config.billing !== undefined ? { billing: config.billing } : {}),
        invocationRecords: flags.invocationRecords
          ? { ...(flags.invocationRetention !== undefined ? { maxAgeMs: flags.invocationRetention } : {}), ...(flags.invocationMaxRecords !== undefined ? { maxRecords: flags.invocationMaxRecords } : {}) }
          : false,
        // The examples go in before the data plane listens: no request meets a host without them.
        ...(flags.deployFixtures ? { beforeDataPlane: async (control: ControlOptions) => void deployed.push(...(await deployFixtures(control))) } : {}),
      });
      const { stopped } = stopOnSignal(() => host.close());

      console.log(`Atoll is running`);
      console.log(`  functions:   ${host.dataUrl}`);
      console.log(`  control API: ${host.controlUrl}`);
      console.log(`  admin token: ${displayPath(host.tokenFile)}`);
      if (config.billing !== undefined) console.log(`  billing:     usage priced in ${config.billing.currency} ([billing] of ${flags.config})`);
      if (deployed.length > 0) await printUrls(deployed, { controlUrl: host.controlUrl, token: host.token });
      console.log("Press Ctrl+C to stop.");
      await stopped;
    });
}

/** The message of every version the examples' deploy makes: how a later start knows a script is one of them. */
const FIXTURE_MESSAGE = "atoll start --deploy-fixtures";

/**
 * Deploys each example whose bundle or config changed (an unchanged one makes
 * no version), and none over a script of the same name that a user deployed
 * (its active version's message is not the examples'). Returns the names of
 * the examples that serve.
 */
async function deployFixtures(control: ControlOptions): Promise<string[]> {
  const root = packageRoot();
  const client = new ControlClient(control);
  const serving: string[] = [];
  for (const dir of deployableFixtureDirs()) {
    const label = relative(root, dir);
    try {
      const bundle = await bundleProject(dir);
      for (const warning of bundle.warnings) console.error(warning);
      const name = bundle.config.name;
      const active = await activeVersion(client, name);
      if (active !== undefined && active.message !== FIXTURE_MESSAGE) {
        console.log(`${label}: skipped: ${name} is a script you deployed (version ${active.version} is active), left as it is; \`atoll delete ${name}\` and restart to get the example back`);
        continue;
      }
      const result = await uploadBundle(bundle, { ...control, message: FIXTURE_MESSAGE });
      const size = formatBundleSize(result.bundle_bytes, result.bundle_gzip_bytes);
      console.log(result.unchanged ? `${label}: ${result.name} unchanged (version ${result.version} is active)` : `Deployed ${label} as ${result.name} version ${result.version}  ${size}`);
      serving.push(name);
    } catch (error) {
      // One bad fixture must not keep the host from serving the others.
      console.error(`Could not deploy ${label}: ${(error as Error).message}`);
    }
  }
  return serving;
}

/** The script's active version (its number and message); undefined when there is no such script. */
async function activeVersion(client: ControlClient, name: string): Promise<{ version: number; message: string | null } | undefined> {
  let page;
  try {
    page = await client.listVersions(name, { limit: 1 });
  } catch (error) {
    if (error instanceof ControlApiError && error.status === 404) return undefined;
    throw error;
  }
  // Newest first: after a rollback the active version is an older one, the one just below active + 1.
  const newest = page.versions[0];
  const active = newest?.active ? newest : (await client.listVersions(name, { limit: 1, before: page.active_version + 1 })).versions[0];
  return { version: page.active_version, message: active?.message ?? null };
}

/** Where each example answers, now that the data plane listens (its port may have been picked at start). */
async function printUrls(names: readonly string[], control: ControlOptions): Promise<void> {
  const client = new ControlClient(control);
  for (const name of names) {
    const script = await client.getScript(name);
    for (const url of script.urls) console.log(`  ${name}: ${url}`);
  }
}

