// The keys `atoll dev` understands while it runs: one keystroke at a terminal,
// or one line per command when stdin is a pipe (scripts and tests write "b\n").

export interface KeyBinding {
  key: string;
  /** What it does, for the help line. */
  description: string;
  run(): void;
}

/** Listens on `input`; returns a function that stops listening. */
export function listenForKeys(input: NodeJS.ReadStream, bindings: KeyBinding[]): () => void {
  const byKey = new Map(bindings.map((binding) => [binding.key, binding]));
  const press = (key: string) => byKey.get(key === "\u0003" ? "q" : key.toLowerCase())?.run();
  if (input.isTTY) {
    input.setRawMode(true);
    input.setEncoding("utf8");
    const onData = (chunk: string) => {
      for (const key of chunk) press(key);
    };
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
      if (line !== "") press(line[0]!);
    }
  };
  input.setEncoding("utf8");
  input.on("data", onData);
  input.resume();
  return () => {
    input.off("data", onData);
    input.pause();
    // An open pipe would keep the process alive after everything else stopped.
    input.unref();
  };
}

/** "b rebuild · q quit" */
export function keyHelp(bindings: KeyBinding[]): string {
  return bindings.map((binding) => `${binding.key} ${binding.description}`).join(" · ");
}
