import type { Page } from "playwright-core";

/** The parts of the admin section's members list. */
export function memberList(page: Page) {
  const root = page.locator("#member-picker");
  /** A member's row, by the name it shows. */
  const member = (name: string) =>
    root.getByRole("listitem").filter({ has: page.getByText(name, { exact: true }) });
  return {
    root,
    search: root.getByRole("searchbox", { name: "Search members" }),
    searchButton: root.getByRole("button", { name: "Search", exact: true }),
    rows: root.getByRole("listitem"),
    /** The button that picks the member named `name`. */
    pick: (name: string) => member(name).getByRole("button"),
    /** The photo in the row of the member named `name`. */
    photoOf: (name: string) => member(name).locator('img[data-part="photo"]'),
    /** The names shown, in order. */
    names: () => root.locator('[data-part="name"]').allTextContents(),
    loadMore: root.getByRole("button", { name: "Load more" }),
    status: root.getByRole("status"),
    error: root.getByRole("alert"),
  };
}
