import { jpeg, png } from "../fixtures/images";

/** A file as Playwright hands it to a file input. */
export interface ChosenFile {
  name: string;
  mimeType: string;
  buffer: Buffer;
}

/** 480x320 and 320x480: 320 px on the shorter side, so every thumbnail size up to 256 px is whole, and the 512 px one is 320. */
export const pngPhoto: ChosenFile = { name: "photo.png", mimeType: "image/png", buffer: Buffer.from(png) };
export const jpegPhoto: ChosenFile = { name: "photo.jpg", mimeType: "image/jpeg", buffer: Buffer.from(jpeg) };

/** Named and typed like a PNG, but text: the browser and the page take it, `complete` refuses it. */
export const notAnImage: ChosenFile = {
  name: "notes.png",
  mimeType: "image/png",
  buffer: Buffer.from("These are meeting notes, not a photo.\n".repeat(20)),
};

/** One byte over the 10 MiB that profile pictures may have. */
export const tooLarge: ChosenFile = {
  name: "huge.png",
  mimeType: "image/png",
  buffer: Buffer.concat([Buffer.from(png), Buffer.alloc(10 * 1024 * 1024 + 1 - png.byteLength)]),
};
