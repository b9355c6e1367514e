// Port reservations across processes: what keeps two local stacks started at once off each other's ports.
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { reservePorts } from "./ports.js";

const PORTS = fileURLToPath(new URL("../dist/ports.js", import.meta.url));
const file = (port: number) => join(tmpdir(), "lxtag-ports", String(port));

/**
 * A process that reserves `times` spans of `count` ports in `range` and prints them as JSON; then it exits, stays
 * until killed, or exits once a line comes on its stdin (`then`).
 */
function reserver(
  times: number,
  count: number,
  range?: { first: number; last: number },
  then: "exit" | "stay" | "exit-when-told" = "exit",
) {
  const code = `import { reservePorts } from ${JSON.stringify(PORTS)};
    const got = Array.from({ length: ${times} }, () => reservePorts(${count}${range ? `, ${JSON.stringify(range)}` : ""}));
    console.log(JSON.stringify(got));
    ${then === "stay" ? "setInterval(() => {}, 1000);" : then === "exit-when-told" ? 'process.stdin.once("data", () => process.exit(0));' : ""}`;
  const child = spawn(process.execPath, ["--input-type=module", "-e", code], {
    stdio: [then === "exit-when-told" ? "pipe" : "ignore", "pipe", "inherit"],
  });
  // Listened for from the start: a child that prints and exits at once may have exited before a later listener.
  const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
  const printed = new Promise<number[]>((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (d: Buffer) => {
      out += d;
      if (out.includes("\n")) resolve(JSON.parse(out));
    });
    // "close", not "exit": a child's exit may be seen before the last of its output is read
    child.once("close", (code) => reject(new Error(`reserver exited with ${code} before printing`)));
  });
  return { child, printed, exited };
}

describe("reservePorts", () => {
  it("gives processes reserving at once disjoint spans, and frees them when each exits", async () => {
    // both hold theirs until both have printed: one that exited before the other reserved would free its ports
    // for the other, rightly
    const runs = [reserver(40, 3, undefined, "exit-when-told"), reserver(40, 3, undefined, "exit-when-told")];
    const spans = await Promise.all(runs.map((r) => r.printed));
    for (const r of runs) r.child.stdin!.end("exit\n");
    await Promise.all(runs.map((r) => r.exited));
    const ports = spans.flat().flatMap((base) => [base, base + 1, base + 2]);
    expect(ports).toHaveLength(240);
    expect(new Set(ports).size).toBe(240);
    expect(ports.filter((p) => existsSync(file(p)))).toEqual([]);
  });

  it("holds a span while its process lives, and takes over one whose process was killed", async () => {
    const range = { first: 30_010, last: 30_013 }; // room for one span of 3, outside the range stacks use
    const holder = reserver(1, 3, range, "stay");
    expect(await holder.printed).toEqual([30_010]);
    expect(readFileSync(file(30_011), "utf8")).toBe(String(holder.child.pid));
    expect(() => reservePorts(3, range)).toThrow(/no 3 consecutive ports free from 30010 to 30012/);
    holder.child.kill("SIGKILL"); // no exit handler runs: its files stay, naming a dead process
    await holder.exited;
    expect(existsSync(file(30_010))).toBe(true);
    expect(reservePorts(3, range)).toBe(30_010);
    expect(readFileSync(file(30_012), "utf8")).toBe(String(process.pid));
  });

  it("takes over a reservation left empty for a while (its writer died before writing), not a fresh one", async () => {
    const range = { first: 30_020, last: 30_021 };
    mkdirSync(dirname(file(30_020)), { recursive: true });
    writeFileSync(file(30_020), "");
    expect(() => reservePorts(1, range)).toThrow(/no 1 consecutive ports free/);
    const old = new Date(Date.now() - 60_000);
    utimesSync(file(30_020), old, old);
    expect(reservePorts(1, range)).toBe(30_020);
    expect(readFileSync(file(30_020), "utf8")).toBe(String(process.pid));
  });

  it("gives two processes taking over stale reservations at once one holder for each port", async () => {
    const range = { first: 30_100, last: 30_140 };
    const dead = spawn(process.execPath, ["-e", ""]);
    await new Promise((resolve) => dead.once("exit", resolve));
    for (let round = 0; round < 5; round++) {
      mkdirSync(dirname(file(range.first)), { recursive: true });
      for (let p = range.first; p < range.last; p++) writeFileSync(file(p), String(dead.pid));
      const runs = [reserver(20, 1, range, "exit-when-told"), reserver(20, 1, range, "exit-when-told")];
      const ports = (await Promise.all(runs.map((r) => r.printed))).flat();
      for (const r of runs) r.child.stdin!.end("exit\n");
      await Promise.all(runs.map((r) => r.exited));
      expect(new Set(ports).size).toBe(40);
    }
  });
});
