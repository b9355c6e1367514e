import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import fastifyStatic from "@fastify/static";
import type { FastifyInstance } from "fastify";

/** Where `apps/api/web/build.mjs` writes the bundle: `apps/api/dist/web`, from `src/http` and `dist/http` alike. */
export const DESK_ROOT = fileURLToPath(new URL("../../dist/web/", import.meta.url));
/** The review desk's address; `/` redirects here. */
export const DESK_PREFIX = "/desk/";

/** Hashed bundle files never change under their name; index.html names the current ones, so it is revalidated. */
const IMMUTABLE = "public, max-age=31536000, immutable";
const REVALIDATE = "no-cache";
/** Everything the page loads is its own (no CDN, no inline script); images are thumbnails fetched as blobs. */
const CSP =
  "default-src 'self'; img-src 'self' blob: data:; style-src 'self'; script-src 'self'; connect-src 'self'; " +
  "object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

/**
 * Serves the review desk (a static bundle that calls the REST API with the key the reviewer enters) at /desk/.
 * Outside the /v1 scope: the page holds no data, and every request it makes carries the key like any client's.
 */
export async function registerDesk(app: FastifyInstance, root = DESK_ROOT): Promise<void> {
  app.get("/", { schema: { hide: true } }, (_req, reply) => reply.redirect(DESK_PREFIX));
  if (!existsSync(root)) {
    app.get(`${DESK_PREFIX}*`, { schema: { hide: true } }, (_req, reply) =>
      reply.code(503).type("text/plain").send("the review desk is not built: run `npm run build`"),
    );
    return;
  }
  await app.register(fastifyStatic, {
    root,
    prefix: DESK_PREFIX,
    schemaHide: true,
    cacheControl: false,
    setHeaders: (reply, path) => {
      const hashed = /[/\\]assets[/\\]/.test(path);
      reply.header("cache-control", hashed ? IMMUTABLE : REVALIDATE);
      reply.header("x-content-type-options", "nosniff");
      if (path.endsWith(".html")) reply.header("content-security-policy", CSP);
    },
  });
}
