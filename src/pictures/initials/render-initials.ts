import { THUMB_SIZES } from "../../lib/object-keys";
import { coverageOf, flattenContour, type Polygon } from "./coverage";
import { GLYPH_TABLE_DIGEST, UNITS_PER_EM } from "./glyph-table";
import { isDrawableInitials } from "./initials";
import { type Monogram, monogramOf } from "./monogram";
import { PALETTE, TEXT_COLOUR } from "./palette";
import { encodeIndexedPng } from "./png";

export const INITIALS_MEDIA_TYPE = "image/png";

/**
 * Bump whenever a change here or in a file this draws with (sizes, placement, the symbol, the
 * rasteriser, the PNG, the palette) changes any image's pixels: test/initials.test.ts holds a digest
 * of sample images per revision, and fails until the two move together. Font and letter changes bump
 * the glyph table's digest by themselves.
 */
const RENDERING_REVISION = 1;

/** Goes into the image's URL, so a changed drawing gets new URLs rather than stale cached images. */
export const INITIALS_RENDERER_VERSION = `${RENDERING_REVISION}.${GLYPH_TABLE_DIGEST}`;

/**
 * The largest the ink may be, as fractions of the side, so a wide pair ("WM") shrinks to fit: within
 * these, centred, every corner of the ink lies inside the circle clients crop avatars to.
 */
const MAX_INK = { width: 0.66, height: 0.62 };

/**
 * The monogram's polygons in pixels (y down): at its size, shrunk to MAX_INK when larger, with its ink
 * centred. The offset is rounded to whole pixels, so the baseline falls on a pixel edge and what
 * stands on it is sharp.
 */
function placeInImage(monogram: Monogram, size: number): Polygon[] {
  const polygons = monogram.contours.map(flattenContour);
  let [minX, minY, maxX, maxY] = [Infinity, Infinity, -Infinity, -Infinity];
  for (const polygon of polygons) {
    for (let i = 0; i < polygon.length; i += 2) {
      const x = polygon[i] ?? 0;
      const y = polygon[i + 1] ?? 0;
      minX = Math.min(minX, x);
      maxX = Math.max(maxX, x);
      minY = Math.min(minY, y);
      maxY = Math.max(maxY, y);
    }
  }
  if (!(maxX > minX && maxY > minY)) return [];
  const scale = Math.min(
    (monogram.emPerImage * size) / UNITS_PER_EM,
    (MAX_INK.width * size) / (maxX - minX),
    (MAX_INK.height * size) / (maxY - minY),
  );
  const offsetX = Math.round(size / 2 - (scale * (minX + maxX)) / 2);
  const offsetY = Math.round(size / 2 + (scale * (minY + maxY)) / 2);
  return polygons.map((polygon) =>
    polygon.map((v, i) => (i % 2 === 0 ? offsetX + scale * v : offsetY - scale * v)),
  );
}

/**
 * Levels of coverage an edge pixel is drawn with. 64 look as smooth as 256 on an anti-aliased edge,
 * and take a quarter of the palette's bytes: 192 instead of 768, in an image of about 0.5 KB at 64 px
 * and 3 KB at 512 px.
 */
const COVERAGE_LEVELS = 64;

/** Entry n is the background with n/(COVERAGE_LEVELS - 1) of the text colour over it: a pixel's index is its coverage. */
function blendPalette(background: readonly number[]): Uint8Array {
  const palette = new Uint8Array(COVERAGE_LEVELS * 3);
  for (let n = 0; n < COVERAGE_LEVELS; n++) {
    for (let channel = 0; channel < 3; channel++) {
      const from = background[channel] ?? 0;
      const to = TEXT_COLOUR[channel] ?? 0;
      palette[3 * n + channel] = Math.round(from + ((to - from) * n) / (COVERAGE_LEVELS - 1));
    }
  }
  return palette;
}

/**
 * PNG bytes of `initials` (as `initialsOf` gives them) drawn on PALETTE[paletteIndex], `size` px square.
 * Anything `isDrawableInitials` refuses is drawn as the symbol, never as a missing-glyph box; the same
 * arguments give the same bytes. Pure CPU, no I/O but the runtime's deflate: a few ms at 512 px
 * (`npm run bench`), so it belongs where an image is made once and stored, not on a read path.
 */
export async function renderInitials(
  initials: string,
  paletteIndex: number,
  size: number,
): Promise<Uint8Array> {
  if (!THUMB_SIZES.some((allowed) => allowed === size))
    throw new RangeError(`no initials image of ${size} px`);
  const background = PALETTE[paletteIndex];
  if (!Number.isInteger(paletteIndex) || !background)
    throw new RangeError(`no palette entry ${paletteIndex}`);
  const monogram = monogramOf(isDrawableInitials(initials) ? initials : "");
  const coverage = coverageOf(placeInImage(monogram, size), size, size, COVERAGE_LEVELS);
  return encodeIndexedPng(size, size, coverage, blendPalette(background));
}
