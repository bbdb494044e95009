// `atoll dev [dir]`: run the function in the current folder on a local host,
// the same one `atoll start` runs, and redeploy it on every save.
import { Command } from "commander";
import { DevSession } from "../dev/session.js";
import { keyHelp, listenForKeys, type KeyBinding } from "../dev/keys.js";
import { displayPath } from "../display-path.js";
import { stopOnSignal } from "../stop-on-signal.js";
import { collect, parseCount, parsePort } from "../arguments.js";

interface DevFlags {
  port: number;
  hostname: string;
  controlPort: number;
  dataDir?: string;
  workers: number;
  allowPrivateFetch?: boolean;
  egressAllow: string[];
}

export function devCommand(): Command {
  return new Command("dev")
    .description(
      "Run the function in a folder on a local host (worker processes, isolates, limits and store as in production), rebuild and redeploy it on every save, and print its logs, one line per invocation and its console output",
    )
    .argument("[dir]", "the project directory: the one holding atoll.toml (or a Workers project's wrangler.toml, wrangler.json or wrangler.jsonc)", ".")
    .option("--port <port>", "data-plane port; 0 picks a free one", parsePort, 8787)
    .option("--hostname <address>", "address the data plane listens on", "127.0.0.1")
    .option("--control-port <port>", "control API port (127.0.0.1 only); 0 picks a free one", parsePort, 0)
    .option("--data-dir <dir>", "where the local host keeps its database (default: <dir>/.atoll/dev)")
    .option("--workers <n>", "worker processes running isolates", parseCount, 1)
    .option("--allow-private-fetch", "let the function fetch loopback and private addresses (a production host refuses them)")
    .option("--egress-allow <address>", "an address or CIDR range the function may fetch even though it is private (repeatable)", collect, [])
    .addHelpText(
      "after",
      `
Secrets for local runs go in .dev.vars (NAME=value lines, never committed): they
reach env like secrets on a real host. atoll-env.d.ts, when the project has one,
is rewritten whenever atoll.toml or .dev.vars changes.

Keys while it runs: b rebuild now (deployed if changed) · c run the scheduled handler
now (it asks which cron; empty: the first) · s send a storage event (it asks for
put|delete:BUCKET/KEY, or a KEY in the first watched bucket) · q quit. With stdin
a pipe, one command per line: "b", "c", "c 0 * * * *", "s put:uploads/a.txt", "q".
Cron schedules also fire on their own, as on a host.

Examples:
  atoll dev
  atoll dev fixtures/hello --port 0
`,
    )
    .action(async (dir: string, flags: DevFlags) => {
      const session = await DevSession.start({
        dir,
        ...(flags.dataDir !== undefined ? { dataDir: flags.dataDir } : {}),
        port: flags.port,
        hostname: flags.hostname,
        controlPort: flags.controlPort,
        workers: flags.workers,
        egress: { allowPrivate: flags.allowPrivateFetch === true, allow: flags.egressAllow },
        print: (text) => console.log(text),
      });
      let stopKeys = () => {};
      const stopper = stopOnSignal(async () => {
        stopKeys();
        await session.close();
      });
      const bindings: KeyBinding[] = [
        { key: "b", description: "rebuild now", run: () => void session.rebuild([], "b pressed") },
        { key: "c", description: "run the scheduled handler now", prompt: "cron (empty: the first schedule): ", run: (cron) => void session.fireScheduled(cron) },
        { key: "s", description: "send a storage event", prompt: "storage event, action:bucket/key (or a key in the watched bucket): ", run: (spec) => void session.fireStorage(spec ?? "") },
        { key: "q", description: "quit", run: () => stopper.stop("q") },
      ];
      console.log(`atoll dev: ${session.scriptName} on ${session.dataUrl}`);
      console.log(`  control API ${session.controlUrl} (e.g. atoll kv list NAMESPACE --control-url ${session.controlUrl} --data-dir ${displayPath(session.dataDir)})`);
      console.log(`  keys: ${keyHelp(bindings)}`);
      stopKeys = listenForKeys(process.stdin, bindings);
      await stopper.stopped;
    });
}
