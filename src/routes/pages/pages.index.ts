import { loadConfig } from "../../lib/config";
import { createRouter } from "../../lib/create-app";
import { profilePagePolicy } from "./content-security-policy";
import { servePage } from "./serve-page";

/**
 * `/profile`: the profile-photo page (public/profile/). Its script finds the API at the origin in
 * `<meta name="profile-api-origin">`, filled here from `PAGE_API_ORIGIN` (left empty, the page
 * calls its own origin); the same setting goes into the page's policy, so the two never disagree.
 */
export const pagesRouter = createRouter().get("/profile", (c) => {
  const config = loadConfig(c.env);
  const apiOrigin = config.page.apiOrigin ?? "";
  return servePage(c, {
    file: "/profile/index.html",
    policy: profilePagePolicy(config),
    rewrite: new HTMLRewriter().on('meta[name="profile-api-origin"]', {
      element: (meta) => {
        meta.setAttribute("content", apiOrigin);
      },
    }),
  });
});
