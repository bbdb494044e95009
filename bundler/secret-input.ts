// Reads a secret's value for `atoll secret put`: from a pipe or file on stdin,
// or typed at a terminal without echo, so that it never lands in the shell's
// history or on the screen.
import { CliError } from "./errors.js";

/**
 * The value on stdin. Piped input is taken whole but for one trailing newline
 * (what `echo` and most editors add); at a terminal, one line typed without echo.
 */
export async function readSecretValue(prompt: string, stdin: NodeJS.ReadStream = process.stdin): Promise<string> {
  const value = stdin.isTTY ? await readHiddenLine(prompt, stdin) : stripOneNewline(await readAll(stdin));
  if (value === "") throw new CliError("ATOLL_EMPTY_SECRET", "the secret's value is empty: pipe it in (`atoll secret put NAME KEY < file`) or type it when asked");
  return value;
}

async function readAll(stdin: NodeJS.ReadStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stdin) chunks.push(typeof chunk === "string" ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(chunks).toString("utf8");
}

function stripOneNewline(text: string): string {
  return text.endsWith("\r\n") ? text.slice(0, -2) : text.endsWith("\n") ? text.slice(0, -1) : text;
}

function readHiddenLine(prompt: string, stdin: NodeJS.ReadStream): Promise<string> {
  process.stderr.write(prompt);
  return new Promise((resolve, reject) => {
    let value = "";
    const finish = (error?: Error) => {
      stdin.off("data", onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write("\n");
      if (error) reject(error);
      else resolve(value);
    };
    const onData = (chunk: Buffer | string) => {
      for (const char of chunk.toString()) {
        if (char === "\r" || char === "\n" || char === "\u0004") return finish();
        if (char === "\u0003") return finish(new CliError("ATOLL_EMPTY_SECRET", "cancelled: no secret was saved"));
        if (char === "\u007f" || char === "\b") value = [...value].slice(0, -1).join("");
        else value += char;
      }
    };
    stdin.setRawMode(true);
    stdin.resume();
    stdin.on("data", onData);
  });
}
