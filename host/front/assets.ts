// Static assets, as Workers' `[assets]` serves them: the files of a folder,
// named in the version's config by a manifest (path → SHA-256) and stored once
// per content in the object store, in a bucket no script can bind or name.
// A matching GET or HEAD is answered here, in the front, without the function
// (and without its CPU); the function can fetch them through its binding.
//
// resolveAsset() is Workers' html_handling and not_found_handling, as a pure
// function; serveAsset() streams the file from the store with backpressure.
import type { IncomingMessage, ServerResponse } from "node:http";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { getMimeType } from "hono/utils/mime";
import { LRUCache } from "lru-cache";
import type { ScriptConfig } from "../config/script-config.js";
import type { ObjectStore } from "../store/objects.js";

/** Where asset bytes live, keyed by their SHA-256: not a bucket name a config or the control API accepts. */
export const ASSETS_BUCKET = "_assets";

export type AssetsConfig = NonNullable<ScriptConfig["assets"]>;

/** What a path resolves to: a file to send (with its status), a redirect to the canonical URL, or nothing. */
export type AssetMatch = { kind: "file"; path: string; hash: string; status: 200 | 404 } | { kind: "redirect"; location: string } | null;

/** The service-binding target of a version's assets binding: not a script name (those have no ':'). */
export function assetsServiceTarget(script: string, version: number): string {
  return `:assets:${script}:${version}`;
}

export function parseAssetsServiceTarget(target: string): { script: string; version: number } | null {
  const match = /^:assets:([a-z0-9-]{1,63}):(\d{1,10})$/.exec(target);
  return match ? { script: match[1]!, version: Number(match[2]) } : null;
}

/**
 * The file (or redirect) for `pathname` (the raw request path, still
 * percent-encoded), following html_handling; null when none matches.
 */
export function resolveAsset(assets: Pick<AssetsConfig, "files" | "html_handling">, pathname: string): AssetMatch {
  const files = assets.files ?? {};
  const path = decodePath(pathname);
  if (path === null) return null;
  const file = (name: string) => (Object.hasOwn(files, name) ? files[name]! : undefined);
  const exact = file(path);
  // A file asked for by its own name (style.css, a file called "index"; anything when html_handling is "none").
  if (assets.html_handling === "none" || (exact !== undefined && !path.endsWith(".html"))) return exact === undefined ? null : { kind: "file", path, hash: exact, status: 200 };
  const page = pageFor(file, path, assets.html_handling);
  if (!page) return exact === undefined ? null : { kind: "file", path, hash: exact, status: 200 };
  if (page.canonical === path) return { kind: "file", path: page.name, hash: page.hash, status: 200 };
  // Redirect only where the canonical URL serves this same page (as Workers' asset server does): another
  // file there (say both /a and /a.html exist) would make this one unreachable, so it is served here.
  const there = file(page.canonical) !== undefined ? null : pageFor(file, page.canonical, assets.html_handling);
  if (there?.name === page.name && there.canonical === page.canonical) return { kind: "redirect", location: encodePath(page.canonical) };
  return { kind: "file", path: page.name, hash: page.hash, status: 200 };
}

/** The HTML page a path spells (/about, /about/, /about.html, /about/index.html, /about/index) and the URL it is served at. */
function pageFor(file: (name: string) => string | undefined, path: string, mode: AssetsConfig["html_handling"]): { name: string; hash: string; canonical: string } | null {
  let stem: string;
  let preferFolder: boolean;
  if (path.endsWith("/index.html")) [stem, preferFolder] = [path.slice(0, -"/index.html".length), true];
  else if (path.endsWith("/index")) [stem, preferFolder] = [path.slice(0, -"/index".length), true];
  else if (path.endsWith(".html")) [stem, preferFolder] = [path.slice(0, -".html".length), false];
  else if (path.endsWith("/")) [stem, preferFolder] = [path.slice(0, -1), true];
  else [stem, preferFolder] = [path, false];
  const candidates = [
    { name: `${stem}.html`, folder: false },
    { name: `${stem}/index.html`, folder: true },
  ].filter((candidate) => !(stem === "" && !candidate.folder));
  if (preferFolder) candidates.reverse();
  for (const candidate of candidates) {
    const hash = file(candidate.name);
    if (hash !== undefined) return { name: candidate.name, hash, canonical: canonicalPath(stem, candidate.folder, mode) };
  }
  return null;
}

/** The URL a page is served at: Workers' trailing-slash rules. */
function canonicalPath(stem: string, folder: boolean, mode: AssetsConfig["html_handling"]): string {
  if (stem === "") return "/";
  if (mode === "force-trailing-slash") return `${stem}/`;
  if (mode === "drop-trailing-slash") return stem;
  return folder ? `${stem}/` : stem;
}

