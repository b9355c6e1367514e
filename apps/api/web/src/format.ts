export const pct = (x: number) => `${Math.round(x * 100)}%`;

export const score = (x: number) => x.toFixed(2);

export function when(iso: string | null | undefined): string {
  return iso ? new Date(iso).toLocaleString() : "—";
}

/** Seconds from one timestamp to another (or to now), as people read them. */
export function duration(from: string | null | undefined, to: string | null | undefined): string {
  if (!from) return "—";
  const ms = (to ? new Date(to).getTime() : Date.now()) - new Date(from).getTime();
  if (ms < 1000) return `${ms} ms`;
  const s = ms / 1000;
  return s < 120 ? `${s.toFixed(1)} s` : `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}
