// One person's profile photo: shows it; "Choose photo" checks the file here (type and size, the
// same rules the API applies) and previews it; "Upload photo" sends it through the presigned PUT
// with a progress bar, completes the upload and sets it; "Remove photo" goes back to the person's
// avatar without it (their WorkOS picture, imported, or their initials). Used for the signed-in user
// and, in the admin section, for a teammate. It draws the API's `avatarUrl`, never a fallback of its own.
import { ApiProblem, problemMessage, putBytes } from "./api-client.js";
import { cloneTemplate, part } from "./page-parts.js";

/** @typedef {import("./api-client.js").ApiClient} ApiClient */
/** @typedef {import("./api-client.js").UserProfile} UserProfile */
/** @typedef {import("./api-client.js").PhotoOwner} PhotoOwner */

const MB = 1024 * 1024;
let editors = 0;

/** @param {UserProfile} profile */
export const displayName = (profile) => `${profile.firstName} ${profile.lastName}`.trim() || profile.email;

/**
 * The file input carries the rules (`accept` and `data-max-bytes`, the API's own limits for
 * profile pictures): a file that breaks them is refused here, before any request.
 * @param {HTMLInputElement} input
 * @param {File} file
 * @returns {string | undefined} why the file is refused
 */
function refusal(input, file) {
  const types = input.accept.split(",").map((type) => type.trim());
  const maxBytes = Number(input.dataset.maxBytes);
  const names = types.map((type) => type.replace("image/", "").toUpperCase()).join(", ");
  if (!types.includes(file.type)) return `"${file.name}" is not an image of an allowed type (${names}).`;
  if (file.size > maxBytes) {
    return `"${file.name}" is ${(file.size / MB).toFixed(1)} MB; photos may be at most ${maxBytes / MB} MB.`;
  }
  return undefined;
}

/**
 * Render the editor into `host` (cloned from `<template id="photo-editor">`).
 * @param {HTMLElement} host
 * @param {{
 *   client: ApiClient,
 *   owner: PhotoOwner,
 *   profile: UserProfile,
 *   whose: string,
 *   onChange?: (profile: UserProfile) => void,
 *   onBusyChange?: (busy: boolean) => void,
 * }} options
 *   `whose` finishes the sentences the editor says ("Your photo", "Ada Lovelace's photo").
 *   `onChange` gets the profile the API answered after each change, so other views of the person
 *   can show it; `onBusyChange` says when a request starts and ends, so the page can hold back
 *   whatever would take this editor away meanwhile.
 */
export function mountPhotoEditor(host, { client, owner, profile, whose, onChange, onBusyChange }) {
  const root = cloneTemplate("photo-editor");
  const photo = part(root, "photo", HTMLImageElement);
  const name = part(root, "name", HTMLElement);
  const file = part(root, "file", HTMLInputElement);
  const hint = part(root, "hint", HTMLElement);
  const previewFigure = part(root, "preview-figure", HTMLElement);
  const preview = part(root, "preview", HTMLImageElement);
  const upload = part(root, "upload", HTMLButtonElement);
  const remove = part(root, "remove", HTMLButtonElement);
  const progressLabel = part(root, "progress-label", HTMLLabelElement);
  const progress = part(root, "progress", HTMLProgressElement);
  const status = part(root, "status", HTMLElement);
  const error = part(root, "error", HTMLElement);

  // The hint describes the file input; ids must be unique, and there is one editor per person shown.
  hint.id = `photo-editor-hint-${++editors}`;
  file.setAttribute("aria-describedby", hint.id);
  hint.textContent = `JPEG, PNG, WebP or GIF, at most ${Number(file.dataset.maxBytes) / MB} MB.`;

  /** @type {File | undefined} */
  let chosen;
  /** @type {string | undefined} */
  let previewUrl;
  const controls = [file, upload, remove];

  /** @param {UserProfile} current */
  function show(current) {
    profile = current;
    name.textContent = displayName(current);
    photo.alt = displayName(current);
    photo.src = current.avatarUrl;
    remove.hidden = !current.hasCustomProfilePicture;
  }

  /** @param {UserProfile} changed the API's answer to a change */
  function changedTo(changed) {
    show(changed);
    onChange?.(changed);
  }

  /** @param {File | undefined} next */
  function choose(next) {
    if (previewUrl) URL.revokeObjectURL(previewUrl);
    previewUrl = next ? URL.createObjectURL(next) : undefined;
    chosen = next;
    if (previewUrl) preview.src = previewUrl;
    else preview.removeAttribute("src");
    previewFigure.hidden = !next;
    upload.disabled = !next;
  }

  /**
   * Run one request flow with every control disabled, its outcome in the status or error line.
   * @param {string} working
   * @param {() => Promise<string>} flow resolves to the line to show when it succeeded
   */
  async function run(working, flow) {
    error.textContent = "";
    status.textContent = working;
    for (const control of controls) control.disabled = true;
    host.setAttribute("aria-busy", "true");
    onBusyChange?.(true);
    try {
      status.textContent = await flow();
    } catch (problem) {
      status.textContent = "";
      error.textContent = problemMessage(problem);
    } finally {
      host.removeAttribute("aria-busy");
      onBusyChange?.(false);
      file.disabled = false;
      remove.disabled = false;
      upload.disabled = !chosen;
      // A disabled button loses focus; a keyboard user continues from the editor's first control.
      if (!host.contains(document.activeElement)) file.focus();
    }
  }

  file.addEventListener("change", () => {
    error.textContent = "";
    status.textContent = "";
    const next = file.files?.[0];
    const why = next && refusal(file, next);
    if (why) {
      error.textContent = why;
      file.value = "";
      choose(undefined);
      return;
    }
    choose(next);
  });

  upload.addEventListener("click", () =>
    run("Uploading…", async () => {
      const photoFile = chosen;
      if (!photoFile) return "";
      progress.value = 0;
      progressLabel.hidden = false;
      try {
        const started = await client.startUpload(photoFile);
        await putBytes(started, photoFile, (fraction) => {
          progress.value = Math.round(fraction * 100);
        });
        status.textContent = "Checking the photo…";
        const done = await client.completeUpload(started.upload.id);
        if (done.state !== "ready") {
          choose(undefined);
          file.value = "";
          throw new ApiProblem(
            422,
            "upload_failed",
            `The photo was refused: ${done.failureReason ?? done.state}`,
          );
        }
        changedTo(await client.setProfilePicture(owner, done.id));
      } finally {
        progressLabel.hidden = true;
      }
      file.value = "";
      choose(undefined);
      return `${whose} new photo is set.`;
    }),
  );

  remove.addEventListener("click", () =>
    run("Removing…", async () => {
      changedTo(await client.setProfilePicture(owner, null));
      return `${whose} photo is removed.`;
    }),
  );

  show(profile);
  host.replaceChildren(root);
  return { show };
}
