import rateLimit from "@fastify/rate-limit";
import type { FastifyInstance, FastifyRequest, onRequestAsyncHookHandler } from "fastify";
import type { Redis } from "ioredis";
import { RateLimitedError } from "../errors.js";

export interface RateLimitOptions {
  /** Where the counters live, so every replica shares them. */
  redis: Redis;
  /** Prefix of the counters' Redis keys (the queue prefix: test apps and deployments sharing a Redis stay apart). */
  prefix: string;
  /** Requests per window for one API key. */
  keyMax: number;
  /** Requests per window for one address without a valid key. */
  anonymousMax: number;
  windowMs: number;
}

/** Counted per key id, or per address for requests without a valid key (`identifyCaller` ran before). */
const bucket = (req: FastifyRequest) => (req.apiKey ? `key:${req.apiKey.id}` : `ip:${req.ip}`);

/**
 * Registers @fastify/rate-limit in `app`'s scope and returns its onRequest hook, to be added after `identifyCaller`
 * and before `requireKey`: a flood of wrong keys is refused with 429 as a flood of good ones is. While Redis is
 * down the limit is not applied (`skipOnError`): reads keep working from Postgres, and uploads answer 503 on their
 * own (they need the queue).
 */
export async function rateLimitHook(
  app: FastifyInstance,
  { redis, prefix, keyMax, anonymousMax, windowMs }: RateLimitOptions,
): Promise<onRequestAsyncHookHandler> {
  await app.register(rateLimit, {
    global: false,
    redis,
    nameSpace: `${prefix}:rate-limit:`,
    skipOnError: true,
    timeWindow: windowMs,
    keyGenerator: bucket,
    max: async (req) => (req.apiKey ? keyMax : anonymousMax),
    errorResponseBuilder: (_req, ctx) =>
      new RateLimitedError(ctx.max, Math.max(1, Math.ceil(ctx.ttl / 1000))),
  });
  return app.rateLimit() as onRequestAsyncHookHandler;
}
