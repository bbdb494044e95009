// How long-running commands (`atoll start`, `atoll dev`) stop: the first
// SIGINT or SIGTERM (or `stop()`, e.g. a `q` typed to `atoll dev`) closes what
// they run and lets them finish; a second signal exits at once.

export interface Stopper {
  /** Resolves once `close` has finished after a signal or `stop()`. */
  stopped: Promise<void>;
  /** Stops as a signal would; `why` is printed ("q"). */
  stop(why: string): void;
}

export function stopOnSignal(close: () => Promise<void>): Stopper {
  let stop: (why: string) => void = () => {};
  const stopped = new Promise<void>((resolveStopped, rejectStopped) => {
    let stopping = false;
    const onSignal = (signal: string) => {
      if (stopping) {
        console.error(`${signal} again: exiting without waiting`);
        process.exit(130);
      }
      stopping = true;
      console.log(`${signal}: stopping…`);
      close().then(() => {
        process.off("SIGINT", onSignal);
        process.off("SIGTERM", onSignal);
        console.log("Stopped.");
        resolveStopped();
      }, rejectStopped);
    };
    stop = onSignal;
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
  });
  return { stopped, stop: (why) => stop(why) };
}