/** What answers a request no file matched, by not_found_handling: the nearest 404.html (404) or /index.html (200). */
export function notFoundAsset(assets: Pick<AssetsConfig, "files" | "not_found_handling">, pathname: string): AssetMatch {
  const files = assets.files ?? {};
  if (assets.not_found_handling === "single-page-application") {
    const hash = Object.hasOwn(files, "/index.html") ? files["/index.html"] : undefined;
    return hash === undefined ? null : { kind: "file", path: "/index.html", hash, status: 200 };
  }
  if (assets.not_found_handling === "404-page") {
    const path = decodePath(pathname) ?? "/";
    let folder = path.slice(0, path.lastIndexOf("/"));
    for (;;) {
      const name = `${folder}/404.html`;
      if (Object.hasOwn(files, name)) return { kind: "file", path: name, hash: files[name]!, status: 404 };
      if (folder === "") return null;
      folder = folder.slice(0, folder.lastIndexOf("/"));
    }
  }
  return null;
}

/** The path as the manifest spells it; null for one that cannot name a file (bad escapes, dot segments, NUL). */
function decodePath(pathname: string): string | null {
  let path: string;
  try {
    path = decodeURIComponent(pathname);
  } catch {
    return null;
  }
  if (!path.startsWith("/") || path.includes("\0") || path.includes("\\")) return null;
  // Node does not normalise the request target: /a/../b is refused rather than resolved.
  if (path.split("/").some((segment) => segment === "." || segment === "..")) return null;
  return path;
}

function encodePath(path: string): string {
  return path.split("/").map(encodeURIComponent).join("/");
}

/**
 * Small assets' bytes, by hash: content-addressed, so never stale. Reading the
 * store for each request (a lookup, a file open, a stream) cost ~240 µs of
 * CPU against ~70 for a whole function call; from memory it is a write.
 */
const CACHED_ASSET_BYTES = 1024 * 1024;
const assetCache = new LRUCache<string, Buffer>({ maxSize: 64 * 1024 * 1024, sizeCalculation: (bytes) => bytes.byteLength + 1 });

/** Headers every asset response carries: Workers' defaults (revalidate each time; the ETag makes that a 304). */
const CACHE_CONTROL = "public, max-age=0, must-revalidate";

/**
 * Answers `incoming` with `match` (a file from `objects`, or a redirect that
 * keeps the query). Resolves once the response is written; rejects when the
 * file's bytes are missing from the store (the caller answers 500) or the
 * store fails before anything was sent.
 */
export async function serveAsset(objects: ObjectStore, match: NonNullable<AssetMatch>, incoming: IncomingMessage, outgoing: ServerResponse, extraHeaders: Record<string, string> = {}): Promise<void> {
  const target = incoming.url ?? "/";
  if (match.kind === "redirect") {
    const query = target.indexOf("?");
    outgoing.writeHead(307, { location: match.location + (query === -1 ? "" : target.slice(query)), "content-length": 0, ...extraHeaders });
    outgoing.end();
    return;
  }
  const etag = `"${match.hash}"`;
  const headers: Record<string, string | number> = {
    "content-type": getMimeType(match.path) ?? "application/octet-stream",
    etag,
    "cache-control": CACHE_CONTROL,
    ...extraHeaders,
  };
  if (match.status === 200 && etagMatches(incoming.headers["if-none-match"], etag)) {
    outgoing.writeHead(304, headers);
    outgoing.end();
    return;
  }
  const cached = assetCache.get(match.hash);
  if (cached) {
    headers["content-length"] = cached.byteLength;
    outgoing.writeHead(match.status, headers);
    outgoing.end(incoming.method === "HEAD" ? undefined : cached);
    return;
  }
  const record = await objects.head(ASSETS_BUCKET, match.hash);
  if (!record) throw new MissingAssetError(match.path, match.hash);
  headers["content-length"] = record.size;
  outgoing.writeHead(match.status, headers);
  if (incoming.method === "HEAD" || record.size === 0) {
    outgoing.end();
    return;
  }
  const bytes = objects.openRead(record, 0, record.size);
  if (record.size <= CACHED_ASSET_BYTES) {
    const chunks: Uint8Array[] = [];
    try {
      for await (const chunk of bytes) chunks.push(chunk);
    } catch (error) {
      bytes.destroy();
      outgoing.destroy();
      throw error;
    }
    const whole = Buffer.concat(chunks);
    if (whole.byteLength === record.size) assetCache.set(match.hash, whole);
    outgoing.end(whole);
    return;
  }
  try {
    await pipeline(Readable.from(bytes, { objectMode: false }), outgoing);
  } catch {
    // The client went away, or the file could not be read mid-way: the response is cut, as a proxy's would be.
    bytes.destroy();
    outgoing.destroy();
  }
}

function etagMatches(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  return header.split(",").some((tag) => {
    const trimmed = tag.trim();
    return trimmed === "*" || trimmed === etag || trimmed === `W/${etag}`;
  });
}

/** A manifest names bytes the store does not hold: the upload check should have made that impossible. */
export class MissingAssetError extends Error {
  constructor(path: string, hash: string) {
    super(`static asset ${path} (${hash.slice(0, 12)}…) is missing from the object store: deploy the script again (atoll deploy uploads what is missing)`);
    this.name = "MissingAssetError";
  }
}
