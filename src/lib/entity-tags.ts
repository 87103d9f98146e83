/** One entity tag of a list (RFC 9110 §8.8.3): its opaque string, without the quotes, and whether it is weak. */
export interface EntityTag {
  weak: boolean;
  opaque: string;
}

/** What an `If-Match` or `If-None-Match` names: any current representation (`*`), or these tags. */
export type EntityTagCondition = "*" | EntityTag[];

/**
 * More tags than this in one header is refused: a client names the versions it has read, a handful
 * at most, and each is compared in the PATCH's statement (all of them bound there as one value).
 */
export const MAX_ENTITY_TAGS = 16;

/** One list element: optional whitespace, an optional `W/`, a quoted opaque tag (`etagc`), up to the next comma. */
const ELEMENT = /^[ \t]*(?:(W\/)?"([\x21\x23-\x7E\x80-\xFF]*)")?[ \t]*(?:,|$)/;

/**
 * The value of an `If-Match` or `If-None-Match` (`"*" / #entity-tag`, RFC 9110 §13.1.1-2): `*`,
 * or its tags in order (empty list elements, `"a", , "b"`, are allowed, as for any list). Undefined
 * when it is neither, or names no tag, or more than `MAX_ENTITY_TAGS`.
 */
export function parseEntityTags(value: string): EntityTagCondition | undefined {
  if (value.trim() === "*") return "*";
  const tags: EntityTag[] = [];
  let rest = value;
  while (rest.length > 0) {
    const element = ELEMENT.exec(rest);
    if (!element || element[0].length === 0) return undefined;
    if (element[2] !== undefined) tags.push({ weak: element[1] !== undefined, opaque: element[2] });
    rest = rest.slice(element[0].length);
  }
  return tags.length > 0 && tags.length <= MAX_ENTITY_TAGS ? tags : undefined;
}
