// Turns esbuild's messages into "file:line:column: message" lines (paths relative
// to the current directory, so that terminals and editors can open them), each
// followed by a code frame: the line, the lines before it, a caret under the column.
import { resolve } from "node:path";
import type { Location, Message } from "esbuild";
import { displayPath } from "./display-path.js";
import { codeFrame } from "./code-frame.js";

export function formatMessage(message: Message, workingDir: string, kind: "error" | "warning"): string {
  const lines = [`${formatLocation(message.location, workingDir)}${kind}: ${message.text}`];
  if (message.location) lines.push(...frameOf(message.location, workingDir));
  for (const note of message.notes) {
    if (!note.text) continue;
    lines.push(`  note: ${formatLocation(note.location, workingDir)}${note.text}`);
    if (note.location) lines.push(...frameOf(note.location, workingDir).map((line) => `  ${line}`));
  }
  return lines.join("\n  ");
}

function formatLocation(location: Message["location"], workingDir: string): string {
  if (!location) return "";
  // esbuild counts columns in UTF-8 bytes; editors count characters.
  return `${displayPath(resolve(workingDir, location.file))}:${location.line}:${characterColumn(location.lineText, location.column) + 1}: `;
}

function frameOf(location: Location, workingDir: string): string[] {
  const column = characterColumn(location.lineText, location.column);
  const length = characterColumn(location.lineText.slice(column), location.length);
  // Only files on disk have lines around the one esbuild quotes (a plugin's virtual module has not).
  const file = location.namespace === "file" || location.namespace === "" ? resolve(workingDir, location.file) : undefined;
  return codeFrame({ file, line: location.line, lineText: location.lineText, column, length });
}

/** The UTF-16 index of a UTF-8 byte offset in `text`. */
function characterColumn(text: string, byteOffset: number): number {
  return Buffer.from(text, "utf8").subarray(0, byteOffset).toString("utf8").length;
}
