/**
 * Initials avatars: the picture of a user with no photo, drawn from their initials on a colour of
 * their own. Pure: no bindings, no I/O; whoever serves the images stores what this renders.
 */
export { initialsOf, isDrawableInitials } from "./initials";
export { PALETTE, paletteIndexOf, TEXT_COLOUR } from "./palette";
export { INITIALS_MEDIA_TYPE, INITIALS_RENDERER_VERSION, renderInitials } from "./render-initials";
