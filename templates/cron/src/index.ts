// A cron job: runs every five minutes ([triggers] crons in atoll.toml) and
// keeps a count of its runs in KV. GET / shows the last run.
// In `atoll dev`, press c to run it now.
import type { ExportedHandler } from "atoll/sdk";

interface LastRun {
  cron: string;
  /** When the tick was due, ms since the epoch. */
  scheduledTime: number;
  count: number;
}

export default {
  async scheduled(controller, env) {
    const last = await env.RUNS.get<LastRun>("last", "json");
    const run: LastRun = { cron: controller.cron, scheduledTime: controller.scheduledTime, count: (last?.count ?? 0) + 1 };
    await env.RUNS.put("last", JSON.stringify(run));
    console.log(`run ${run.count}, due at ${new Date(run.scheduledTime).toISOString()}`);
  },

  async fetch(_request, env) {
    const last = await env.RUNS.get<LastRun>("last", "json");
    return Response.json(last ?? { message: "no run yet: it runs every five minutes (press c in atoll dev to run it now)" });
  },
} satisfies ExportedHandler<Env>;
