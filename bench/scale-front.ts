// Started by bench/scale.ts: a host on an existing data directory, in a
// process of its own so that its memory is only what the host keeps for the
// scripts in the store (not what a run of deploys left behind). Warms up,
// prints its memory and its workers' as one line of JSON, then closes.
import { startHost } from "../host/main.js";
import { processMemory, rssOfPids, warmUp, type Memory } from "./scale-client.js";

export interface FreshHostMemory {
  front: Memory;
  workers: number;
}

const [dataDir, ...warmups] = process.argv.slice(2);
if (!dataDir) {
  console.error("usage: node --no-node-snapshot --expose-gc dist/bench/scale-front.js <data-dir> [warm-up script …]");
  process.exit(2);
}
const host = await startHost({ dataDir, port: 0, hostname: "127.0.0.1", controlPort: 0, log: () => {} });
try {
  await warmUp(host.dataUrl, warmups);
  const measured: FreshHostMemory = { front: processMemory(), workers: rssOfPids(host.workerPids()) };
  console.log(JSON.stringify(measured));
} finally {
  await host.close();
}
