// Ports for local stacks that no other stack on this machine takes, in this process or another (test files run in
// parallel, a benchmark beside them): a stack started on a port another one holds dies at listen, and picking at
// random in a range left that to chance.
import {
  closeSync,
  linkSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Below Linux's ephemeral ports (32768 on), so no outgoing connection holds one; only listeners chosen here do. */
const PORT_RANGE = { first: 17_000, last: 30_000 }; // last excluded
const DIR = join(tmpdir(), "lxtag-ports");
const held: string[] = [];
let releasing = false;

/** A reservation file left empty this long was never finished: its writer died between creating and writing it. */
const UNFINISHED_MS = 10_000;

/** Whether the process that wrote a reservation is gone (it was killed before it could remove it). */
function stale(file: string): boolean {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
    if (text === "") return Date.now() - statSync(file).mtimeMs > UNFINISHED_MS;
  } catch {
    return false; // removed meanwhile: taken for now
  }
  const pid = Number(text);
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "ESRCH";
  }
}

/**
 * Removes a stale reservation unless another process took it over first. Moved aside under a name of this
 * process's own before it is looked at again: removing it in place could remove the file another process made
 * after taking it over itself.
 */
function takeOver(file: string): void {
  const aside = `${file}.${process.pid}`;
  try {
    renameSync(file, aside);
  } catch {
    return; // gone meanwhile: another process took it over
  }
  // a live holder's file, put back where it was (unless a third process made one meanwhile)
  if (!stale(aside))
    try {
      linkSync(aside, file);
    } catch {}
  rmSync(aside, { force: true });
}

/** Reserves one port by creating its file; a file left by a dead process is taken over. */
function take(port: number): boolean {
  const file = join(DIR, String(port));
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, "wx");
      writeSync(fd, String(process.pid));
      closeSync(fd);
      held.push(file);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST" || !stale(file)) return false;
      takeOver(file);
    }
  }
  return false;
}

/**
 * The first of `count` consecutive ports reserved for this process until it exits (files under the temporary
 * folder, each naming the process that holds it; one whose process died is free again, which is how most are
 * freed: vitest ends its worker processes with a signal, and no exit handler runs then).
 */
export function reservePorts(count: number, { first, last } = PORT_RANGE): number {
  mkdirSync(DIR, { recursive: true });
  if (!releasing) {
    releasing = true;
    process.once("exit", () => {
      for (const file of held) rmSync(file, { force: true });
    });
  }
  const bases = last - count - first + 1;
  const start = Math.floor(Math.random() * bases);
  for (let i = 0; i < bases; i++) {
    const base = first + ((start + i) % bases);
    const taken: number[] = [];
    for (let p = base; p < base + count && take(p); p++) taken.push(p);
    if (taken.length === count) return base;
    for (const p of taken) {
      const file = join(DIR, String(p));
      rmSync(file, { force: true });
      held.splice(held.indexOf(file), 1);
    }
  }
  throw new Error(`no ${count} consecutive ports free from ${first} to ${last - 1} (see ${DIR})`);
}
