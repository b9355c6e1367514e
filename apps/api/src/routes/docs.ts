import { z } from "zod";

/**
 * OpenAPI documentation for a route, generated from the same zod schemas the handlers parse with. Fastify does
 * not validate with these (app.ts turns its validator off): zod is the one validator, this is the description.
 */
export function doc(
  tag: string,
  summary: string,
  parts: { body?: z.ZodType; querystring?: z.ZodType; description?: string; consumes?: string[] } = {},
) {
  const json = (s: z.ZodType) =>
    z.toJSONSchema(s, { target: "openapi-3.0", io: "input", unrepresentable: "any" });
  return {
    schema: {
      tags: [tag],
      summary,
      ...(parts.description ? { description: parts.description } : {}),
      ...(parts.consumes ? { consumes: parts.consumes } : {}),
      ...(parts.body ? { body: json(parts.body) } : {}),
      ...(parts.querystring ? { querystring: json(parts.querystring) } : {}),
    },
  };
}
