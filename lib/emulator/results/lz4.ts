type Compress = (data: Buffer) => Buffer;

let loaded: Promise<Compress | undefined> | undefined;

/**
 * LZ4 frame compression through `lz4-napi`, the codec the driver decodes with. Resolves to
 * undefined when the native module cannot load; results are then served uncompressed.
 */
export function loadLz4(): Promise<Compress | undefined> {
  loaded ??= import('lz4-napi').then(
    (lz4) => (data: Buffer) => lz4.compressFrameSync(data),
    () => undefined,
  );
  return loaded;
}
