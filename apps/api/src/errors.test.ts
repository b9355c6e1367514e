import { describe, expect, it } from "vitest";
import { z } from "zod";
import { formatIssues, NotFoundError, UploadTooLargeError, ValidationError } from "./errors.js";

const issuesOf = (schema: z.ZodType, value: unknown) => schema.safeParse(value).error!.issues;

describe("formatIssues", () => {
  it("joins path: message pairs, naming the root for issues about the whole value", () => {
    const schema = z.object({ a: z.object({ b: z.number() }), c: z.string() });
    expect(formatIssues(issuesOf(schema, { a: { b: "x" }, c: 1 }), "body")).toBe(
      "a.b: Invalid input: expected number, received string; c: Invalid input: expected string, received number",
    );
    expect(formatIssues(issuesOf(schema, "x"), "body")).toBe(
      "body: Invalid input: expected object, received string",
    );
  });

  it("explains a failed union by its likeliest branch, or by the union's message on a tie", () => {
    const schema = z.object({
      body: z.union([z.object({ posts: z.array(z.string()) }), z.object({ keys: z.array(z.string()) })], {
        error: "posts or keys",
      }),
    });
    // one branch has fewer issues
    expect(formatIssues(issuesOf(schema, { body: { posts: [1], keys: [2, 3] } }), "root")).toBe(
      "body.posts.0: Invalid input: expected string, received number",
    );
    // equally many, one deeper
    expect(formatIssues(issuesOf(schema, { body: { keys: [3] } }), "root")).toBe(
      "body.keys.0: Invalid input: expected string, received number",
    );
    expect(formatIssues(issuesOf(schema, { body: {} }), "root")).toBe("body: posts or keys");
  });
});

describe("API errors", () => {
  it("carry their status, code and the values that explain them", () => {
    const notFound = new NotFoundError("batch", "b1");
    expect([notFound.statusCode, notFound.code, notFound.message, notFound.name]).toEqual([
      404,
      "not_found",
      "batch b1 not found",
      "NotFoundError",
    ]);
    const tooLarge = new UploadTooLargeError("a.zip", 10);
    expect([tooLarge.statusCode, tooLarge.code, tooLarge.message]).toEqual([
      413,
      "payload_too_large",
      "upload part a.zip exceeds 10 bytes",
    ]);
    const invalid = new ValidationError("options", issuesOf(z.object({ x: z.boolean() }), { x: 1 }));
    expect([invalid.statusCode, invalid.code, invalid.message]).toEqual([
      400,
      "bad_request",
      "x: Invalid input: expected boolean, received number",
    ]);
  });
});
