import type { Locator, Page } from "playwright-core";
import type { ChosenFile } from "./files";

/** The parts of one photo editor on the page (the signed-in user's, or the teammate's in the admin section). */
export function photoEditor(page: Page, host: "#my-photo-editor" | "#member-photo-editor") {
  const root = page.locator(host);
  return {
    root,
    photo: root.locator('img[data-part="photo"]'),
    name: root.locator('[data-part="name"]'),
    file: root.getByLabel("Choose photo"),
    preview: root.getByRole("img", { name: "The file you chose" }),
    upload: root.getByRole("button", { name: "Upload photo" }),
    remove: root.getByRole("button", { name: "Remove photo" }),
    status: root.getByRole("status"),
    error: root.getByRole("alert"),
    /** Choose a file and press "Upload photo". */
    async chooseAndUpload(file: ChosenFile) {
      await this.file.setInputFiles(file);
      await this.preview.waitFor({ state: "visible" });
      await this.upload.click();
    },
  };
}

/** Wait until the image has loaded and answer its natural width and its address. */
export async function loadedImage(image: Locator): Promise<{ width: number; src: string }> {
  await image.waitFor({ state: "visible" });
  const handle = await image.elementHandle();
  await image
    .page()
    .waitForFunction(
      (img) => img instanceof HTMLImageElement && img.complete && img.naturalWidth > 0,
      handle,
    );
  return image.evaluate((img: HTMLImageElement) => ({ width: img.naturalWidth, src: img.currentSrc }));
}
