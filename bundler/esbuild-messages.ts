// Turns esbuild's messages into "file:line:column: message" lines (paths relative
// to the current directory, so that terminals and editors can open them).
import { resolve } from "node:path";
import type { Message } from "esbuild";
import { displayPath } from "./display-path.js";

export function formatMessage(message: Message, workingDir: string, kind: "error" | "warning"): string {
  const lines = [`${formatLocation(message.location, workingDir)}${kind}: ${message.text}`];
  if (message.location?.lineText) lines.push(...codeFrame(message.location.line, message.location.column, message.location.lineText));
  for (const note of message.notes) {
    if (note.text) lines.push(`  note: ${formatLocation(note.location, workingDir)}${note.text}`);
  }
  return lines.join("\n  ");
}

function formatLocation(location: Message["location"], workingDir: string): string {
  if (!location) return "";
  return `${displayPath(resolve(workingDir, location.file))}:${location.line}:${location.column + 1}: `;
}

function codeFrame(line: number, column: number, lineText: string): string[] {
  const gutter = String(line);
  return [`  ${gutter} | ${lineText}`, `  ${" ".repeat(gutter.length)} | ${" ".repeat(column)}^`];
}
