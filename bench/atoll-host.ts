// The host of `npm run bench`, in a process of its own so that the front's CPU
// is its own in /proc (the bench process also drives autocannon). Started by
// bench/atoll-process.ts with the data directory as its argument (and
// `--no-preload`, `--no-invocation-records` to turn those off); tells its
// parent its URLs and token over IPC; closes on SIGTERM or when the parent goes.
// Same settings as `atoll start`, minus its log: one line per request is
// not what the benchmark measures.
import { startHost } from "../host/main.js";

export interface AtollHostReady {
  dataUrl: string;
  controlUrl: string;
  token: string;
}

const dataDir = process.argv[2];
if (!dataDir || !process.send) {
  console.error("usage: node --no-node-snapshot dist/bench/atoll-host.js <data-dir>, forked with an IPC channel");
  process.exit(2);
}
const flags = process.argv.slice(3);
const preloadOnDeploy = !flags.includes("--no-preload");
const invocationRecords = flags.includes("--no-invocation-records") ? { invocationRecords: false as const } : {};
const host = await startHost({ dataDir, port: 0, hostname: "127.0.0.1", controlPort: 0, log: () => {}, preloadOnDeploy, ...invocationRecords });
let closing: Promise<void> | undefined;
const close = () =>
  (closing ??= host.close().then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(`the bench host did not close cleanly: ${error instanceof Error ? error.message : String(error)}`);
      process.exit(1);
    },
  ));
process.once("SIGTERM", close);
process.once("disconnect", close);
const ready: AtollHostReady = { dataUrl: host.dataUrl, controlUrl: host.controlUrl, token: host.token };
process.send(ready);
