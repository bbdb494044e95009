// The control API (its own port, bearer token): upload, list and delete
// scripts. Every upload is validated in a real isolate before it is saved.
// Versions and secrets have their own route files, mounted below.
import { gzip } from "node:zlib";
import { promisify } from "node:util";
import { createHash } from "node:crypto";
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import {
  AtollError,
  BadRequestError,
  BundleEvaluationError,
  BundleParseError,
  BundleTooLargeError,
  MissingHandlerError,
  NoDefaultExportError,
  NotFoundError,
  UnauthorizedError,
} from "../errors.js";
import { parseScriptConfig, triggersOf, type ScriptConfig } from "../config/script-config.js";
import type { Executor } from "../executor/executor.js";
import { isolateSettings, type Deployments } from "../front/deployments.js";
import type { Store } from "../store/store.js";
import { bearerMatches } from "./auth.js";
import type { BindingHost } from "../bindings/binding-host.js";
import type { HostMetrics } from "../metrics.js";
import { registerKvRoutes } from "./kv-routes.js";
import { registerBucketRoutes } from "./bucket-routes.js";
import { checkVersionAssets, registerAssetRoutes } from "./assets-routes.js";
import { scriptName } from "./params.js";
import { secretRoutes } from "./secrets-routes.js";
import { versionRoutes } from "./versions-routes.js";
import { invokeRoutes } from "./invoke-routes.js";
import { dlqRoutes } from "./dlq-routes.js";
import { logsRoutes } from "./logs-routes.js";
import { usageRoutes } from "./usage-routes.js";
import { dashboardRoutes } from "./dashboard/index.js";
import type { Observer } from "../observe/observer.js";
import type { Triggers } from "../triggers/index.js";
import type { PriceTable } from "../config/host-config.js";
import { HOST_DEFAULTS } from "../host-defaults.js";

const gzipAsync = promisify(gzip);

export interface ControlApiOptions {
  token: string;
  store: Store;
  deployments: Deployments;
  executor: Executor;
  /** Largest bundle accepted, bytes. */
  maxBundleBytes: number;
  /** Functions' bindings: the control API serves the same KV namespaces and buckets. */
  bindings: BindingHost;
  /** Served at GET /metrics (Prometheus text), without a token, like /healthz. */
  metrics: HostMetrics;
  /** Direct and async invocation, the event queue and dead letters. */
  triggers: Triggers;
  /** Invocation records: live tails and the stored ones. */
  observer: Observer;
  /** The price table that turns usage into costs ([billing] of the host config); null: usage has no cost. */
  billing: PriceTable | null;
  /** The public URLs of a script, for upload answers. */
  urlsFor(config: ScriptConfig): string[];
  log(line: string): void;
}

