// The glyph table initials avatars are drawn from (src/pictures/initials/glyph-table.bin): the outline
// of every letter `initialOfGrapheme` can give in the scripts below, from Noto Sans SemiBold (SIL Open
// Font License 1.1) as the @fontsource packages ship it. `npm run initials:glyphs` writes it; the test
// test/node/initials-glyph-table.test.ts fails when the committed file is not what this makes from the
// installed fonts, so the table cannot drift from its fonts, its rules or this code.
//
// The file (little-endian), read by src/pictures/initials/glyph-table.ts:
//   "IGT1", u16 glyph count N, u16 units per em, 8 ASCII hex digits (the start of the SHA-256 of the rest),
//   u32 code points[N] ascending, u32 offsets[N + 1] into the outlines, then the outlines. An outline is
//   unsigned LEB128 varints: the advance width, the contour count, and per contour its point count and
//   per point ((zigzag dx) << 1 | on-curve) and (zigzag dy), each relative to the point before (the
//   first to 0,0). Points are TrueType's, in font units, y up: an off-curve point is a quadratic
//   control point, and between two of them lies an implied on-curve point halfway.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { gzipSync } from "node:zlib";
import * as fontkit from "fontkit";
import { initialOfGrapheme } from "../../src/pictures/initials/initial-letters.ts";

export const GLYPH_TABLE_FILE = path.resolve(
  import.meta.dirname,
  "../../src/pictures/initials/glyph-table.bin",
);
/** The fonts' copyright notices and licence, which the OFL asks to travel with any copy of their outlines. */
export const GLYPH_TABLE_LICENSE_FILE = GLYPH_TABLE_FILE.replace(/\.bin$/, ".LICENSE.txt");

/** The weight drawn: SemiBold stays legible at 64 px in white on a colour, where Regular thins out. */
const WEIGHT = 600;

/**
 * The scripts drawn: the Unicode blocks whose letters can start a name, and the @fontsource package
 * and subsets that hold them. Presentation forms (Arabic, Hebrew and Armenian ligatures) and phonetic
 * extensions are left out: a name is written with the ordinary letters.
 */
const SCRIPTS = [
  {
    script: "Latin",
    blocks: [
      [0x0041, 0x024f],
      [0x0250, 0x02af],
      [0x1e00, 0x1eff],
      [0x2c60, 0x2c7f],
      [0xa720, 0xa7ff],
    ],
    font: ["noto-sans", ["latin", "latin-ext", "vietnamese"]],
  },
  {
    script: "Greek",
    blocks: [
      [0x0370, 0x03ff],
      [0x1f00, 0x1fff],
    ],
    font: ["noto-sans", ["greek", "greek-ext"]],
  },
  {
    script: "Cyrillic",
    blocks: [
      [0x0400, 0x052f],
      [0x1c80, 0x1c8f],
      [0xa640, 0xa69f],
    ],
    font: ["noto-sans", ["cyrillic", "cyrillic-ext"]],
  },
  { script: "Armenian", blocks: [[0x0531, 0x058f]], font: ["noto-sans-armenian", ["armenian"]] },
  { script: "Hebrew", blocks: [[0x05d0, 0x05ff]], font: ["noto-sans-hebrew", ["hebrew"]] },
  {
    script: "Arabic",
    blocks: [
      [0x0620, 0x06ff],
      [0x0750, 0x077f],
      [0x08a0, 0x08ff],
    ],
    font: ["noto-sans-arabic", ["arabic"]],
  },
  {
    script: "Devanagari",
    blocks: [
      [0x0900, 0x097f],
      [0xa8e0, 0xa8ff],
    ],
    font: ["noto-sans", ["devanagari"]],
  },
  { script: "Thai", blocks: [[0x0e00, 0x0e7f]], font: ["noto-sans-thai", ["thai"]] },
  {
    script: "Georgian",
    blocks: [
      [0x10a0, 0x10ff],
      [0x1c90, 0x1cbf],
      [0x2d00, 0x2d2f],
    ],
    font: ["noto-sans-georgian", ["georgian"]],
  },
];

const require = createRequire(import.meta.url);

const packageDir = (pkg) => path.dirname(require.resolve(`@fontsource/${pkg}/package.json`));

/** The SemiBold WOFF of one @fontsource subset, parsed. */
function loadFont(pkg, subset) {
  return fontkit.create(
    readFileSync(path.join(packageDir(pkg), "files", `${pkg}-${subset}-${WEIGHT}-normal.woff`)),
  );
}

/**
 * Each font's copyright line, then the SIL Open Font License 1.1 they share: the OFL lets a Modified
 * Version (these outlines) be bundled with software as long as every copy carries both.
 */
function licenseText() {
  const licenses = [...new Set(SCRIPTS.map(({ font: [pkg] }) => pkg))].map((pkg) =>
    readFileSync(path.join(packageDir(pkg), "LICENSE"), "utf8"),
  );
  const [copyrights, terms] = [new Set(), new Set()];
  for (const license of licenses) {
    copyrights.add(license.slice(0, license.indexOf("\n")));
    terms.add(license.slice(license.indexOf("\n")));
  }
  if (terms.size !== 1) throw new Error("the fonts' licences differ: keep each one whole");
  return `glyph-table.bin holds glyph outlines taken from these fonts:\n\n${[...copyrights].join("\n")}\n${[...terms][0]}`;
}

