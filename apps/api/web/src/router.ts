import { useEffect, useState } from "preact/hooks";

/** A screen's address in the hash (`#/batches/<id>?state=done`): the page never reloads, and keys stay out of it. */
export interface Route {
  parts: string[];
  params: URLSearchParams;
}

function current(): Route {
  const [path = "", search = ""] = location.hash.replace(/^#/, "").split("?");
  return { parts: path.split("/").filter(Boolean), params: new URLSearchParams(search) };
}

export function useRoute(): Route {
  const [route, setRoute] = useState(current);
  useEffect(() => {
    const on = () => setRoute(current());
    addEventListener("hashchange", on);
    return () => removeEventListener("hashchange", on);
  }, []);
  return route;
}

export function href(path: string, params: Record<string, string | undefined> = {}): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v) q.set(k, v);
  const s = q.toString();
  return `#${path}${s ? `?${s}` : ""}`;
}

export function navigate(
  path: string,
  params: Record<string, string | undefined> = {},
  replace = false,
): void {
  const target = href(path, params);
  if (replace) history.replaceState(null, "", target);
  else location.hash = target;
  if (replace) dispatchEvent(new HashChangeEvent("hashchange"));
}
