// One `atoll dev` session: the production host (startHost: worker processes,
// isolates, limits, the SQLite store) in this process with its data in the
// project's .atoll/dev, the function in the project folder deployed to it,
// and a rebuild and redeploy on every save. A build that fails, or an upload
// the host refuses, is printed and changes nothing: the last good version
// keeps serving. Host log lines (invocations, console output, errors) are
// printed with their stack frames mapped to the user's sources.
import { existsSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { context, type BuildContext } from "esbuild";
import type { RunningHost } from "../../host/main.js";
import { asBuildError, bundleOf, esbuildOptions, loadProject, type BundleResult, type Project } from "../bundle.js";
import { ControlClient, type InvokeRequest, type InvokeResult } from "../control-client.js";
import { attachAssets } from "../assets.js";
import { uploadBundle } from "../deploy.js";
import { DEV_VARS_FILE, loadDevVars } from "../dev-vars.js";
import { displayPath } from "../display-path.js";
import { ENV_TYPES_FILE, writeEnvTypes } from "../env-types.js";
import { BuildError } from "../errors.js";
import { StackMapper, bundleOutdir, mapUploadError } from "./stack-mapper.js";
import { SourceWatcher } from "./source-watcher.js";

export interface DevSessionOptions {
  /** The project folder (holding atoll.toml). */
  dir: string;
  /** The host's data directory. Default `<dir>/.atoll/dev`. */
  dataDir?: string;
  /** Data-plane port (0: any free one). */
  port: number;
  hostname: string;
  /** Control API port (0: any free one). */
  controlPort: number;
  /** Worker processes. */
  workers: number;
  egress?: { allowPrivate?: boolean; allow?: string[] };
  /** Where the session's output goes: one message per call (some span several lines). */
  print(text: string): void;
}

/** The outcome of one rebuild. */
export type RebuildOutcome =
  | { kind: "deployed"; version: number; buildMs: number; deployMs: number }
  | { kind: "unchanged" }
  | { kind: "failed"; stage: "config" | "build" | "deploy"; message: string };

interface QueuedRebuild {
  files: string[];
  why: string | undefined;
  done: Promise<RebuildOutcome | undefined>;
}

export class DevSession {
  readonly dataDir: string;
  private project: Project;
  private build: BuildContext<ReturnType<typeof esbuildOptions>> | null = null;
  private readonly client: ControlClient;
  private readonly mapper = new StackMapper();
  private readonly watcher: SourceWatcher;
  /** The bundle and config last deployed, to skip a redeploy that would change nothing. */
  private deployed: string | null = null;
  private activeVersion: number | null = null;
  /** Files of the last successful build. */
  private inputs: string[] = [];
  /** The values of .dev.vars last put in the host as secrets. */
  private secrets = new Map<string, string>();
  /** Rebuilds run one at a time; changes seen meanwhile are handled by the next one. */
  private running: Promise<unknown> = Promise.resolve();
  private queued: QueuedRebuild | null = null;
  private closed = false;

  /** The host, once its data plane listens (the first build is deployed before: see start). */
  private host: RunningHost | null = null;
  /** The first deploy's URLs, printed once the data plane listens and they carry its real port. */
  private firstUrlsPending = false;

  private constructor(
    private readonly options: DevSessionOptions,
    private readonly control: { controlUrl: string; token: string },
    project: Project,
    dataDir: string,
  ) {
    this.project = project;
    this.dataDir = dataDir;
    this.client = new ControlClient(control);
    this.watcher = new SourceWatcher((files) => void this.rebuild(files));
  }

  /**
   * Starts the host and deploys the project. A config error stops it; a build
   * error is printed and waited out. The first build is deployed through the
   * control API before the data plane listens (as `atoll start
   * --deploy-fixtures` does): the first request meets the function, not a
   * 404 for a function about to be there.
   */
  static async start(options: DevSessionOptions): Promise<DevSession> {
    const project = await loadProject(options.dir);
    const dataDir = resolve(options.dataDir ?? join(project.dir, ".atoll", "dev"));
    // Loaded here so that the other commands never load the host (SQLite, workers).
    const { startHost } = await import("../../host/main.js");
    let session: DevSession | undefined;
    const starting = startHost({
      dataDir,
      port: options.port,
      hostname: options.hostname,
      controlPort: options.controlPort,
      workers: options.workers,
      ...(options.egress ? { egress: options.egress } : {}),
      log: (line) => options.print(`${clock()} ${session ? session.mapper.mapLine(line) : line}`),
      logColours: process.stdout.isTTY === true,
      beforeDataPlane: async (control) => {
        session = new DevSession(options, control, project, dataDir);
        await session.rebuild([], "first build");
      },
    });
    let host: RunningHost;
    try {
      host = await starting;
    } catch (error) {
      // The host shut down what it started (a data port in use, say); the watcher and esbuild are ours to stop.
      await session?.close();
      throw error;
    }
    if (!session) throw new Error("the host started without running beforeDataPlane");
    await session.attach(host);
    return session;
  }

  get dataUrl(): string {
    return this.host!.dataUrl;
  }

  get controlUrl(): string {
    return this.control.controlUrl;
  }

  /** Takes the host once it serves, and prints the first deploy's URLs, now that they carry its port. */
  private async attach(host: RunningHost): Promise<void> {
    this.host = host;
    if (!this.firstUrlsPending) return;
    this.firstUrlsPending = false;
    try {
      for (const url of (await this.client.getScript(this.project.config.name)).urls) this.options.print(`  ${url}`);
    } catch (error) {
      this.options.print(`${clock()} [dev] could not list the function's URLs: ${(error as Error).message}`);
    }
  }

  get scriptName(): string {
    return this.project.config.name;
  }

  /** The version serving now (null until a build deployed). */
  get version(): number | null {
    return this.activeVersion;
  }

  /**
   * Rebuilds and redeploys after `changed` (absolute paths), or because of
   * `why` (then it redeploys even an unchanged bundle). Resolves when this
   * change has been handled.
   */
  rebuild(changed: string[], why?: string): Promise<RebuildOutcome | undefined> {
    if (this.queued) {
      this.queued.files.push(...changed);
      this.queued.why ??= why;
      return this.queued.done;
    }
    const queued: QueuedRebuild = { files: [...changed], why, done: Promise.resolve(undefined) };
    queued.done = this.running.then(() => {
      this.queued = null;
      return this.closed ? undefined : this.handle([...new Set(queued.files)], queued.why);
    });
    this.queued = queued;
    this.running = queued.done.catch(() => undefined);
    return queued.done;
  }

  /** Runs the scheduled handler once now, for `cron` (default: the first schedule in atoll.toml). */
  fireScheduled(cron?: string): Promise<InvokeResult | undefined> {
    const crons = this.project.config.triggers.crons;
    const chosen = cron ?? crons[0] ?? "";
    return this.fire({ kind: "scheduled", ...(chosen === "" ? {} : { cron: chosen }) }, `scheduled ${JSON.stringify(chosen)}`);
  }

  /**
   * Runs the storage handler once now for `spec`, "put:BUCKET/KEY" or
   * "delete:BUCKET/KEY"; a bare KEY means a put in the first bucket the
   * script watches (`[[triggers.storage]]`).
   */
  fireStorage(spec: string): Promise<InvokeResult | undefined> {
    const full = /^(put|delete):([^/]+)\/(.+)$/.exec(spec.trim());
    const watched = this.project.config.triggers.storage[0]?.bucket;
    if (!full && (watched === undefined || spec.trim() === "")) {
      this.options.print(`${clock()} [dev] a storage event is action:bucket/key, e.g. put:uploads/images/cat.png${watched ? `, or a key in ${watched}` : ""}`);
      return Promise.resolve(undefined);
    }
    const [action, bucket, key] = full ? [full[1] as "put" | "delete", full[2]!, full[3]!] : (["put", watched!, spec.trim()] as const);
    return this.fire({ kind: "storage", action, bucket, key }, `storage ${action} ${bucket}/${key}`);
  }

  /** A direct invocation through the control API; prints a failure with its stack mapped to the sources. */
  private async fire(request: InvokeRequest, what: string): Promise<InvokeResult | undefined> {
    try {
      const answer = await this.client.invoke(this.project.config.name, request);
      if ("queued" in answer) return undefined;
      if (answer.outcome !== "ok") {
        const error = answer.error;
        const stack = error?.stack ? `\n  ${this.mapper.mapStack(answer.name, answer.version, error.stack).replace(/\n/g, "\n  ")}` : "";
        this.options.print(`${clock()} [dev] ${what} failed: ${error?.code ?? "ATOLL_INTERNAL"}: ${error?.message ?? "failed"}${stack}`);
      }
      return answer;
    } catch (error) {
      this.options.print(`${clock()} [dev] ${what}: ${(error as Error).message}`);
      return undefined;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    this.watcher.close();
    await this.running;
    await this.build?.dispose();
    await this.host?.close();
  }

  private async handle(changed: string[], why: string | undefined): Promise<RebuildOutcome> {
    const started = performance.now();
    const names = changed.map((file) => displayPath(file));
    const what = why ?? `${names.join(", ")} changed`;
    const configFile = this.project.configFile;
    const devVarsFile = join(this.project.dir, DEV_VARS_FILE);
    const configChanged = changed.includes(configFile);
    const devVarsChanged = changed.includes(devVarsFile);

    // What of a wrangler file is not taken is said once per reading of the file, not on every save.
    let configRead = false;
    if (configChanged || this.build === null) {
      try {
        // With atoll.toml broken, the last good config stays in use.
        const project = await loadProject(this.project.dir);
        const build = await context(esbuildOptions(project, { sourcemap: true }));
        await this.build?.dispose();
        this.project = project;
        this.build = build;
        configRead = true;
      } catch (error) {
        return this.failed("config", what, error);
      }
      if (configChanged || devVarsChanged) await this.refreshEnvTypes();
    } else if (devVarsChanged) {
      await this.refreshEnvTypes();
    }

    let bundle: BundleResult;
    try {
      const result = await this.build.rebuild();
      this.inputs = Object.keys(result.metafile.inputs).map((input) => resolve(this.project.dir, input));
      // The assets' manifest is part of what is deployed: a changed file alone makes a new version.
      bundle = await attachAssets(bundleOf(this.project, result));
    } catch (error) {
      const failure = asBuildError(error, this.project.dir);
      this.watchInputs(failure instanceof BuildError ? filesNamedIn(failure.problems, this.project.dir) : []);
      return this.failed("build", what, failure);
    }
    this.watchInputs([]);
    const buildMs = performance.now() - started;
    for (const warning of bundle.warnings) if (configRead || !this.project.configWarnings.includes(warning)) this.options.print(warning);

    const deploying = `${JSON.stringify(bundle.config)}\n${bundle.code}`;
    if (deploying === this.deployed && this.activeVersion !== null && why === undefined) {
      if (devVarsChanged) await this.syncSecrets();
      else this.options.print(`${clock()} [dev] ${what}: the bundle and its config are as deployed: version ${this.activeVersion} keeps serving`);
      return { kind: "unchanged" };
    }
    const deployStarted = performance.now();
    try {
      const uploaded = await uploadBundle(bundle, { ...this.control, message: `atoll dev: ${what}` });
      if (bundle.sourceMap !== undefined) this.mapper.add(uploaded.name, uploaded.version, bundle.sourceMap, bundleOutdir(this.project.dir));
      const first = this.activeVersion === null;
      this.activeVersion = uploaded.version;
      this.deployed = deploying;
      await this.syncSecrets();
      const deployMs = performance.now() - deployStarted;
      // A session started on a kept data directory finds its function as it left it: the host made no version.
      const done = uploaded.unchanged ? `${uploaded.name} unchanged (version ${uploaded.version} is active)` : `deployed ${uploaded.name} version ${uploaded.version} in ${ms(deployMs)} (${ms(buildMs + deployMs)} in all)`;
      this.options.print(`${clock()} [dev] ${what}: built in ${ms(buildMs)}, ${done}`);
      if (first && this.host === null) this.firstUrlsPending = true;
      else if (first) for (const url of uploaded.urls) this.options.print(`  ${url}`);
      return { kind: "deployed", version: uploaded.version, buildMs, deployMs };
    } catch (error) {
      // The host evaluated the bundle as file:///<name>.js: a top-level throw's stack maps too.
      const message = error instanceof Error ? error.message : String(error);
      return this.failed("deploy", what, bundle.sourceMap === undefined ? message : mapUploadError(message, this.project.config.name, bundle.sourceMap, bundleOutdir(this.project.dir)));
    }
  }

  /** Prints a failure; whatever was serving keeps serving. */
  private failed(stage: "config" | "build" | "deploy", what: string, error: unknown): RebuildOutcome {
    const message = error instanceof Error ? error.message : String(error);
    const serving = this.activeVersion === null ? "nothing is deployed yet" : `version ${this.activeVersion} keeps serving`;
    const title = stage === "config" ? `${basename(this.project.configFile)} has problems` : stage === "build" ? "the build failed" : "the host refused the upload";
    this.options.print(`${clock()} [dev] ${what}: ${title} (${serving}):\n  ${message.replace(/^build failed:\n {2}/, "").replace(/\n/g, "\n  ")}`);
    return { kind: "failed", stage, message };
  }

  /** Watches the last good build's inputs, the config, .dev.vars and `extra` (files a failed build named). */
  private watchInputs(extra: string[]): void {
    const assets = this.project.config.assets;
    this.watcher.watch(
      [...this.inputs, ...extra, ...(this.project.entry !== null ? [this.project.entry] : []), this.project.configFile, join(this.project.dir, DEV_VARS_FILE)],
      assets ? [resolve(dirname(this.project.configFile), assets.directory)] : [],
    );
  }

  /** Puts the values of .dev.vars in the host as the script's secrets; deletes those removed from it. */
  private async syncSecrets(): Promise<void> {
    let wanted: Map<string, string>;
    try {
      wanted = await loadDevVars(this.project.dir);
    } catch (error) {
      this.options.print(`${clock()} [dev] ${DEV_VARS_FILE}: ${(error as Error).message}`);
      return;
    }
    const name = this.project.config.name;
    try {
      for (const [key, value] of wanted) if (this.secrets.get(key) !== value) await this.client.putSecret(name, key, value);
      for (const key of this.secrets.keys()) if (!wanted.has(key)) await this.client.deleteSecret(name, key);
      const changed = wanted.size !== this.secrets.size || [...wanted].some(([key, value]) => this.secrets.get(key) !== value);
      if (changed && wanted.size > 0) this.options.print(`${clock()} [dev] secrets from ${DEV_VARS_FILE}: ${[...wanted.keys()].join(", ")}`);
      this.secrets = wanted;
    } catch (error) {
      this.options.print(`${clock()} [dev] ${DEV_VARS_FILE}: ${(error as Error).message}`);
    }
  }

  /** Rewrites atoll-env.d.ts after a config change, when the project has one. */
  private async refreshEnvTypes(): Promise<void> {
    if (!existsSync(join(this.project.dir, ENV_TYPES_FILE))) return;
    try {
      await writeEnvTypes(this.project.dir);
    } catch (error) {
      this.options.print(`${clock()} [dev] ${ENV_TYPES_FILE} not updated: ${(error as Error).message}`);
    }
  }
}

/** The files a build error names ("src/a.ts:3:7: error: …"), so a fix to one of them is seen. */
function filesNamedIn(problems: string[], projectDir: string): string[] {
  const files: string[] = [];
  for (const problem of problems) {
    const file = /^(.+?):\d+:\d+: /.exec(problem)?.[1];
    if (file) files.push(resolve(file), resolve(projectDir, file));
  }
  return files;
}

/** "14:03:27": when a line was printed. */
function clock(): string {
  return new Date().toTimeString().slice(0, 8);
}

function ms(value: number): string {
  return `${Math.round(value)} ms`;
}
