// The keys `atoll dev` understands while it runs: one keystroke at a terminal
// (a key that takes an argument asks for it on a line), or one line per
// command when stdin is a pipe, the key first and its argument after it
// (scripts and tests write "b\n" or "s put:uploads/a.txt\n").
import { createInterface } from "node:readline";

export interface KeyBinding {
  key: string;
  /** What it does, for the help line. */
  description: string;
  /** At a terminal, ask for an argument with this prompt (an empty answer passes undefined). */
  prompt?: string;
  run(argument: string | undefined): void;
}

/** Listens on `input`; returns a function that stops listening. */
export function listenForKeys(input: NodeJS.ReadStream, bindings: KeyBinding[], output: NodeJS.WriteStream = process.stdout): () => void {
  const byKey = new Map(bindings.map((binding) => [binding.key, binding]));
  const find = (key: string) => byKey.get(key === "\u0003" ? "q" : key.toLowerCase());
  input.setEncoding("utf8");
  if (input.isTTY) {
    let asking = false;
    const onData = (chunk: string) => {
      if (asking) return;
      for (const key of chunk) {
        const binding = find(key);
        if (!binding) continue;
        if (binding.prompt === undefined) {
          binding.run(undefined);
          continue;
        }
        // Cooked mode for the answer, so it can be edited; raw again after it.
        asking = true;
        input.setRawMode(false);
        const line = createInterface({ input, output, terminal: true });
        line.question(binding.prompt, (answer) => {
          line.close();
          input.setRawMode(true);
          input.resume();
          asking = false;
          binding.run(answer.trim() === "" ? undefined : answer.trim());
        });
        return;
      }
    };
    input.setRawMode(true);
    input.on("data", onData);
    input.resume();
    return () => {
      input.off("data", onData);
      input.setRawMode(false);
      input.pause();
    };
  }
  let buffered = "";
  const onData = (chunk: string) => {
    buffered += chunk;
    for (let newline = buffered.indexOf("\n"); newline !== -1; newline = buffered.indexOf("\n")) {
      const line = buffered.slice(0, newline).trim();
      buffered = buffered.slice(newline + 1);
      if (line === "") continue;
      const argument = line.slice(1).trim();
      find(line[0]!)?.run(argument === "" ? undefined : argument);
    }
  };
  input.on("data", onData);
  input.resume();
  return () => {
    input.off("data", onData);
    input.pause();
    // An open pipe would keep the process alive after everything else stopped.
    // A file (atoll dev < /dev/null) is read by an fs stream, which has no unref and holds nothing open.
    (input as { unref?: () => void }).unref?.();
  };
}

/** "b rebuild · q quit" */
export function keyHelp(bindings: KeyBinding[]): string {
  return bindings.map((binding) => `${binding.key} ${binding.description}`).join(" · ");
}
