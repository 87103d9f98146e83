// The photos the benchmark sends through the upload paths: the demo photo (640x480, small) and a large
// one, a 4000x3000 JPEG made here at bench time with sharp and never committed. `complete`'s thumbnails
// (thumbnails.mjs) and the one-call PUT against the four calls (one-call.mjs) use the same two.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { ROOT } from "./options.mjs";

const sharp = createRequire(import.meta.url)("sharp");

/** A photo-like 4000x3000 JPEG (gradients and grain, about 3 MB at quality 85): what a phone takes. */
async function largeJpeg() {
  const [width, height] = [4000, 3000];
  const pixels = new Uint8ClampedArray(width * height * 3);
  let seed = 1;
  // A fixed pseudo-random grain, so every run compresses the same picture to the same bytes.
  const grain = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return (seed % 48) - 24;
  };
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      pixels[i] = (x * 255) / width + grain();
      pixels[i + 1] = (y * 255) / height + grain();
      pixels[i + 2] = 128 + 100 * Math.sin((x + y) / 80) + grain();
    }
  }
  return sharp(pixels, { raw: { width, height, channels: 3 } })
    .jpeg({ quality: 85 })
    .toBuffer();
}

/** The photos, each with its key (`small`, `large`), its bytes and what it is, in words. */
export async function photos() {
  const small = readFileSync(path.join(ROOT, "scripts/assets/demo-photo.jpg"));
  const large = await largeJpeg();
  const describe = async (bytes) => {
    const { width, height } = await sharp(bytes).metadata();
    return `${width}x${height} JPEG, ${(bytes.length / 1024).toFixed(0)} KiB`;
  };
  return [
    { key: "small", bytes: small, what: await describe(small) },
    { key: "large", bytes: large, what: await describe(large) },
  ];
}
