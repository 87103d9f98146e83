// PLACEHOLDER until the initials renderer lands (branch initials-renderer): never merged to main as is.
export const PALETTE: readonly (readonly [number, number, number])[] = [[30, 90, 160]];
export const TEXT_COLOUR: readonly [number, number, number] = [255, 255, 255];
export const INITIALS_MEDIA_TYPE = "image/png";
export const INITIALS_RENDERER_VERSION = "placeholder";
export function initialsOf(user: { firstName: string; lastName: string; email: string }): string {
  return `${user.firstName.slice(0, 1)}${user.lastName.slice(0, 1)}`.toUpperCase();
}
export const isDrawableInitials = (initials: string) => /^[A-Z]{0,2}$/.test(initials);
export const paletteIndexOf = (_userId: string) => 0;
export async function renderInitials(
  _initials: string,
  _paletteIndex: number,
  _size: number,
): Promise<Uint8Array> {
  return new Uint8Array();
}
