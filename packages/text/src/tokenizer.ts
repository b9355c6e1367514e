import tokenizers from "tokenizers";

const { Tokenizer, WordPiece, bertNormalizer, bertPreTokenizer, bertProcessing, wordPieceDecoder } =
  tokenizers;

export const SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] as const;

/** Token ids for a batch, padded to the longest sequence: the model's first three inputs (CONTRACTS.md 4). */
export interface EncodedBatch {
  batchSize: number;
  length: number;
  inputIds: BigInt64Array;
  attentionMask: BigInt64Array;
  tokenTypeIds: BigInt64Array;
}

/** WordPiece tokenizer over a HuggingFace `tokenizer.json`: the one tokenizer for serving and training. */
export class CaptionTokenizer {
  private constructor(
    private readonly tokenizer: InstanceType<typeof Tokenizer>,
    readonly maxLength: number,
  ) {}

  static fromFile(path: string, maxLength = 128): CaptionTokenizer {
    const tokenizer = Tokenizer.fromFile(path);
    tokenizer.setTruncation(maxLength);
    return new CaptionTokenizer(tokenizer, maxLength);
  }

  get vocabSize(): number {
    return this.tokenizer.getVocabSize(true);
  }

  async encodeBatch(texts: string[]): Promise<EncodedBatch> {
    const encodings = texts.length ? await this.tokenizer.encodeBatch(texts) : [];
    const length = Math.max(2, ...encodings.map((e) => e.getLength()));
    const n = texts.length;
    const inputIds = new BigInt64Array(n * length);
    const attentionMask = new BigInt64Array(n * length);
    const tokenTypeIds = new BigInt64Array(n * length);
    encodings.forEach((e, row) => {
      const ids = e.getIds();
      const types = e.getTypeIds();
      for (let i = 0; i < ids.length; i++) {
        inputIds[row * length + i] = BigInt(ids[i]!);
        attentionMask[row * length + i] = 1n;
        tokenTypeIds[row * length + i] = BigInt(types[i]!);
      }
    });
    return { batchSize: n, length, inputIds, attentionMask, tokenTypeIds };
  }
}

/** BERT-style word split, close to the tokenizer's own normalizer and pre-tokenizer (lower-case, no accents). */
function words(text: string): string[] {
  const folded = text.normalize("NFD").replace(/\p{M}/gu, "").toLowerCase();
  return folded.match(/[\p{L}\p{N}]+|[^\s\p{L}\p{N}]/gu) ?? [];
}

/**
 * Builds a WordPiece tokenizer from a corpus: the special tokens, every character seen (alone and as a `##`
 * continuation) so nothing becomes [UNK], then the most frequent words up to `vocabSize`; saves `tokenizer.json`.
 */
export function writeWordPieceTokenizer(corpus: Iterable<string>, path: string, vocabSize = 8000): void {
  const counts = new Map<string, number>();
  const chars = new Set<string>();
  for (const text of corpus) {
    for (const w of words(text)) {
      counts.set(w, (counts.get(w) ?? 0) + 1);
      for (const ch of w) chars.add(ch);
    }
  }
  const vocab: Record<string, number> = {};
  const add = (t: string) => {
    if (!(t in vocab)) vocab[t] = Object.keys(vocab).length;
  };
  for (const t of SPECIAL_TOKENS) add(t);
  for (const ch of [...chars].sort()) add(ch);
  for (const ch of [...chars].sort()) add(`##${ch}`);
  const frequent = [...counts.entries()]
    .filter(([w]) => [...w].length > 1)
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  for (const [w] of frequent) {
    if (Object.keys(vocab).length >= vocabSize) break;
    add(w);
  }
  const tokenizer = new Tokenizer(WordPiece.init(vocab, { unkToken: "[UNK]" }));
  tokenizer.setNormalizer(
    bertNormalizer({ lowercase: true, stripAccents: true, cleanText: true, handleChineseChars: true }),
  );
  tokenizer.setPreTokenizer(bertPreTokenizer());
  tokenizer.setPostProcessor(bertProcessing(["[SEP]", vocab["[SEP]"]!], ["[CLS]", vocab["[CLS]"]!]));
  tokenizer.setDecoder(wordPieceDecoder("##", true));
  tokenizer.addSpecialTokens([...SPECIAL_TOKENS]);
  tokenizer.save(path, false);
}
