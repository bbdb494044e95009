// Control API routes for a script's versions: list them, roll back to one,
// promote a canary. Mounted under /v1/scripts by ./app.ts (behind its token).
import { Hono } from "hono";
import { BadRequestError, NotFoundError } from "../errors.js";
import type { Deployments, DeploymentChange } from "../front/deployments.js";
import type { Store } from "../store/store.js";
import { scriptName, versionNumber } from "./params.js";

export interface VersionRoutesOptions {
  store: Store;
  deployments: Deployments;
  log(line: string): void;
}

/** Versions per page of `GET …/versions`, by default and at most. */
const DEFAULT_PAGE = 20;
const MAX_PAGE = 100;

export function versionRoutes({ store, deployments, log }: VersionRoutesOptions): Hono {
  const app = new Hono();

  app.get("/:name/versions", async (c) => {
    const name = scriptName(c.req.param("name"));
    const active = deployments.get(name);
    if (!active) throw new NotFoundError(`script "${name}"`);
    const limitParam = c.req.query("limit");
    const limit = limitParam === undefined ? DEFAULT_PAGE : versionNumber(limitParam, "`limit`");
    if (limit > MAX_PAGE) throw new BadRequestError(`\`limit\` must be at most ${MAX_PAGE}, got ${limit}`);
    const beforeParam = c.req.query("before");
    const before = beforeParam === undefined ? undefined : versionNumber(beforeParam, "`before`");
    const page = await store.listVersions(name, { limit: limit + 1, ...(before !== undefined ? { before } : {}) });
    const more = page.length > limit;
    const versions = page.slice(0, limit);
    const canary = active.canary && { version: active.canary.key.version, percent: active.canary.percent };
    return c.json({
      name,
      active_version: active.key.version,
      canary,
      /** Where `rollback` without a version goes (while a canary is live, it cancels the canary instead). */
      previous_version: (await store.lastActivation(name))?.previousVersion ?? null,
      versions: versions.map((version) => ({
        version: version.version,
        created_at: version.createdAt,
        message: version.message,
        bundle_hash: version.bundleHash,
        bundle_bytes: version.bundleBytes,
        bundle_gzip_bytes: version.bundleGzipBytes,
        active: version.version === active.key.version,
        canary: version.version === canary?.version,
      })),
      /** Pass as `before` for the next (older) page; null on the last page. */
      next_before: more ? versions[versions.length - 1]!.version : null,
    });
  });

  app.post("/:name/rollback", async (c) => {
    const name = scriptName(c.req.param("name"));
    const body = optionalJson(await c.req.text(), 'the body must be empty or JSON: { "version": 3 }');
    const version = body["version"] === undefined || body["version"] === null ? undefined : versionNumber(body["version"], '"version"');
    return c.json(changeAnswer(name, await rollbackScript({ deployments, log }, name, version)));
  });

  app.post("/:name/promote", async (c) => {
    const name = scriptName(c.req.param("name"));
    return c.json(changeAnswer(name, await promoteScript({ deployments, log }, name)));
  });

  return app;
}

/**
 * A rollback (to `version`, or the previous one; while a canary is live and
 * no version is named, its cancellation) with its log line: what
 * `POST …/rollback` and the dashboard's buttons do.
 */
export async function rollbackScript({ deployments, log }: Pick<VersionRoutesOptions, "deployments" | "log">, name: string, version?: number): Promise<DeploymentChange> {
  const change = await deployments.rollback(name, version);
  const { deployment, endedCanary } = change;
  log(
    deployment.kind === "cancel-canary"
      ? `cancelled the canary ${name}@v${endedCanary?.version}; ${name}@v${deployment.activeVersion} serves every request`
      : `rolled back ${name} to v${deployment.activeVersion} (was v${deployment.previousVersion})${endedCanary ? `, cancelling the canary v${endedCanary.version}` : ""}`,
  );
  return change;
}

/** The canary becomes the active version, with its log line: `POST …/promote` and the dashboard's button. */
export async function promoteScript({ deployments, log }: Pick<VersionRoutesOptions, "deployments" | "log">, name: string): Promise<DeploymentChange> {
  const change = await deployments.promote(name);
  log(`promoted ${name}@v${change.deployment.activeVersion} (was v${change.deployment.previousVersion})`);
  return change;
}

function changeAnswer(name: string, { deployment, endedCanary }: DeploymentChange) {
  return {
    name,
    /** "rollback", "promote" or "cancel-canary". */
    kind: deployment.kind,
    active_version: deployment.activeVersion,
    previous_version: deployment.previousVersion,
    /** The canary this change ended (promoted or cancelled), if any. */
    ended_canary: endedCanary,
    created_at: deployment.createdAt,
  };
}

function optionalJson(text: string, usage: string): Record<string, unknown> {
  if (text.trim() === "") return {};
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new BadRequestError(usage);
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) throw new BadRequestError(usage);
  return body as Record<string, unknown>;
}
