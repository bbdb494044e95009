// Finding the script a dashboard URL names: a valid name of a deployed script,
// else the control API's own errors (400 ATOLL_BAD_NAME, 404).
import { NotFoundError } from "../../errors.js";
import type { ActiveScript, Deployments } from "../../front/deployments.js";
import type { QueuedInvocation } from "../../store/queue.js";
import { scriptName } from "../params.js";

export function existingScript(deployments: Deployments, raw: string | undefined): { name: string; active: ActiveScript } {
  const name = scriptName(raw ?? "");
  const active = deployments.get(name);
  if (!active) throw new NotFoundError(`script "${name}"`);
  return { name, active };
}

/** A queued event in one line: "cron 0 3 * * *", "put uploads/a.png", "POST /run". */
export function eventSummary(event: QueuedInvocation): string {
  if (event.kind === "scheduled") return `cron ${event.cron}`;
  if (event.kind === "storage") return `${event.action} ${event.bucket}/${event.key}`;
  return `${event.method} ${event.path}`;
}
