// The buttons of a script's page, each a POST (past the session, Origin and
// CSRF checks of ../auth.ts) that calls what the control API's own route
// calls: rollbackScript and promoteScript (../../versions-routes.ts),
// replayDeadLetters and purgeDeadLetters (../../dlq-routes.ts). The answer is
// a redirect back to the script's page (303, so a reload does not repeat
// it), which shows what was done, or why nothing was (a 409's message).
import type { Context, Hono } from "hono";
import { AtollError, BadRequestError, NoCanaryToCancelError } from "../../../errors.js";
import { purgeDeadLetters, replayDeadLetters } from "../../dlq-routes.js";
import { versionNumber } from "../../params.js";
import { promoteScript, rollbackScript } from "../../versions-routes.js";
import type { DashboardEnv } from "../auth.js";
import { scriptPath } from "../html.js";
import type { DashboardOptions } from "../index.js";
import { existingScript } from "../lookup.js";
import type { Session } from "../session.js";

export function registerScriptActions(app: Hono<DashboardEnv>, options: DashboardOptions): void {
  const { deployments, log } = options;
  const queue = options.store.queue;
  const act = (handler: (c: Context<DashboardEnv>, name: string) => Promise<string>) => async (c: Context<DashboardEnv>) => {
    const { name } = existingScript(deployments, c.req.param("name"));
    await flashOutcome(c.get("session"), () => handler(c, name));
    return c.redirect(scriptPath(name), 303);
  };

  app.post(
    "/scripts/:name/rollback",
    act(async (c, name) => {
      const version = formNumber((await c.req.parseBody())["version"], "version");
      const { deployment, endedCanary } = await rollbackScript({ deployments, log }, name, version);
      if (deployment.kind === "cancel-canary") return `Cancelled the canary v${endedCanary?.version}: v${deployment.activeVersion} serves every client.`;
      return `Rolled back to v${deployment.activeVersion} (was v${deployment.previousVersion})${endedCanary ? `, cancelling the canary v${endedCanary.version}` : ""}.`;
    }),
  );

  app.post(
    "/scripts/:name/promote",
    act(async (_c, name) => {
      const { deployment } = await promoteScript({ deployments, log }, name);
      return `Promoted v${deployment.activeVersion}: it serves every client (was v${deployment.previousVersion}).`;
    }),
  );

  app.post(
    "/scripts/:name/cancel-canary",
    act(async (_c, name) => {
      const current = deployments.get(name);
      if (!current?.canary) throw new NoCanaryToCancelError(name);
      // A rollback to the active version itself, while a canary is live, cancels the canary; never moves the active version.
      const { deployment, endedCanary } = await rollbackScript({ deployments, log }, name, current.key.version);
      return `Cancelled the canary v${endedCanary?.version}: v${deployment.activeVersion} serves every client.`;
    }),
  );

  app.post(
    "/scripts/:name/dlq/replay",
    act(async (c, name) => {
      const id = formNumber((await c.req.parseBody())["id"], "id");
      const replayed = await replayDeadLetters({ queue, triggers: options.triggers, log }, name, id === undefined ? null : [id]);
      return replayed.length === 0 ? "No dead letter to replay." : `Replayed ${replayed.length} dead-lettered event(s) (#${replayed.join(", #")}): back in the queue, due now.`;
    }),
  );

  app.post(
    "/scripts/:name/dlq/purge",
    act(async (c, name) => {
      const id = formNumber((await c.req.parseBody())["id"], "id");
      const purged = await purgeDeadLetters({ queue, log }, name, id === undefined ? null : [id]);
      return `Purged ${purged} dead-lettered event(s).`;
    }),
  );
}

/** An action's outcome for the next page: what it did, or why it did nothing (an AtollError's message). */
export async function flashOutcome(session: Session, action: () => Promise<string>): Promise<void> {
  try {
    session.flash = { kind: "ok", text: await action() };
  } catch (error) {
    if (!(error instanceof AtollError)) throw error;
    session.flash = { kind: "error", text: error.message };
  }
}

/** A positive whole number from a form field (a version, an event id), or undefined when it is empty or absent. */
function formNumber(value: unknown, field: "version" | "id"): number | undefined {
  if (value === undefined || value === "") return undefined;
  if (field === "version") return versionNumber(typeof value === "string" ? value : undefined, "`version`");
  if (typeof value !== "string" || !/^\d{1,15}$/.test(value) || Number(value) < 1) throw new BadRequestError(`\`id\` must be a dead letter's id (a positive whole number), got ${JSON.stringify(String(value)).slice(0, 40)}`);
  return Number(value);
}
