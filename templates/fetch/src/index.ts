// Answers every request with a greeting from [vars] in atoll.toml.
// `atoll dev` serves it at http://{{name}}.localhost:8787/ and redeploys on save.
import type { ExportedHandler } from "atoll/sdk";

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    console.log(`${request.method} ${url.pathname}`);
    if (url.pathname === "/health") return new Response("ok\n");
    return Response.json({ message: `${env.GREETING} from {{name}}`, path: url.pathname });
  },
} satisfies ExportedHandler<Env>;