/** Every font, in SCRIPTS' order: a letter's outline comes from the first that has it. */
function loadFonts() {
  const fonts = SCRIPTS.flatMap(({ font: [pkg, subsets] }) => subsets.map((subset) => loadFont(pkg, subset)));
  for (const font of fonts) {
    if (font.unitsPerEm !== 1000) throw new Error(`${font.postscriptName}: ${font.unitsPerEm} units per em`);
  }
  return fonts;
}

const glyphIn = (fonts, codePoint) =>
  fonts.map((font) => font.glyphForCodePoint(codePoint)).find((glyph) => glyph.id !== 0);

/** The letters the table must draw: each covered letter's initial, when a font has its glyph. */
function lettersToDraw(fonts) {
  const letters = new Map();
  for (const { script, blocks } of SCRIPTS) {
    for (const [first, last] of blocks) {
      for (let codePoint = first; codePoint <= last; codePoint++) {
        const initial = initialOfGrapheme(String.fromCodePoint(codePoint).normalize("NFC"));
        if (initial === undefined || letters.has(initial) || !standsAlone(initial)) continue;
        const glyph = glyphIn(fonts, initial.codePointAt(0));
        // Counted under the initial's own script: "µ" (Latin-1) upper-cases to a Greek "Μ".
        const own = SCRIPTS.find((s) => new RegExp(`^\\p{Script=${s.script}}`, "u").test(initial));
        if (glyph) letters.set(initial, { script: own?.script ?? script, glyph });
      }
    }
  }
  return [...letters].sort(([a], [b]) => a.codePointAt(0) - b.codePointAt(0));
}

const graphemeCount = (text) =>
  [...new Intl.Segmenter("und", { granularity: "grapheme" }).segment(text)].length;

/**
 * What isDrawableInitials relies on to check initials code point by code point. The rules must give
 * each initial back unchanged, in NFC (else it throws: the rules are wrong). And it must never join a
 * neighbour into one grapheme, so that two initials side by side are two: a letter that does (Thai
 * sara am "ำ", a vowel that follows its consonant as a spacing mark) cannot start a name, and is left
 * out.
 */
function standsAlone(initial) {
  const name = `U+${initial.codePointAt(0).toString(16).toUpperCase()}`;
  if (initialOfGrapheme(initial) !== initial) throw new Error(`${name}: the rules do not give it back`);
  if (initial.normalize("NFC") !== initial) throw new Error(`${name} is not NFC`);
  return [`A${initial}`, `${initial}A`, `${initial}${initial}`].every((pair) => graphemeCount(pair) === 2);
}

function varint(bytes, value) {
  let rest = value;
  while (rest >= 0x80) {
    bytes.push((rest & 0x7f) | 0x80);
    rest >>>= 7;
  }
  bytes.push(rest);
}

const zigzag = (n) => (n < 0 ? -2 * n - 1 : 2 * n);

/**
 * A glyph's outline as the table stores it. `_getContours` is fontkit's own reading of the glyf
 * table (composite glyphs resolved): TrueType's points as stored, where the public `path` has already
 * turned every implied on-curve point into an explicit one at half units.
 */
function encodeOutline(glyph) {
  const bytes = [];
  const contours = glyph._getContours();
  varint(bytes, glyph.advanceWidth);
  varint(bytes, contours.length);
  let x = 0;
  let y = 0;
  for (const contour of contours) {
    varint(bytes, contour.length);
    for (const point of contour) {
      const dx = Math.round(point.x) - x;
      const dy = Math.round(point.y) - y;
      varint(bytes, zigzag(dx) * 2 + (point.onCurve ? 1 : 0));
      varint(bytes, zigzag(dy));
      x += dx;
      y += dy;
    }
  }
  return bytes;
}

/**
 * The table's bytes, and what each script costs in it: its letters, their outlines' bytes, and those
 * gzipped alone (the bundle is measured gzipped; together they compress a little better).
 */
export function buildGlyphTable() {
  const fonts = loadFonts();
  const letters = lettersToDraw(fonts);
  const outlines = letters.map(([, { glyph }]) => encodeOutline(glyph));
  const body = Buffer.alloc(4 * letters.length + 4 * (letters.length + 1) + outlines.flat().length);
  let at = 0;
  for (const [letter] of letters) at = body.writeUInt32LE(letter.codePointAt(0), at);
  let offset = 0;
  for (const outline of [[], ...outlines]) {
    offset += outline.length;
    at = body.writeUInt32LE(offset, at);
  }
  for (const outline of outlines) at += Buffer.from(outline).copy(body, at);

  const header = Buffer.alloc(16);
  header.write("IGT1", 0, "ascii");
  header.writeUInt16LE(letters.length, 4);
  header.writeUInt16LE(1000, 6);
  header.write(createHash("sha256").update(body).digest("hex").slice(0, 8), 8, "ascii");

  const scripts = SCRIPTS.map(({ script }) => {
    const own = outlines.filter((_, i) => letters[i][1].script === script);
    return {
      script,
      letters: own.length,
      bytes: own.flat().length,
      gzipBytes: gzipSync(Buffer.from(own.flat()), { level: 9 }).length,
    };
  });
  const fontVersions = [...new Set(fonts.map((font) => `${font.familyName} ${font.version}`))];
  return { bytes: Buffer.concat([header, body]), license: licenseText(), scripts, fontVersions };
}
