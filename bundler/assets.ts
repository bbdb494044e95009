// The static assets directory of a project (`[assets] directory`): every file
// in it, hashed, becomes the version's manifest (path → SHA-256); the files
// the host does not hold yet are uploaded before the version that names them.
// `.assetsignore` (gitignore-like globs, as wrangler reads it) leaves files out.
import { createHash } from "node:crypto";
import { readdir, readFile, stat } from "node:fs/promises";
import { join, relative, sep } from "node:path";
import picomatch from "picomatch";
import { ASSET_LIMITS } from "../host/config/script-config.js";
import type { BundleResult } from "./bundle.js";
import type { ControlClient } from "./control-client.js";
import { displayPath } from "./display-path.js";
import { BuildError } from "./errors.js";

const IGNORE_FILE = ".assetsignore";

export interface AssetFile {
  /** As the manifest and the URL name it: "/css/site.css". */
  path: string;
  /** Absolute. */
  file: string;
  hash: string;
  size: number;
}

/** Every file of `dir` that `.assetsignore` does not leave out, hashed. Throws BuildError for a missing folder or one over Workers' limits. */
export async function collectAssets(dir: string): Promise<AssetFile[]> {
  const info = await stat(dir).catch(() => null);
  if (!info?.isDirectory()) throw new BuildError([`\`assets.directory\` names ${displayPath(dir)}, which is not a folder: create it, or fix the path (it is relative to the config file)`]);
  const ignored = await ignoreMatcher(dir);
  const files: AssetFile[] = [];
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const file = join(entry.parentPath, entry.name);
    const name = relative(dir, file).split(sep).join("/");
    if (name === IGNORE_FILE || ignored(name)) continue;
    if (files.length >= ASSET_LIMITS.maxFiles) throw new BuildError([`${displayPath(dir)} holds more than ${ASSET_LIMITS.maxFiles} files, the most a version may serve: leave some out with ${IGNORE_FILE}, or serve them from a bucket`]);
    const bytes = await readFile(file);
    if (bytes.byteLength > ASSET_LIMITS.maxFileBytes) {
      throw new BuildError([`${displayPath(file)} is ${bytes.byteLength} bytes, over the limit of ${ASSET_LIMITS.maxFileBytes} (25 MiB) for one static asset: serve it from a bucket, or list it in ${IGNORE_FILE}`]);
    }
    files.push({ path: `/${name}`, file, hash: createHash("sha256").update(bytes).digest("hex"), size: bytes.byteLength });
  }
  return files.sort((a, b) => (a.path < b.path ? -1 : 1));
}

/** `.assetsignore`: one glob a line, `#` comments; a pattern without "/" matches at any depth, as in .gitignore. */
async function ignoreMatcher(dir: string): Promise<(name: string) => boolean> {
  const text = await readFile(join(dir, IGNORE_FILE), "utf8").catch(() => "");
  const globs = text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"))
    .flatMap((line) => {
      const pattern = line.replace(/^\//, "").replace(/\/$/, "/**");
      return line.includes("/") && !line.endsWith("/") ? [pattern] : [pattern, `**/${pattern}`, `${pattern}/**`, `**/${pattern}/**`];
    });
  return globs.length === 0 ? () => false : picomatch(globs, { dot: true });
}

/** Uploads the files the host lacks; resolves with how many were sent and their bytes. */
export async function uploadAssets(client: ControlClient, files: AssetFile[]): Promise<{ sent: number; bytes: number }> {
  const missing = new Set(await client.missingAssets([...new Set(files.map((file) => file.hash))]));
  const pending = [...new Map(files.filter((file) => missing.has(file.hash)).map((file) => [file.hash, file])).values()];
  let bytes = 0;
  let next = 0;
  const send = async () => {
    while (next < pending.length) {
      const file = pending[next++]!;
      const content = await readFile(file.file);
      if (createHash("sha256").update(content).digest("hex") !== file.hash) throw new BuildError([`${displayPath(file.file)} changed while it was deployed: deploy again`]);
      await client.putAsset(file.hash, content);
      bytes += content.byteLength;
    }
  };
  await Promise.all(Array.from({ length: Math.min(4, pending.length) }, send));
  return { sent: pending.length, bytes };
}

/** The manifest a version's config carries. */
export function assetManifest(files: AssetFile[]): Record<string, string> {
  return Object.fromEntries(files.map((file) => [file.path, file.hash]));
}

/** The bundle with its assets directory read: the manifest in its config (`assets.files`) and the files to upload. */
export async function attachAssets(bundle: BundleResult): Promise<BundleResult> {
  const assets = bundle.config.assets;
  if (bundle.assetsDir === undefined || !assets || bundle.assetFiles) return bundle;
  const files = await collectAssets(bundle.assetsDir);
  return { ...bundle, config: { ...bundle.config, assets: { ...assets, files: assetManifest(files) } }, assetFiles: files };
}
