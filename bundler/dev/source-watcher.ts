// Watches a build's input files for `atoll dev`: the directories holding them
// (never node_modules, never recursively), reporting the files that changed,
// a few milliseconds after the last event so that one save is one rebuild.
// Editors that save by writing a temporary file and renaming it over the old
// one are seen too: the rename names the file. A folder of static assets is
// watched whole (recursively): any file added, changed or removed in it counts.
import { watch, type FSWatcher } from "node:fs";
import { dirname, join, resolve } from "node:path";

const SETTLE_MS = 20;

export class SourceWatcher {
  private readonly watchers = new Map<string, FSWatcher>();
  private files = new Set<string>();
  /** Folders watched whole: the static assets directory. */
  private readonly folders = new Map<string, FSWatcher>();
  private changed = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly onChange: (files: string[]) => void) {}

  /** Watches exactly these files (absolute paths) and, whole, these folders from now on. */
  watch(files: Iterable<string>, folders: Iterable<string> = []): void {
    if (this.closed) return;
    this.watchFolders(new Set([...folders].map((folder) => resolve(folder))));
    this.files = new Set([...files].map((file) => resolve(file)).filter((file) => !file.includes("/node_modules/")));
    const dirs = new Set([...this.files].map((file) => dirname(file)));
    for (const [dir, watcher] of this.watchers) {
      if (dirs.has(dir)) continue;
      watcher.close();
      this.watchers.delete(dir);
    }
    for (const dir of dirs) {
      if (this.watchers.has(dir)) continue;
      try {
        const watcher = watch(dir, { persistent: true }, (_event, name) => {
          if (name !== null) this.saw(join(dir, name.toString()));
        });
        watcher.on("error", () => {
          watcher.close();
          this.watchers.delete(dir);
        });
        this.watchers.set(dir, watcher);
      } catch {
        // The directory is gone (a moved folder): the next successful build names the new one.
      }
    }
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    for (const watcher of [...this.watchers.values(), ...this.folders.values()]) watcher.close();
    this.watchers.clear();
    this.folders.clear();
  }

  private watchFolders(wanted: Set<string>): void {
    for (const [folder, watcher] of this.folders) {
      if (wanted.has(folder)) continue;
      watcher.close();
      this.folders.delete(folder);
    }
    for (const folder of wanted) {
      if (this.folders.has(folder)) continue;
      try {
        const watcher = watch(folder, { persistent: true, recursive: true }, (_event, name) => this.report(join(folder, name?.toString() ?? "")));
        watcher.on("error", () => {
          watcher.close();
          this.folders.delete(folder);
        });
        this.folders.set(folder, watcher);
      } catch {
        // Not there (yet): the build says so, and the next one watches it.
      }
    }
  }

  private saw(file: string): void {
    if (this.files.has(file)) this.report(file);
  }

  private report(file: string): void {
    this.changed.add(file);
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      const files = [...this.changed].sort();
      this.changed.clear();
      if (!this.closed) this.onChange(files);
    }, SETTLE_MS);
  }
}
