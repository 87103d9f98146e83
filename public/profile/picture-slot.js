// Where the page shows a person's picture: the `<img>` while there is a URL and it loads, else the
// stand-in beside it ("No photo" in the editor, initials in the members list).

/**
 * Wire an `<img>` and its stand-in together.
 * @param {HTMLImageElement} photo
 * @param {HTMLElement} standIn
 * @returns {(url: string | null) => void} shows the picture at `url`, or the stand-in when null
 */
export function pictureSlot(photo, standIn) {
  // A picture that does not load (an expired link, an origin the page may not show) is no photo.
  photo.addEventListener("error", () => {
    photo.hidden = true;
    standIn.hidden = false;
  });
  return (url) => {
    if (url) photo.src = url;
    else photo.removeAttribute("src");
    photo.hidden = !url;
    standIn.hidden = Boolean(url);
  };
}
