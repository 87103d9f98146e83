// Writes src/pictures/initials/glyph-table.bin, the outlines initials avatars are drawn from, from the
// installed fonts (scripts/lib/initials-glyph-table.mjs), with their licence beside it
// (glyph-table.LICENSE.txt), and prints what each script costs in the table. Run it
// after changing the fonts, their weight, the scripts covered or the letter rules; `npm test` fails
// until the committed table is what this writes.
import { writeFileSync } from "node:fs";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { parseCommandLine } from "./lib/command-line.mjs";
import { buildGlyphTable, GLYPH_TABLE_FILE, GLYPH_TABLE_LICENSE_FILE } from "./lib/initials-glyph-table.mjs";

parseCommandLine({
  name: "initials:glyphs",
  invocation: "npm run initials:glyphs --",
  summary:
    "Writes src/pictures/initials/glyph-table.bin from the installed @fontsource fonts: the outline of every\n" +
    "letter an initials avatar can draw. Prints each script's letters and bytes.",
  options: {},
});
const { bytes, license, scripts, fontVersions } = buildGlyphTable();
writeFileSync(GLYPH_TABLE_FILE, bytes);
writeFileSync(GLYPH_TABLE_LICENSE_FILE, license);
const kb = (n) => `${(n / 1000).toFixed(1)} KB`;
for (const { script, letters, bytes: own, gzipBytes } of scripts) {
  console.log(
    `${script.padEnd(11)} ${String(letters).padStart(4)} letters ${kb(own).padStart(9)}, gzipped alone ${kb(gzipBytes)}`,
  );
}
console.log(`${fontVersions.join("; ")}`);
console.log(
  `wrote ${path.relative(process.cwd(), GLYPH_TABLE_FILE)}: ${kb(bytes.length)}, gzipped ${kb(gzipSync(bytes, { level: 9 }).length)}`,
);
