/**
 * Which letter stands for a piece of text: the rules of `initialsOf` that do not depend on what can be
 * drawn. The build step that chooses the glyphs to embed (scripts/initials-glyphs.mjs) runs this same
 * file, so the glyph table holds exactly the letters these rules can give. It imports nothing, so
 * Node can run it as it is.
 */

/**
 * A grapheme that starts with one of these is a letter that can stand for a name. Modifier letters
 * (Lm: the Hawaiian ʻokina, ʰ, the Japanese ー) are skipped like punctuation: "ʻIolani" is an I.
 */
const LETTER = /^[\p{Lu}\p{Ll}\p{Lt}\p{Lo}]/u;

/**
 * Georgian capitals (Mtavruli) are for all-caps headings; a Georgian name starts with its ordinary
 * letter (Mkhedruli), whose title case is itself. Upper-casing would give the heading form.
 * @see https://www.unicode.org/versions/Unicode11.0.0/#Georgian
 */
const MKHEDRULI = /^[\u10D0-\u10FA\u10FD-\u10FF]/u;
const MTAVRULI = /^[\u1C90-\u1CBA\u1CBD-\u1CBF]/u;

// Made on first use, not at module scope: a worker that never draws initials never builds it.
let segmenter: Intl.Segmenter | undefined;

/**
 * The text's user-perceived characters (extended grapheme clusters), as written, one at a time, each
 * found with `containing`: in V8 that is about half the cost of the segments' own iterator.
 */
function* eachGrapheme(text: string): Generator<string> {
  if (text === "") return;
  segmenter ??= new Intl.Segmenter("und", { granularity: "grapheme" });
  const segments = segmenter.segment(text);
  for (let at = 0; at < text.length; ) {
    const segment = segments.containing(at)?.segment ?? text.slice(at);
    yield segment;
    at += segment.length;
  }
}

/** Whether `text` is one grapheme; a single code point always is, and needs no segmenter. */
function isOneGrapheme(text: string): boolean {
  if (Array.from(text).length === 1) return true;
  const graphemes = eachGrapheme(text);
  graphemes.next();
  return graphemes.next().done === true;
}

/** The letter's capital as a name's first letter writes it (Georgian: the ordinary letter). */
function capitalOf(grapheme: string): string {
  if (MKHEDRULI.test(grapheme)) return grapheme;
  if (MTAVRULI.test(grapheme)) return grapheme.toLowerCase();
  return grapheme.toUpperCase().normalize("NFC");
}

/**
 * The one code point that stands for an NFC grapheme, or undefined when it is not a letter.
 *
 * Upper-cased only when the capital is one grapheme too: "ß" upper-cases to "SS", two letters,
 * so it stays "ß". Then the grapheme's first code point: NFC has already composed every mark that
 * has a precomposed letter ("E\u0301" is "É"), and what is left is a mark with none ("Ẹ\u0301",
 * Yoruba), a vowel sign or a conjunct ("कि", "क्ष" in Devanagari), or pointing (Hebrew niqqud, Arabic
 * harakat). Those need a text shaper to place, so the initial is the letter they sit on: "Ẹ", "क".
 */
export function initialOfGrapheme(grapheme: string): string | undefined {
  if (!LETTER.test(grapheme)) return undefined;
  const capital = capitalOf(grapheme);
  const letter = isOneGrapheme(capital) ? capital : grapheme;
  const codePoint = letter.codePointAt(0);
  return codePoint === undefined ? undefined : String.fromCodePoint(codePoint);
}

/** The initial of the first letter in `text` (leading punctuation, digits, emoji skipped), if any. */
export function firstInitialIn(text: string): string | undefined {
  for (const grapheme of eachGrapheme(text.normalize("NFC"))) {
    const initial = initialOfGrapheme(grapheme);
    if (initial !== undefined) return initial;
  }
  return undefined;
}
