// Where service-binding calls (env.AUTH.fetch) reach the front: a Unix socket
// in a directory only this user can enter, and a random token the workers
// get in their settings. Functions cannot reach it: their fetch takes only
// http(s) URLs and connects through the egress policy, which has no socket
// paths; the token keeps other local processes from invoking scripts past
// their routes.
import { mkdtempSync, rmSync } from "node:fs";
import type { Server } from "node:http";
import { randomBytes } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface ServiceSocket {
  path: string;
  token: string;
  /** Starts `server` on the socket. */
  listen(server: Server): Promise<Server>;
  /** Removes the socket's directory (after the server closed). */
  remove(): void;
}

export function createServiceSocket(): ServiceSocket {
  // mkdtemp makes the directory 0700. Socket paths are short (~108 bytes): tmpdir, not the data dir.
  const dir = mkdtempSync(join(tmpdir(), "atoll-services-"));
  const path = join(dir, "services.sock");
  return {
    path,
    token: randomBytes(32).toString("base64url"),
    listen: (server) =>
      new Promise((resolve, reject) => {
        server.once("error", reject);
        server.listen(path, () => resolve(server));
      }),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
