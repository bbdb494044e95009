// Paths as the CLI prints them: relative to the current directory when below
// it (short, and clickable in terminals and editors), absolute otherwise.
import { relative } from "node:path";

export function displayPath(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel === "" ? "." : rel.startsWith("..") ? path : rel;
}
