// A code frame for a build error, as Babel and TypeScript users know it:
//
//     2 |   fetch(request: Request) {
//     3 |     return new Response("never" + request.url;
//   > 4 |   },
//       |   ^
//
// The lines before the error come from the file when it still holds the line
// esbuild quoted; an error at the end of a file (an empty last line) thus
// still shows the code it is about.
import { readFileSync } from "node:fs";

export interface FramePosition {
  /** The source file, to read the lines around the error from; undefined for a virtual module. */
  file: string | undefined;
  /** 1-based. */
  line: number;
  /** The line's text, as the bundler saw it. */
  lineText: string;
  /** 0-based, in characters (UTF-16 code units). */
  column: number;
  /** Characters the problem spans (0: a point). */
  length: number;
}

/** Lines shown before the error's line. */
const LINES_BEFORE = 2;
/** Wider lines (minified code) are cut to a window around the column, characters. */
const MAX_WIDTH = 120;

export function codeFrame(position: FramePosition): string[] {
  const { line, lineText, column, length } = position;
  const before = linesBefore(position);
  const gutterWidth = String(line).length;
  const window = visibleWindow(Math.max(lineText.length, ...before.map((text) => text.length)), column);
  const numbered = (number: number, text: string, marker: string) => `${marker} ${String(number).padStart(gutterWidth)} | ${cut(text, window)}`.trimEnd();
  const frame = before.map((text, index) => numbered(line - before.length + index, text, " "));
  frame.push(numbered(line, lineText, ">"));
  const start = column - window.start + (window.start > 0 ? 1 : 0);
  const underline = "^".repeat(Math.max(1, Math.min(length, MAX_WIDTH - start)));
  // Tabs stay tabs in the padding, so that the caret lands under the column in any terminal.
  const padding = cut(lineText, window).slice(0, start).replace(/[^\t]/g, " ");
  frame.push(`  ${" ".repeat(gutterWidth)} | ${padding}${underline}`);
  return frame;
}

function linesBefore({ file, line, lineText }: FramePosition): string[] {
  if (file === undefined || line <= 1) return [];
  let lines: string[];
  try {
    lines = readFileSync(file, "utf8").split(/\r?\n/);
  } catch {
    return [];
  }
  // The file changed since the build: its lines would not be the ones the error is about.
  if (lines[line - 1] !== lineText) return [];
  return lines.slice(Math.max(0, line - 1 - LINES_BEFORE), line - 1);
}

interface Window {
  start: number;
  end: number;
}

function visibleWindow(width: number, column: number): Window {
  if (width <= MAX_WIDTH) return { start: 0, end: width };
  const start = Math.max(0, Math.min(column - MAX_WIDTH / 2, width - MAX_WIDTH));
  return { start, end: start + MAX_WIDTH };
}

/** `text` within the window, with "…" where it was cut. */
function cut(text: string, { start, end }: Window): string {
  if (start === 0 && text.length <= end) return text;
  return `${start > 0 ? "…" : ""}${text.slice(start, end)}${text.length > end ? "…" : ""}`;
}
