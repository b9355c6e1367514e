declare module "heic-decode" {
  interface DecodedImage {
    width: number;
    height: number;
    data: Uint8ClampedArray;
  }
  /** An image of the file, its size read from the container; `decode()` decodes its pixels. */
  interface HeifImage {
    width: number;
    height: number;
    decode(): Promise<DecodedImage>;
  }
  interface Decode {
    /** Decodes the file's first image. */
    (options: { buffer: Uint8Array | ArrayBuffer }): Promise<DecodedImage>;
    /** Every image of the file, undecoded; `dispose()` frees them. */
    all(options: { buffer: Uint8Array | ArrayBuffer }): Promise<HeifImage[] & { dispose(): void }>;
  }
  const decode: Decode;
  export default decode;
}
