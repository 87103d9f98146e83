import { type OutlinePoint, outlineOf } from "./glyph-table";
import { PERSON_SYMBOL } from "./person-symbol";

/** What is drawn, in font units (y up), and how large: the em (or the symbol's unit) per image side. */
export interface Monogram {
  contours: (readonly OutlinePoint[])[];
  emPerImage: number;
}

/**
 * Sizes, as fractions of the image's side. One letter is drawn larger than two so both fill the
 * circle a client crops avatars to alike: a cap height of about 0.40 of the side for one, 0.33 for
 * two. The symbol's 750 units stand about half the side high.
 */
const EM_PER_IMAGE = { oneLetter: 0.56, twoLetters: 0.46, symbol: 0.64 } as const;

/** Right-to-left scripts among those drawn. */
const RIGHT_TO_LEFT = /^[\p{Script=Hebrew}\p{Script=Arabic}]/u;

/**
 * The letters' outlines side by side, each at its advance width, in the order the eye reads them:
 * the Unicode bidirectional algorithm lays out two strong letters right to left when the first is
 * right to left (its paragraph direction), so "דל" (David Levi) puts ד on the right, and so does
 * "דA", while "Aד" keeps A on the left.
 * @see https://www.unicode.org/reports/tr9/#Reordering_Resolved_Levels
 */
function lettersSideBySide(letters: string[]): Monogram {
  const first = letters[0] ?? "";
  const visual = RIGHT_TO_LEFT.test(first) ? [...letters].reverse() : letters;
  const contours: OutlinePoint[][] = [];
  let penX = 0;
  for (const letter of visual) {
    const outline = outlineOf(letter.codePointAt(0) ?? 0);
    if (!outline) return symbolMonogram();
    for (const contour of outline.contours) contours.push(contour.map((p) => ({ ...p, x: p.x + penX })));
    penX += outline.advanceWidth;
  }
  return { contours, emPerImage: letters.length === 1 ? EM_PER_IMAGE.oneLetter : EM_PER_IMAGE.twoLetters };
}

const symbolMonogram = (): Monogram => ({ contours: [...PERSON_SYMBOL], emPerImage: EM_PER_IMAGE.symbol });

/**
 * What to draw for `initials` (as `isDrawableInitials` accepts them: a letter is a code point): its
 * letters when every one has an outline in the glyph table, else the symbol. Only outlines from the
 * table are ever drawn, so a letter the fonts lack can never come out as a font's missing-glyph box.
 */
export function monogramOf(initials: string): Monogram {
  const letters = Array.from(initials);
  if (letters.length === 0 || letters.length > 2) return symbolMonogram();
  return lettersSideBySide(letters);
}
