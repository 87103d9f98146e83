/**
 * The outlines of every letter an initials avatar can draw, embedded in the bundle: generated from the
 * fonts by `npm run initials:glyphs` (scripts/lib/initials-glyph-table.mjs describes the format), never
 * fetched. A data module is bytes, not code: it costs the worker's start-up nothing to load, and a
 * glyph is decoded only when drawn.
 */
import tableFile from "./glyph-table.bin";

/** One point of a TrueType contour, in font units, y up; off-curve points are quadratic control points. */
export interface OutlinePoint {
  x: number;
  y: number;
  onCurve: boolean;
}

export interface Outline {
  advanceWidth: number;
  contours: OutlinePoint[][];
}

const HEADER_BYTES = 16;
const table = new DataView(tableFile);
const bytes = new Uint8Array(tableFile);
const glyphCount = table.getUint16(4, true);
const codePointsAt = HEADER_BYTES;
const offsetsAt = codePointsAt + 4 * glyphCount;
const outlinesAt = offsetsAt + 4 * (glyphCount + 1);

/** The font's design grid: outlines are in 1000ths of the em. */
export const UNITS_PER_EM = table.getUint16(6, true);

/** The start of the SHA-256 of the table: changes whenever any outline or letter does. */
export const GLYPH_TABLE_DIGEST = String.fromCharCode(...bytes.subarray(8, HEADER_BYTES));

/** The letter's index in the table (code points ascending), or -1. */
function indexOf(codePoint: number): number {
  let low = 0;
  let high = glyphCount - 1;
  while (low <= high) {
    const middle = (low + high) >>> 1;
    const found = table.getUint32(codePointsAt + 4 * middle, true);
    if (found === codePoint) return middle;
    if (found < codePoint) low = middle + 1;
    else high = middle - 1;
  }
  return -1;
}

/** Whether the table holds an outline for this code point. */
export const hasOutline = (codePoint: number): boolean => indexOf(codePoint) >= 0;

/** The outline of the code point's glyph, or undefined when the table has none. */
export function outlineOf(codePoint: number): Outline | undefined {
  const index = indexOf(codePoint);
  if (index < 0) return undefined;
  let at = outlinesAt + table.getUint32(offsetsAt + 4 * index, true);
  const varint = () => {
    let value = 0;
    for (let shift = 0; ; shift += 7) {
      const byte = bytes[at++] ?? 0;
      value += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80) return value;
    }
  };
  const unzigzag = (n: number) => (n % 2 ? -(n + 1) / 2 : n / 2);
  const advanceWidth = varint();
  const contours: OutlinePoint[][] = Array.from({ length: varint() }, () => []);
  let x = 0;
  let y = 0;
  for (const contour of contours) {
    for (let points = varint(); points > 0; points--) {
      const xAndFlag = varint();
      x += unzigzag(Math.floor(xAndFlag / 2));
      y += unzigzag(varint());
      contour.push({ x, y, onCurve: xAndFlag % 2 === 1 });
    }
  }
  return { advanceWidth, contours };
}
