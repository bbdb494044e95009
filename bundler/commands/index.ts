// Every `atoll` command, in the order `atoll --help` lists them. A new command
// is a new file in this folder and one line here.
import type { Command } from "commander";
import { buildCommand } from "./build.js";
import { deleteCommand } from "./delete.js";
import { deployCommand } from "./deploy.js";
import { bucketCommand } from "./bucket.js";
import { devCommand } from "./dev.js";
import { dlqCommand } from "./dlq.js";
import { initCommand } from "./init.js";
import { invokeCommand } from "./invoke.js";
import { kvCommand } from "./kv.js";
import { listCommand } from "./list.js";
import { loginCommand, logoutCommand, whoamiCommand } from "./login.js";
import { promoteCommand } from "./promote.js";
import { rollbackCommand } from "./rollback.js";
import { secretCommand } from "./secret.js";
import { startCommand } from "./start.js";
import { logsCommand, tailCommand } from "./tail.js";
import { usageCommand } from "./usage.js";
import { typesCommand } from "./types.js";
import { versionsCommand } from "./versions.js";

export const commands: ReadonlyArray<() => Command> = [
  initCommand,
  typesCommand,
  devCommand,
  buildCommand,
  loginCommand,
  whoamiCommand,
  logoutCommand,
  deployCommand,
  listCommand,
  deleteCommand,
  versionsCommand,
  rollbackCommand,
  promoteCommand,
  secretCommand,
  invokeCommand,
  tailCommand,
  logsCommand,
  usageCommand,
  dlqCommand,
  kvCommand,
  bucketCommand,
  startCommand,
];
