// A real HTTP origin on a loopback address, for functions to fetch: text,
// an HTML page with links, a 3 MiB streamed body, an echo with a hash of what
// it received, gzip, redirects, Set-Cookie, and a body that never ends.
// Records what it served.
import { createHash } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { gzipSync } from "node:zlib";

/** Size of /big. */
export const BIG_BYTES = 3 * 1024 * 1024;

export interface Origin {
  server: Server;
  /** http://<address>:<port> */
  url: string;
  /** "METHOD /path" of every request served. */
  seen: string[];
}

/** What /page.html serves: a title and three links (two distinct after resolving). */
export const PAGE_HTML = `<!doctype html>
<html><head><title>The Origin Page</title></head>
<body><a href="/text">text</a> <a href="https://example.test/about">about</a> <a href="/text">again</a></body></html>`;

/** A loopback origin with the routes the functions below fetch. */
export async function startOrigin(hostname = "127.0.0.1"): Promise<Origin> {
  const seen: string[] = [];
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const url = new URL(request.url ?? "/", "http://origin");
    seen.push(`${request.method} ${url.pathname}`);
    switch (url.pathname) {
      case "/text":
        response.writeHead(200, { "content-type": "text/plain", "x-origin": "yes" }).end("hello from the origin");
        return;
      case "/page.html":
        response.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end(PAGE_HTML);
        return;
      case "/big": {
        // No Content-Length: the body streams in chunks.
        response.writeHead(200, { "content-type": "application/octet-stream" });
        const chunk = Buffer.alloc(64 * 1024, 7);
        let sent = 0;
        const write = () => {
          while (sent < BIG_BYTES) {
            sent += chunk.length;
            if (!response.write(chunk)) return void response.once("drain", write);
          }
          response.end();
        };
        write();
        return;
      }
      case "/echo": {
        const hash = createHash("sha256");
        let bytes = 0;
        request.on("data", (data: Buffer) => {
          bytes += data.length;
          hash.update(data);
        });
        request.on("end", () => {
          response.writeHead(200, { "content-type": "application/json" });
          response.end(JSON.stringify({ method: request.method, bytes, sha256: hash.digest("hex"), headers: request.headers }));
        });
        return;
      }
      case "/gzip":
        response.writeHead(200, { "content-type": "text/plain", "content-encoding": "gzip" }).end(gzipSync("unzipped by the host"));
        return;
      case "/redirect":
        response.writeHead(302, { location: url.searchParams.get("to") ?? "/text" }).end();
        return;
      case "/cookies":
        response.writeHead(200, [["set-cookie", "a=1"], ["set-cookie", "b=2"]]).end("two cookies");
        return;
      case "/slow":
        // Headers now, then a trickle that never ends: only an abort stops it.
        response.writeHead(200, { "content-type": "text/plain" });
        response.write("first ");
        {
          const timer = setInterval(() => response.write("more "), 100);
          response.on("close", () => clearInterval(timer));
        }
        return;
      default:
        response.writeHead(404).end("no such origin route");
    }
  });
  await new Promise<void>((resolve) => server.listen(0, hostname, resolve));
  const { port } = server.address() as AddressInfo;
  return { server, url: `http://${hostname}:${port}`, seen };
}

