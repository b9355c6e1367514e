const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Undo Meta's "UTF-8 bytes written as \u00XX" escaping of one string (call after JSON.parse). Text that is
 * already real Unicode, plain ASCII, or genuine Latin-1 (not valid UTF-8 as bytes) is returned unchanged.
 */
export function fixMetaText(s: string): string {
  let sawHigh = false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 0xff) return s;
    if (c >= 0x80) sawHigh = true;
  }
  if (!sawHigh) return s;
  const bytes = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) bytes[i] = s.charCodeAt(i);
  try {
    return strictUtf8.decode(bytes).normalize("NFC");
  } catch {
    return s;
  }
}

/** fixMetaText applied to every string inside a parsed Meta DYI JSON value. */
export function fixMetaJson<T>(value: T): T {
  if (typeof value === "string") return fixMetaText(value) as T;
  if (Array.isArray(value)) return value.map(fixMetaJson) as T;
  if (value && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = fixMetaJson(v);
    return out as T;
  }
  return value;
}