export function createControlApi(options: ControlApiOptions): Hono {
  const { token, store, deployments, executor, log } = options;
  const app = new Hono();

  app.onError((error, c) => {
    if (error instanceof AtollError) return c.json(error.toJSON(), error.status as 400);
    log(`control API error: ${error.stack ?? error.message}`);
    return c.json({ error: { code: "ATOLL_INTERNAL", message: "internal error; see the host's log" } }, 500);
  });
  app.notFound((c) => c.json(new NotFoundError(`${c.req.method} ${c.req.path}`).toJSON(), 404));

  app.get("/healthz", (c) => c.json({ ok: true }));
  app.get("/metrics", async (c) => {
    const { contentType, body } = await options.metrics.text();
    return c.body(body, 200, { "content-type": contentType });
  });

  app.use("/v1/*", async (c, next) => {
    if (!bearerMatches(c.req.header("authorization"), token)) throw new UnauthorizedError();
    await next();
  });

  registerKvRoutes(app, options.bindings);
  registerBucketRoutes(app, options.bindings, store.objects);
  registerAssetRoutes(app, store.objects);

  app.get("/v1/scripts", async (c) => {
    const scripts = await store.listScripts();
    return c.json({
      scripts: scripts.map((s) => ({ name: s.name, active_version: s.activeVersion, canary: s.canary, routes: (s.config as ScriptConfig).routes, updated_at: s.updatedAt })),
    });
  });

  app.get("/v1/scripts/:name", async (c) => {
    const name = scriptName(c.req.param("name"));
    const script = await store.getScript(name);
    if (!script) throw new NotFoundError(`script "${name}"`);
    const active = await store.getVersion(name, script.activeVersion);
    return c.json({
      name,
      active_version: script.activeVersion,
      /** A gradual deploy in progress: `{ version, percent }`, else null. */
      canary: script.canary,
      config: script.config,
      versions: await store.countVersions(name),
      bundle_bytes: active?.bundleBytes,
      bundle_hash: active?.bundleHash,
      urls: options.urlsFor(script.config as ScriptConfig),
      /** The cron schedules running now and when each fires next. */
      schedules: options.triggers.cron.describe(name).map(({ cron, timezone, next }) => ({ cron, timezone, next_run: next === null ? null : new Date(next).toISOString() })),
      created_at: script.createdAt,
      updated_at: script.updatedAt,
    });
  });

  app.put(
    "/v1/scripts/:name",
    bodyLimit({
      // JSON escaping can grow a bundle; the bundle's own size is checked below.
      maxSize: options.maxBundleBytes * 2 + 1024 * 1024,
      onError: () => {
        throw new BundleTooLargeError(undefined, options.maxBundleBytes);
      },
    }),
    async (c) => {
      const name = scriptName(c.req.param("name"));
      const upload = parseUpload(await c.req.json().catch(() => undefined));
      const config = parseScriptConfig(upload.config, "the uploaded config");
      if (config.name !== name) throw new BadRequestError(`the config's name "${config.name}" does not match the URL's script name "${name}"`);
      const bundleBytes = Buffer.byteLength(upload.bundle);
      if (bundleBytes > options.maxBundleBytes) throw new BundleTooLargeError(bundleBytes, options.maxBundleBytes);
      await checkVersionAssets(store.objects, config);

      const canaryOption = upload.percent === undefined ? {} : { canaryPercent: upload.percent };
      const bundleHash = createHash("sha256").update(upload.bundle).digest("hex");
      const { version: saved, unchanged } = await deployments.deploy(config, bundleHash, async () => {
        const validation = await executor.validate(name, upload.bundle, isolateSettings(config));
        if (!validation.ok) {
          const { kind, message, line, column } = validation.error;
          if (kind === "parse") throw new BundleParseError(message, line, column);
          if (kind === "no-default-export") throw new NoDefaultExportError(message);
          throw new BundleEvaluationError(message);
        }
        if (!validation.handlers.fetch && !validation.handlers.scheduled && !validation.handlers.storage) {
          throw new NoDefaultExportError("it has no fetch, scheduled or storage handler");
        }
        const triggers = triggersOf(config);
        if (triggers.crons.length > 0 && !validation.handlers.scheduled) {
          throw new MissingHandlerError("scheduled", `[triggers] crons schedules ${triggers.crons.map((cron) => JSON.stringify(cron)).join(", ")}`);
        }
        if (triggers.storage.length > 0 && !validation.handlers.storage) {
          throw new MissingHandlerError("storage", `[[triggers.storage]] watches bucket ${triggers.storage.map((rule) => JSON.stringify(rule.bucket)).join(", ")}`);
        }
        return {
          bundle: upload.bundle,
          bundleHash,
          bundleBytes,
          bundleGzipBytes: (await gzipAsync(upload.bundle)).byteLength,
          codeCache: validation.codeCache,
          message: upload.message ?? null,
        };
      }, canaryOption);
      const canary = upload.percent === undefined ? null : { version: saved.version, percent: upload.percent };
      if (unchanged) log(`${name}@v${saved.version} unchanged: the upload equals the active version, no version made`);
      else log(`deployed ${name}@v${saved.version} (${saved.bundleBytes} bytes)${canary ? ` as a canary for ${canary.percent}% of clients` : ""}`);
      return c.json(
        {
          name,
          version: saved.version,
          /** True when the bundle and config equal the active version's: nothing was saved (answered with 200, not 201). */
          unchanged,
          /** The version serving everyone else: the upload itself, unless it is a canary. */
          active_version: deployments.get(name)?.key.version ?? saved.version,
          canary,
          bundle_bytes: saved.bundleBytes,
          bundle_gzip_bytes: saved.bundleGzipBytes,
          urls: options.urlsFor(config),
          created_at: saved.createdAt,
        },
        unchanged ? 200 : 201,
      );
    },
  );

  app.delete("/v1/scripts/:name", async (c) => {
    const name = scriptName(c.req.param("name"));
    if (!(await deployments.remove(name))) throw new NotFoundError(`script "${name}"`);
    log(`deleted ${name}`);
    return c.json({ deleted: name });
  });

  app.route("/v1/scripts", versionRoutes({ store, deployments, log }));
  app.route("/v1/scripts", secretRoutes({ deployments, log }));
  app.route("/v1/scripts", invokeRoutes({ deployments, executor, triggers: options.triggers, objects: store.objects, maxBodyBytes: HOST_DEFAULTS.maxInvokeBodyBytes, log, observer: options.observer }));
  app.route("/v1/usage", usageRoutes({ observer: options.observer, billing: options.billing }));
  app.route("/v1/scripts", logsRoutes({ deployments, observer: options.observer, store: options.observer.store, log }));
  app.route("/v1/scripts", dlqRoutes({ queue: store.queue, deployments, triggers: options.triggers, log }));
  // The web dashboard: its own login and session cookie (the /v1 middleware above is for /v1 alone, and takes no cookie).
  app.route("/dashboard", dashboardRoutes(options));

  return app;
}

interface Upload {
  config: unknown;
  bundle: string;
  message?: string;
  /** A gradual deploy: the share of clients (1 to 99) the upload serves as a canary. */
  percent?: number;
}

function parseUpload(body: unknown): Upload {
  const usage = 'the body must be JSON: { "config": { ... }, "bundle": "<ES module source>", "message": "optional", "percent": optional 1-99 }';
  if (typeof body !== "object" || body === null) throw new BadRequestError(usage);
  const { config, bundle, message, percent } = body as Record<string, unknown>;
  if (typeof config !== "object" || config === null) throw new BadRequestError(`"config" is missing or not an object: ${usage}`);
  if (typeof bundle !== "string" || bundle.length === 0) throw new BadRequestError(`"bundle" is missing or empty: ${usage}`);
  if (message !== undefined && (typeof message !== "string" || message.length > 1000)) throw new BadRequestError(`"message" must be a string of at most 1000 characters`);
  if (percent !== undefined && percent !== null && !(Number.isInteger(percent) && (percent as number) >= 1 && (percent as number) <= 99)) {
    throw new BadRequestError(`"percent" must be a whole number from 1 to 99 (the share of clients the new version serves as a canary), got ${JSON.stringify(percent)}`);
  }
  return { config, bundle, ...(message !== undefined ? { message } : {}), ...(typeof percent === "number" ? { percent } : {}) };
}

