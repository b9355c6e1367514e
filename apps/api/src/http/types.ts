import type { FastifyPluginAsync, FastifyPluginOptions, RawServerDefault } from "fastify";
import type { ApiTypeProvider } from "./zod-schemas.js";

/** A plugin whose routes are validated, typed and documented by their zod schemas. */
export type ApiPlugin<Options extends FastifyPluginOptions = Record<never, never>> = FastifyPluginAsync<
  Options,
  RawServerDefault,
  ApiTypeProvider
>;
