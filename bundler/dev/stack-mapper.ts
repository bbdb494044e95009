// Maps the stack frames in host log lines back to the user's sources: the
// isolate names a script's bundle `file:///<script>.js`, and each deployed
// version has its own source map (kept from its build). Node parses the maps
// (node:module's SourceMap), so no source-map package is needed.
import { SourceMap } from "node:module";
import { dirname, join, resolve } from "node:path";
import { displayPath } from "../display-path.js";

/** How many versions' maps are kept per script: late log lines of old versions still map. */
const KEPT_VERSIONS = 16;

interface VersionMap {
  map: SourceMap;
  /** The directory the map's `sources` are relative to. */
  base: string;
}

export class StackMapper {
  private readonly versions = new Map<string, Map<number, VersionMap>>();

  /**
   * Remembers the source map of `script` version `version`, built for an
   * output file in `outdir` (esbuild writes `sources` relative to it).
   */
  add(script: string, version: number, sourceMapJson: string, outdir: string): void {
    let maps = this.versions.get(script);
    if (!maps) this.versions.set(script, (maps = new Map()));
    maps.set(version, { map: new SourceMap(JSON.parse(sourceMapJson) as ConstructorParameters<typeof SourceMap>[0]), base: outdir });
    for (const old of [...maps.keys()].sort((a, b) => a - b).slice(0, -KEPT_VERSIONS)) maps.delete(old);
  }

  /**
   * Rewrites `file:///<script>.js:LINE:COLUMN` in a log line (every line of a
   * stack trace in it) to `src/file.ts:LINE:COLUMN`, for the version the line
   * names (`hello@v3`), else the script's latest, and drops the frames of
   * the runtime's own code.
   */
  mapLine(text: string): string {
    if (!text.includes("file:///")) return text;
    const named = /(?:^|\[)([a-z0-9-]+)@v(\d+)\b/.exec(text);
    return named ? this.mapStack(named[1]!, Number(named[2]), text) : this.mapStack(null, null, text);
  }

  /** Maps the frames of `text` as thrown by `script` version `version` (or, for other scripts or versions, their latest). */
  mapStack(script: string | null, version: number | null, text: string): string {
    return mapFrames(withoutRuntimeFrames(text), (name) => {
      const maps = this.versions.get(name);
      if (!maps || maps.size === 0) return undefined;
      return maps.get(name === script && version !== null && maps.has(version) ? version : Math.max(...maps.keys()));
    });
  }
}

/**
 * Maps the frames of a bundle the host validated (`file:///<script>.js`, in an
 * upload's error message) with that bundle's source map.
 */
export function mapUploadError(text: string, script: string, sourceMapJson: string, outdir: string): string {
  const parsed: VersionMap = { map: new SourceMap(JSON.parse(sourceMapJson) as ConstructorParameters<typeof SourceMap>[0]), base: outdir };
  return mapFrames(withoutRuntimeFrames(text), (file) => (file === script ? parsed : undefined));
}

/** Replaces `file:///<name>.js:LINE:COLUMN` with the source position `mapOf(name)` gives, where it gives one. */
function mapFrames(text: string, mapOf: (name: string) => VersionMap | undefined): string {
  return text.replace(/file:\/\/\/([a-z0-9-]+)\.js:(\d+):(\d+)/g, (frame, name: string, line: string, column: string) => {
    const found = mapOf(name);
    if (!found) return frame;
    const entry = found.map.findEntry(Number(line) - 1, Number(column) - 1) as Partial<{ originalSource: string; originalLine: number; originalColumn: number }>;
    if (entry.originalSource === undefined || entry.originalLine === undefined || entry.originalColumn === undefined) return frame;
    return `${displayPath(resolve(found.base, entry.originalSource))}:${entry.originalLine + 1}:${entry.originalColumn + 1}`;
  });
}

/** Frames inside the runtime (the Request, streams … implementations) say nothing about the user's code. */
function withoutRuntimeFrames(text: string): string {
  return text.replace(/\n\s+at [^\n]*\(?atoll:runtime\.js:\d+:\d+\)?(?=\n|$)/g, "");
}

/** Where esbuild's output for a project would be: the directory its map's sources are relative to. */
export function bundleOutdir(projectDir: string): string {
  return dirname(join(projectDir, "dist", "index.js"));
}
