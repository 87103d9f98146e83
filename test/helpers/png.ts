/**
 * A small PNG decoder for tests: checks the signature and every chunk's CRC, inflates IDAT with the
 * runtime's DecompressionStream, undoes the five row filters, and expands palette, grey or RGB(A)
 * pixels of 8 bits to RGB. Enough to read back what the service draws, not a general decoder
 * (no interlacing, no 16-bit or sub-byte depths).
 */

export interface DecodedPng {
  width: number;
  height: number;
  /** Chunk types in file order. */
  chunks: string[];
  /** Three bytes a pixel, row by row. */
  rgb: Uint8Array;
}

const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

function crc32(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? 0xedb88320 ^ (crc >>> 1) : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

async function inflate(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("deflate"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

const paeth = (a: number, b: number, c: number) => {
  const p = a + b - c;
  const [pa, pb, pc] = [Math.abs(p - a), Math.abs(p - b), Math.abs(p - c)];
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
};

export async function decodePng(png: Uint8Array): Promise<DecodedPng> {
  if (!SIGNATURE.every((byte, i) => png[i] === byte)) throw new Error("not a PNG signature");
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  const chunks: string[] = [];
  const idat: Uint8Array[] = [];
  let header: DataView | undefined;
  let palette: Uint8Array | undefined;
  for (let at = 8; at < png.length; ) {
    const length = view.getUint32(at);
    const type = String.fromCharCode(...png.subarray(at + 4, at + 8));
    const data = png.subarray(at + 8, at + 8 + length);
    if (crc32(png.subarray(at + 4, at + 8 + length)) !== view.getUint32(at + 8 + length)) {
      throw new Error(`bad CRC in ${type}`);
    }
    chunks.push(type);
    if (type === "IHDR") header = new DataView(data.buffer, data.byteOffset, data.byteLength);
    if (type === "PLTE") palette = data;
    if (type === "IDAT") idat.push(data);
    at += 12 + length;
  }
  if (!header) throw new Error("no IHDR");
  const [width, height] = [header.getUint32(0), header.getUint32(4)];
  const [depth, colourType, interlace] = [header.getUint8(8), header.getUint8(9), header.getUint8(12)];
  const channels = { 0: 1, 2: 3, 3: 1, 6: 4 }[colourType];
  if (depth !== 8 || interlace !== 0 || !channels)
    throw new Error(`unsupported: depth ${depth}, type ${colourType}`);

  const raw = await inflate(new Uint8Array(await new Blob(idat).arrayBuffer()));
  const stride = width * channels;
  if (raw.length !== height * (stride + 1))
    throw new Error(`${raw.length} bytes of rows for ${width}x${height}`);
  const samples = new Uint8Array(height * stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    for (let x = 0; x < stride; x++) {
      const value = raw[y * (stride + 1) + 1 + x] ?? 0;
      const left = x >= channels ? (samples[y * stride + x - channels] ?? 0) : 0;
      const up = y > 0 ? (samples[(y - 1) * stride + x] ?? 0) : 0;
      const upLeft = x >= channels && y > 0 ? (samples[(y - 1) * stride + x - channels] ?? 0) : 0;
      const predicted = [0, left, up, (left + up) >>> 1, paeth(left, up, upLeft)][filter ?? -1];
      if (predicted === undefined) throw new Error(`unknown filter ${filter}`);
      samples[y * stride + x] = (value + predicted) & 0xff;
    }
  }

  const rgb = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i++) {
    const sample = (channel: number) => samples[i * channels + channel] ?? 0;
    if (colourType === 3) {
      const entry = sample(0);
      if (!palette || 3 * entry + 3 > palette.length) throw new Error(`index ${entry} outside the palette`);
      rgb.set(palette.subarray(3 * entry, 3 * entry + 3), 3 * i);
    } else if (colourType === 0) {
      rgb.fill(sample(0), 3 * i, 3 * i + 3);
    } else {
      rgb.set([sample(0), sample(1), sample(2)], 3 * i);
    }
  }
  return { width, height, chunks, rgb };
}
