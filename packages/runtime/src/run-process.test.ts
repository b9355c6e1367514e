import { describe, expect, it } from "vitest";
import { ProcessError, runProcess } from "./index.js";

const node = process.execPath;

describe("runProcess", () => {
  it("resolves with stdout and hands over each non-empty line, the last one without its newline too", async () => {
    const lines: string[] = [];
    const out = await runProcess(
      node,
      [
        "-e",
        "process.stdout.write('one\\n\\ntwo\\n'); setTimeout(() => process.stdout.write('thr'), 20); setTimeout(() => process.stdout.write('ee'), 40)",
      ],
      { onLine: (l) => lines.push(l) },
    );
    expect(out).toBe("one\n\ntwo\nthree");
    expect(lines).toEqual(["one", "two", "three"]);
  });
  it("passes extra environment and the working folder", async () => {
    const out = await runProcess(node, ["-e", "console.log(process.env.LXTAG_PROBE + ' ' + process.cwd())"], {
      env: { LXTAG_PROBE: "hello" },
      cwd: "/",
    });
    expect(out.trim()).toBe("hello /");
  });
  it("rejects a non-zero exit with ProcessError carrying the code, stderr and its tail in the message", async () => {
    const err = await runProcess(
      node,
      ["-e", "for (let i = 1; i <= 5; i++) console.error('line ' + i); process.exit(3)"],
      { label: "probe" },
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProcessError);
    const p = err as ProcessError;
    expect(p.code).toBe(3);
    expect(p.command).toBe("probe");
    expect(p.stderr).toContain("line 1");
    expect(p.message).toBe("probe exited with 3: line 3 | line 4 | line 5");
  });
  it("stops the program when its signal aborts, and rejects with the signal's reason", async () => {
    const controller = new AbortController();
    const started = performance.now();
    const running = runProcess(node, ["-e", "console.log('up'); setTimeout(() => {}, 60_000)"], {
      signal: controller.signal,
      onLine: () => controller.abort(new Error("lost the training-run lock: connection ended")),
    });
    await expect(running).rejects.toThrow("lost the training-run lock: connection ended");
    expect(performance.now() - started).toBeLessThan(10_000);
  });
  it("kills a stopped program that ignores SIGTERM, and answers only once it has exited", async () => {
    const controller = new AbortController();
    let pid = 0;
    const started = performance.now();
    const running = runProcess(
      node,
      ["-e", "process.on('SIGTERM', () => {}); console.log(process.pid); setInterval(() => {}, 1000)"],
      {
        signal: controller.signal,
        onLine: (line) => {
          pid = Number(line);
          controller.abort(new Error("stop"));
        },
      },
    );
    await expect(running).rejects.toThrow("stop");
    expect(performance.now() - started).toBeGreaterThan(4_000); // it had its grace period
    expect(() => process.kill(pid, 0)).toThrow(); // and is gone
    // a signal aborted before the start starts nothing
    await expect(
      runProcess(node, ["-e", ""], { signal: AbortSignal.abort(new Error("early")) }),
    ).rejects.toThrow("early");
  }, 20_000);
  it("rejects when the program cannot be started", async () => {
    await expect(runProcess("/nonexistent/lxtag-program", [])).rejects.toMatchObject({ code: "ENOENT" });
  });
});
