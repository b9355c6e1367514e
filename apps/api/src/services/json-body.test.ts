// receiveJsonBody against request streams that end badly at the awkward moments: before the spool has made its
// folder and started reading, or when the spool cannot write at all.
import { randomUUID } from "node:crypto";
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { LINGER_MS, receiveJsonBody } from "./json-body.js";
import { UploadSpool } from "./upload-spool.js";

describe("receiveJsonBody", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "lxtag-json-body-"));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));
  const limits = { maxBytes: 1 << 20, declaredBytes: 0, response: new PassThrough() };

  it("reads a body whole and says what it holds", async () => {
    const text = '{"options": {"includeReels": false}, "posts": [{"caption": "a"}, {"caption": "b"}]}';
    const payload = new PassThrough();
    payload.end(text);
    const got = await receiveJsonBody(new UploadSpool(dir), randomUUID(), payload, limits);
    expect(got).toMatchObject({ options: { includeReels: false }, file: { bytes: text.length } });
  });

  it("fails as cut short a body whose client went away before it was read, or while the spool made its folder", async () => {
    const gone = new PassThrough();
    gone.destroy();
    await expect(receiveJsonBody(new UploadSpool(dir), randomUUID(), gone, limits)).rejects.toThrow(
      "body is not valid JSON: it was cut short (the client went away)",
    );
    const breaking = new PassThrough();
    breaking.write('{"posts": [');
    const received = receiveJsonBody(new UploadSpool(dir), randomUUID(), breaking, limits);
    breaking.destroy(new Error("aborted")); // before the spool's pipeline reads it
    await expect(received).rejects.toThrow("body is not valid JSON: it was cut short (aborted)");
  });

  it("gives the spool's own error when it cannot write, and drains the rest of the request", async () => {
    const notADir = join(dir, "file");
    await writeFile(notADir, "");
    const payload = new PassThrough();
    // more than the body's buffer holds: a body nobody reads any more pauses the request
    for (let i = 0; i < 4; i++) payload.write(`{"caption": "${"x".repeat(32 * 1024)}"},`);
    await expect(receiveJsonBody(new UploadSpool(notADir), randomUUID(), payload, limits)).rejects.toThrow(
      /ENOTDIR/,
    );
    await expect.poll(() => payload.readableFlowing).toBe(true); // read and dropped, not left paused
    expect(await readdir(dir)).toEqual(["file"]);
  });

  it("drops the rest of a refused body as it comes, until LINGER_MS after the answer was sent", async () => {
    // only the timers: the streams' own ticks run as they do (expect.poll would move the faked clock)
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    const settled = () => new Promise((resolve) => setImmediate(resolve));
    const answer = () => {
      const response = new PassThrough();
      const finished = new Promise((resolve) => response.once("finish", resolve));
      const sent = () => {
        response.end("413");
        response.resume();
        return finished;
      };
      return { response, sent };
    };
    try {
      const maxBytes = 4096;
      const piece = `{"caption": "${"x".repeat(1000)}"},`;
      const payload = new PassThrough();
      const { response, sent } = answer();
      const refused = receiveJsonBody(new UploadSpool(dir), randomUUID(), payload, {
        maxBytes,
        declaredBytes: 0,
        response,
      });
      for (let i = 0; i < 5; i++) payload.write(piece); // past maxBytes: refused
      await expect(refused).rejects.toThrow(`the JSON body exceeds ${maxBytes} bytes`);
      // not answered yet: read however long it takes, so that the client can read the answer
      vi.advanceTimersByTime(10 * LINGER_MS);
      for (let i = 0; i < 20; i++) payload.write(piece);
      await settled();
      expect(payload.readableLength).toBe(0);
      expect(payload.destroyed).toBe(false);
      await sent();
      vi.advanceTimersByTime(LINGER_MS - 1);
      expect(payload.destroyed).toBe(false);
      vi.advanceTimersByTime(1);
      expect(payload.destroyed).toBe(true);
      // refused by its declared length, answered at once: the same
      const declared = new PassThrough();
      const early = answer();
      await early.sent();
      await expect(
        receiveJsonBody(new UploadSpool(dir), randomUUID(), declared, {
          maxBytes,
          declaredBytes: maxBytes + 1,
          response: early.response,
        }),
      ).rejects.toThrow("exceeds");
      vi.advanceTimersByTime(LINGER_MS - 1);
      expect(declared.destroyed).toBe(false);
      vi.advanceTimersByTime(1);
      expect(declared.destroyed).toBe(true);
    } finally {
      vi.useRealTimers();
    }
  });
});
