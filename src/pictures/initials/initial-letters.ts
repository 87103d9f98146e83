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
const graphemeSegmenter = () => {
  segmenter ??= new Intl.Segmenter("und", { granularity: "grapheme" });
  return segmenter;
};

/** Whether `text` is one grapheme (extended grapheme cluster); a single code point always is. */
function isOneGrapheme(text: string): boolean {
  if (Array.from(text).length === 1) return true;
  return graphemeSegmenter().segment(text).containing(0)?.segment.length === text.length;
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

/**
 * The initial of the first letter in each text (leading punctuation, digits, emoji skipped), or
 * undefined for a text with none. One segmentation serves them all, since each costs about 5 µs in
 * workerd: the texts are joined by line feeds, and a grapheme always ends before and after one
 * (UAX #29, GB4 and GB5; a "\r" before it may join it, but is no letter).
 * @see https://www.unicode.org/reports/tr29/#GB4
 */
export function firstInitialsIn(texts: readonly string[]): (string | undefined)[] {
  const parts = texts.map((text) => text.normalize("NFC"));
  const segments = graphemeSegmenter().segment(parts.join("\n"));
  let start = 0;
  return parts.map((part) => {
    const end = start + part.length;
    let initial: string | undefined;
    for (let at = start; at < end && initial === undefined; ) {
      const grapheme = segments.containing(at)?.segment ?? part.slice(at - start);
      initial = initialOfGrapheme(grapheme);
      at += grapheme.length;
    }
    start = end + 1;
    return initial;
  });
}
