// A line diff of two versions' configs: each config as canonical JSON (keys
// sorted, as deploys compare them), indented one key a line, and the longest
// common subsequence of their lines. Configs are small; past a size where
// the table would be large, every line of one is shown removed and every line
// of the other added.
import { canonicalJson } from "../../config/canonical-json.js";

export interface DiffLine {
  /** "same", "del" (only in the first), "add" (only in the second). */
  op: "same" | "del" | "add";
  text: string;
}

/** A diff with unchanged lines far from any change folded into a count. */
export type FoldedLine = DiffLine | { op: "fold"; count: number };

/** Lines compared at most (product of the two counts) before the diff gives up on matching. */
const MAX_CELLS = 4_000_000;

/** A config's canonical JSON, one key a line: what the dashboard's diffs compare. */
export function configLines(config: unknown): string[] {
  return JSON.stringify(JSON.parse(canonicalJson(config ?? null)), null, 2).split("\n");
}

export function lineDiff(from: readonly string[], to: readonly string[]): DiffLine[] {
  const n = from.length;
  const m = to.length;
  if (n * m > MAX_CELLS) return [...from.map((text) => ({ op: "del" as const, text })), ...to.map((text) => ({ op: "add" as const, text }))];
  // lengths[i][j]: the longest common subsequence of from[i..] and to[j..].
  const lengths = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lengths[i]![j] = from[i] === to[j] ? lengths[i + 1]![j + 1]! + 1 : Math.max(lengths[i + 1]![j]!, lengths[i]![j + 1]!);
    }
  }
  const out: DiffLine[] = [];
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (from[i] === to[j]) (out.push({ op: "same", text: from[i]! }), i++, j++);
    else if (lengths[i + 1]![j]! >= lengths[i]![j + 1]!) out.push({ op: "del", text: from[i++]! });
    else out.push({ op: "add", text: to[j++]! });
  }
  while (i < n) out.push({ op: "del", text: from[i++]! });
  while (j < m) out.push({ op: "add", text: to[j++]! });
  return out;
}

/** How many lines a diff adds and removes. */
export function diffStats(diff: readonly DiffLine[]): { added: number; removed: number } {
  let added = 0;
  let removed = 0;
  for (const line of diff) {
    if (line.op === "add") added++;
    else if (line.op === "del") removed++;
  }
  return { added, removed };
}

/** Keeps `context` unchanged lines around each change and folds the runs between them. */
export function foldUnchanged(diff: readonly DiffLine[], context = 3): FoldedLine[] {
  const near = new Uint8Array(diff.length);
  diff.forEach((line, i) => {
    if (line.op === "same") return;
    for (let j = Math.max(0, i - context); j <= Math.min(diff.length - 1, i + context); j++) near[j] = 1;
  });
  const out: FoldedLine[] = [];
  let folded = 0;
  diff.forEach((line, i) => {
    if (near[i]) {
      if (folded > 0) out.push({ op: "fold", count: folded });
      folded = 0;
      out.push(line);
    } else folded++;
  });
  if (folded > 0) out.push({ op: "fold", count: folded });
  return out;
}
