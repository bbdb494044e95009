// Entry point of the `atoll` command (bin/atoll.js imports the built copy).
import { runCli } from "./program.js";

await runCli();
