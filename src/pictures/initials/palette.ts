type Colour = readonly [r: number, g: number, b: number];

/** White: on these darker colours it reads at every size, and at least 4.5:1 against each. */
export const TEXT_COLOUR: Colour = [255, 255, 255];

/**
 * Background colours, twelve hues far enough apart to tell neighbours in a list apart, each dark enough
 * for white text at WCAG's 4.5:1 (contrast against white in the comment; test/initials.test.ts checks
 * it from decoded pixels). Changing this list changes existing users' colours: bump the rendering
 * revision in render-initials.ts.
 */
export const PALETTE: readonly Colour[] = [
  [0xc6, 0x28, 0x28], // red, 5.62
  [0xad, 0x14, 0x57], // pink, 6.97
  [0x7b, 0x1f, 0xa2], // purple, 8.20
  [0x45, 0x27, 0xa0], // deep purple, 10.24
  [0x28, 0x35, 0x93], // indigo, 10.39
  [0x15, 0x65, 0xc0], // blue, 5.75
  [0x02, 0x77, 0xbd], // light blue, 4.80
  [0x00, 0x69, 0x5c], // teal, 6.61
  [0x2e, 0x7d, 0x32], // green, 5.13
  [0x9e, 0x4a, 0x00], // ochre, 6.12
  [0x5d, 0x40, 0x37], // brown, 9.32
  [0x37, 0x47, 0x4f], // blue grey, 9.65
];

/**
 * The user's colour: FNV-1a (32 bits) of the id, lower-cased, modulo the palette's length. Stable
 * across deploys and runtimes (no seed, no platform hash), synchronous, and even enough over UUIDs.
 * @see http://www.isthe.com/chongo/tech/comp/fnv/index.html#FNV-1a
 */
export function paletteIndexOf(userId: string): number {
  let hash = 0x811c9dc5;
  for (const char of userId.toLowerCase()) {
    hash = Math.imul(hash ^ (char.codePointAt(0) ?? 0), 0x01000193);
  }
  return (hash >>> 0) % PALETTE.length;
}
