import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  buildGlyphTable,
  GLYPH_TABLE_FILE,
  GLYPH_TABLE_LICENSE_FILE,
} from "../../scripts/lib/initials-glyph-table.mjs";

describe("the initials glyph table (src/pictures/initials/glyph-table.bin)", () => {
  const built = buildGlyphTable();

  it("is what `npm run initials:glyphs` makes from the installed fonts and the letter rules", () => {
    const committed = readFileSync(GLYPH_TABLE_FILE);
    // Stale after a font upgrade, a change of the rules or of the generator: run `npm run initials:glyphs`.
    expect(committed.equals(built.bytes), "glyph-table.bin is stale: run npm run initials:glyphs").toBe(true);
  });

  it("carries the fonts' copyright notices and their licence beside it, as the OFL asks", () => {
    expect(readFileSync(GLYPH_TABLE_LICENSE_FILE, "utf8")).toBe(built.license);
    expect(built.license).toContain("SIL OPEN FONT LICENSE Version 1.1");
    expect(built.license.match(/^Copyright \d{4} The Noto Project Authors/gm)).toHaveLength(6);
  });

  it("has letters of every script it covers", () => {
    for (const { script, letters } of built.scripts) expect(letters, script).toBeGreaterThan(25);
  });
});
