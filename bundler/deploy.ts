// Bundles a project and uploads it as a new version: what `atoll deploy` does,
// reusable by the host's start-up (fixtures) and by tests.
import { attachAssets, uploadAssets } from "./assets.js";
import { bundleProject, type BundleResult } from "./bundle.js";
import { ControlClient, type ControlOptions, type UploadResult } from "./control-client.js";

export interface DeployOptions extends ControlOptions {
  /** A note kept with the version (`atoll deploy -m`). */
  message?: string;
  /** A gradual deploy: the share of clients (1 to 99) the new version serves (`atoll deploy --percent`). */
  percent?: number;
  /** Receives the bundler's warnings, one formatted message each. Default: dropped. */
  log?: (line: string) => void;
}

/** Bundles `<dir>` (its atoll.toml and main) and uploads it. Throws BadConfigError, BuildError or a control API error. */
export async function deployProject(dir: string, options: DeployOptions): Promise<UploadResult> {
  const bundle = await bundleProject(dir);
  for (const warning of bundle.warnings) options.log?.(warning);
  return uploadBundle(bundle, options);
}

/** Uploads an already built bundle under the name in its config, its static assets first. */
export async function uploadBundle(bundle: BundleResult, options: DeployOptions): Promise<UploadResult> {
  const client = new ControlClient(options);
  const ready = await attachAssets(bundle);
  if (ready.assetFiles) await uploadAssets(client, ready.assetFiles);
  return client.uploadScript(ready.config.name, {
    config: ready.config,
    bundle: bundle.code,
    ...(options.message !== undefined ? { message: options.message } : {}),
    ...(options.percent !== undefined ? { percent: options.percent } : {}),
  });
}
