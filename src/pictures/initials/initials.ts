import { hasOutline } from "./glyph-table";
import { firstInitialsIn, initialOfGrapheme } from "./initial-letters";

/** The part of an email address before its last "@" (the whole text when it has none). */
const localPartOf = (email: string) => (email.includes("@") ? email.slice(0, email.lastIndexOf("@")) : email);

/**
 * Whether `initials` is a value `initialsOf` can return: "" (the symbol), or one or two letters, each
 * one code point that the letter rules give back unchanged (an upper-case or caseless letter, or one
 * like "ß" whose capital is two letters) and that the glyph table can draw. Checked code point by
 * code point, with no segmenter: every letter in the table is a grapheme of its own beside any other
 * (the table's generator checks it), and a mark or anything else joining one has no outline.
 */
export function isDrawableInitials(initials: string): boolean {
  if (initials === "") return true;
  // Two code points are at most four UTF-16 units: a long payload is refused before it is read.
  if (initials.length > 4) return false;
  const letters = Array.from(initials);
  return (
    letters.length <= 2 &&
    initials.normalize("NFC") === initials &&
    letters.every((letter) => hasOutline(letter.codePointAt(0) ?? 0) && initialOfGrapheme(letter) === letter)
  );
}

/**
 * Up to two letters for a user, upper-cased (rules in initial-letters.ts): the first letter of the
 * first name and of the last name, in that order; when neither has a letter, the first letter of the
 * email's local part. "" (the symbol) when there is no letter at all, or when any chosen letter cannot
 * be drawn: a monogram with one of its two letters dropped would read as someone else's initials
 * ("李 Smith" is not "S"), and a letter beside a symbol as a broken picture.
 */
export function initialsOf(user: { firstName: string; lastName: string; email: string }): string {
  const quick = [asciiInitialOf(user.firstName), asciiInitialOf(user.lastName)];
  const [first, last, fromEmail] =
    quick[0] !== null && quick[1] !== null && (quick[0] ?? quick[1]) !== undefined
      ? quick
      : firstInitialsIn([user.firstName, user.lastName, localPartOf(user.email)]);
  const fromNames = [first, last].filter((initial) => initial !== undefined);
  const letters = fromNames.length > 0 ? fromNames : [fromEmail];
  const initials = letters.every((letter) => letter !== undefined) ? letters.join("") : "";
  // The one check of what can be drawn, so every answer is a payload isDrawableInitials accepts.
  return isDrawableInitials(initials) ? initials : "";
}

/**
 * The rules' answer for a text that starts with an ASCII letter followed by nothing or by another
 * ASCII character, without segmenting it (about 5 µs in workerd, on every read of a profile without a
 * photo): such a letter is a grapheme of its own (no ASCII character joins one, UAX #29) that NFC leaves
 * alone, and its capital is one ASCII letter. `undefined` for "", which has no letter; `null` when the
 * text needs the full rules (`firstInitialsIn`).
 */
export function asciiInitialOf(text: string): string | undefined | null {
  if (text === "") return undefined;
  const code = text.charCodeAt(0);
  const letter = (code >= 0x41 && code <= 0x5a) || (code >= 0x61 && code <= 0x7a);
  const next = text.length > 1 ? text.charCodeAt(1) : 0;
  return letter && next < 0x80 ? String.fromCharCode(code).toUpperCase() : null;
}
