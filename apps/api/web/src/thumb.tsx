import { useEffect, useState } from "preact/hooks";
import { blob } from "./api.js";

// thumbnails come through fetch (the key is a header, never in an <img> URL): a few at a time, as blob URLs
const MAX_IN_FLIGHT = 6;
let inFlight = 0;
const waiting: (() => void)[] = [];

async function limited<T>(work: () => Promise<T>): Promise<T> {
  if (inFlight >= MAX_IN_FLIGHT) await new Promise<void>((r) => waiting.push(r));
  inFlight++;
  try {
    return await work();
  } finally {
    inFlight--;
    waiting.shift()?.();
  }
}

/** A post's thumbnail, or a placeholder saying why there is none (caption-only, video, corrupt). */
export function Thumb({ postId, size, alt }: { postId: string; size: number; alt: string }) {
  const [url, setUrl] = useState<string | null>(null);
  const [missing, setMissing] = useState(false);
  useEffect(() => {
    let cancelled = false;
    let made: string | null = null;
    setUrl(null);
    setMissing(false);
    limited(() => blob(`/v1/posts/${postId}/thumbnail?size=${size}`))
      .then((b) => {
        if (cancelled) return;
        made = URL.createObjectURL(b);
        setUrl(made);
      })
      .catch(() => !cancelled && setMissing(true));
    return () => {
      cancelled = true;
      if (made) URL.revokeObjectURL(made);
    };
  }, [postId, size]);
  if (missing)
    return (
      <div class="thumb thumb-none" role="img" aria-label={`${alt} (no image)`}>
        no image
      </div>
    );
  return url ? (
    <img class="thumb" src={url} alt={alt} />
  ) : (
    <div class="thumb thumb-loading" aria-hidden="true" />
  );
}
