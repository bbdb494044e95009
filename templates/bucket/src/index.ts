// A bucket processor: PUT /incoming/<name> stores a text file; each one that
// lands under incoming/ is processed (here: upper-cased, with its word count)
// into processed/<name>; GET /processed/<name> serves the result.
import type { ExportedHandler } from "atoll/sdk";

export default {
  async storage(event, env) {
    const object = await env.FILES.get(event.key);
    // Deleted again before this ran: nothing to do.
    if (object === null) return;
    const text = await object.text();
    const words = text.split(/\s+/).filter((word) => word !== "").length;
    const name = event.key.slice("incoming/".length);
    await env.FILES.put(`processed/${name}`, text.toUpperCase(), {
      httpMetadata: { contentType: "text/plain; charset=utf-8" },
      customMetadata: { words: String(words), source: event.key },
    });
    console.log(`${event.key}: ${words} words, processed into processed/${name}`);
  },

  async fetch(request, env) {
    const key = decodeURIComponent(new URL(request.url).pathname.slice(1));
    if (request.method === "PUT" && key.startsWith("incoming/") && key.length > "incoming/".length) {
      const stored = await env.FILES.put(key, request.body, { httpMetadata: request.headers });
      return Response.json({ key: stored.key, size: stored.size, etag: stored.etag }, { status: 201 });
    }
    if (request.method !== "GET" || key === "") return new Response("PUT /incoming/<name> a text file, then GET /processed/<name>\n", { status: 400 });
    const object = await env.FILES.get(key);
    if (object === null) return new Response(`no object ${JSON.stringify(key)}\n`, { status: 404 });
    const headers = new Headers({ etag: object.httpEtag });
    object.writeHttpMetadata(headers);
    for (const [name, value] of Object.entries(object.customMetadata)) headers.set(`x-meta-${name}`, value);
    return new Response(object.body, { headers });
  },
} satisfies ExportedHandler<Env>;
