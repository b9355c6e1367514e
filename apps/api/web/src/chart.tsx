/** Ranking scores by k ("1".."5"), as the engine and the trainer record them. */
export type ScoresByK = Record<string, { precision: number; recall: number; f1: number; accuracy: number }>;

const SERIES = [
  { key: "precision", color: "#1f5fbf", label: "precision" },
  { key: "recall", color: "#b3261e", label: "recall" },
  { key: "f1", color: "#1b7f3b", label: "F1" },
  { key: "accuracy", color: "#7a4fb0", label: "accuracy" },
] as const;

/** The first `{ "1": {precision, recall, f1, accuracy}, ... }` inside a metrics object, wherever it sits. */
export function findScoresByK(metrics: unknown, depth = 0): ScoresByK | null {
  if (!metrics || typeof metrics !== "object" || depth > 4) return null;
  const entries = Object.entries(metrics as Record<string, unknown>);
  const byK = entries.filter(
    ([k, v]) => /^\d+$/.test(k) && v && typeof v === "object" && "f1" in v && "precision" in v,
  );
  if (byK.length) return Object.fromEntries(byK) as ScoresByK;
  for (const [, v] of entries) {
    const found = findScoresByK(v, depth + 1);
    if (found) return found;
  }
  return null;
}

/**
 * Precision, recall, F1 and accuracy at k (the paper's Fig. 3) as inline SVG; `compare` (e.g. the active model)
 * is drawn dashed.
 */
export function ScoresChart({
  scores,
  compare,
  title,
}: {
  scores: ScoresByK;
  compare?: ScoresByK | null;
  title: string;
}) {
  const ks = Object.keys(scores)
    .map(Number)
    .sort((a, b) => a - b);
  const [w, h, left, bottom, top, right] = [420, 240, 40, 30, 12, 110];
  const x = (k: number) => left + ((k - ks[0]!) / Math.max(1, ks.at(-1)! - ks[0]!)) * (w - left - right);
  const y = (v: number) => top + (1 - v) * (h - top - bottom);
  const line = (s: ScoresByK, key: (typeof SERIES)[number]["key"]) =>
    ks
      .filter((k) => s[String(k)])
      .map((k, i) => `${i ? "L" : "M"}${x(k).toFixed(1)},${y(s[String(k)]![key]).toFixed(1)}`)
      .join(" ");
  return (
    <figure class="chart">
      <svg viewBox={`0 0 ${w} ${h}`} width={w} height={h} role="img" aria-label={title}>
        <title>{title}</title>
        {[0, 0.25, 0.5, 0.75, 1].map((v) => (
          <g key={v}>
            <line x1={left} x2={w - right} y1={y(v)} y2={y(v)} stroke="#ccc" />
            <text x={left - 6} y={y(v) + 4} text-anchor="end" font-size="11" fill="#333">
              {v}
            </text>
          </g>
        ))}
        {ks.map((k) => (
          <text key={k} x={x(k)} y={h - 10} text-anchor="middle" font-size="11" fill="#333">
            k={k}
          </text>
        ))}
        {SERIES.map((s) => (
          <g key={s.key}>
            <path d={line(scores, s.key)} fill="none" stroke={s.color} stroke-width="2" />
            {compare && (
              <path
                d={line(compare, s.key)}
                fill="none"
                stroke={s.color}
                stroke-width="1.5"
                stroke-dasharray="5 4"
              />
            )}
          </g>
        ))}
        {SERIES.map((s, i) => (
          <g key={s.key} transform={`translate(${w - right + 12}, ${top + 14 + i * 18})`}>
            <line x1={0} x2={18} y1={-4} y2={-4} stroke={s.color} stroke-width="2" />
            <text x={24} y={0} font-size="12" fill="#222">
              {s.label}
            </text>
          </g>
        ))}
        {compare && (
          <text x={w - right + 12} y={top + 14 + 4 * 18 + 6} font-size="11" fill="#333">
            dashed: active
          </text>
        )}
      </svg>
      <figcaption>{title}</figcaption>
    </figure>
  );
}
