// A Hono app: `export default app` is all Atoll needs. Env (atoll-env.d.ts,
// written by `atoll types` from atoll.toml) types c.env.
import { Hono } from "hono";
import { logger } from "hono/logger";

const app = new Hono<{ Bindings: Env }>();

app.use("*", logger());

app.get("/", (c) => c.json({ message: `${c.env.GREETING} from {{name}}` }));

app.get("/hello/:name", (c) => c.json({ message: `${c.env.GREETING}, ${c.req.param("name")}` }));

app.post("/echo", async (c) => c.json({ received: await c.req.json<unknown>() }));

app.notFound((c) => c.json({ error: "not found", path: c.req.path }, 404));

export default app;
