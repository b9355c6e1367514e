import { useEffect, useState } from "preact/hooks";
import { api, type Vocabulary } from "./api.js";

let cached: Promise<Vocabulary> | null = null;

/** The serving model's hashtags, fetched once per page load (for autocompletion and the hashtag filter). */
export function useVocabulary(): string[] {
  const [hashtags, setHashtags] = useState<string[]>([]);
  useEffect(() => {
    cached ??= api<Vocabulary>("/v1/vocabulary").catch(() => ({ modelVersion: null, hashtags: [] }));
    void cached.then((v) => setHashtags(v.hashtags));
  }, []);
  return hashtags;
}

export function VocabularyList({ id, hashtags }: { id: string; hashtags: string[] }) {
  return (
    <datalist id={id}>
      {hashtags.map((h) => (
        <option key={h} value={h} />
      ))}
    </datalist>
  );
}
