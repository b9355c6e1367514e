// fastify-type-provider-zod, plus request bodies declared per content type (`body: {content: {<type>: {schema}}}`),
// which Fastify supports and the provider does not yet (turkerdev/fastify-type-provider-zod#132).

import type { Readable } from "node:stream";
import type { SwaggerTransform } from "@fastify/swagger";
import type { FastifySchemaCompiler, FastifyTypeProvider } from "fastify";
import { jsonSchemaTransform, validatorCompiler as zodValidatorCompiler } from "fastify-type-provider-zod";
import type { z } from "zod";

const MULTIPART = "multipart/form-data";

type ContentMap = Record<string, { schema: z.ZodType }>;

const contentOf = (body: unknown): ContentMap | undefined =>
  typeof body === "object" && body !== null && "content" in body ? (body.content as ContentMap) : undefined;

/**
 * Zod validates every request part; bodies declared per content type are the exception: they are streamed, never
 * held whole (multipart through `req.parts()`, any other type as the payload stream itself, which the route's
 * content-type parser hands on unread), so their schemas document them and the code that reads them checks them.
 * A route that declares its body per content type must install that parser in its scope (POST /v1/batches does).
 */
export const validatorCompiler: FastifySchemaCompiler<z.ZodType> = (route) =>
  route.httpPart === "body" && route.contentType !== undefined
    ? (body) => ({ value: body }) // as the parser left it
    : zodValidatorCompiler(route);

/** The provider's OpenAPI transform, applied to each content type of a per-content-type body. */
export const openApiTransform: SwaggerTransform = (input) => {
  const content = contentOf(input.schema?.body);
  if (!content || !input.schema) return jsonSchemaTransform(input);
  const { body: _, ...schema } = input.schema;
  const out = jsonSchemaTransform({ ...input, schema });
  const documented = Object.fromEntries(
    Object.entries(content).map(([type, { schema: s }]) => [
      type,
      { schema: jsonSchemaTransform({ ...input, schema: { body: s } }).schema.body },
    ]),
  );
  return { ...out, schema: { ...out.schema, body: { content: documented } } };
};

type BodyOf<C> = { [K in keyof C]: K extends typeof MULTIPART ? undefined : Readable }[keyof C];

/**
 * The provider's ZodTypeProvider, except that a per-content-type body is streamed (`validatorCompiler`): undefined
 * for multipart (read it with `req.parts()`), the payload stream for any other type.
 */
export interface ApiTypeProvider extends FastifyTypeProvider {
  validator: this["schema"] extends z.ZodType
    ? z.output<this["schema"]>
    : this["schema"] extends { content: infer C }
      ? BodyOf<C>
      : unknown;
  serializer: this["schema"] extends z.ZodType ? z.output<this["schema"]> : unknown;
}
