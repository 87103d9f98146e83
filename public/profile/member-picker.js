// Picks the teammate whose photo an admin changes. For now a user-id field: the members list
// (`GET /api/v1/shared/users`) is on its way, and a searchable picker built on it slots in here by
// calling the same `onPick` with the chosen member's profile.
import { ApiProblem } from "./api-client.js";

/** @typedef {import("./api-client.js").ApiClient} ApiClient */
/** @typedef {import("./api-client.js").UserProfile} UserProfile */

/**
 * @param {HTMLFormElement} form holds the `userId` input, a submit button and a `role="alert"` line
 * @param {{ client: ApiClient, onPick: (profile: UserProfile) => void }} options
 */
export function mountUserIdPicker(form, { client, onPick }) {
  const input = form.elements.namedItem("userId");
  const submit = form.querySelector('button[type="submit"]');
  const error = form.querySelector('[role="alert"]');
  if (!(input instanceof HTMLInputElement) || !(submit instanceof HTMLButtonElement) || !error) {
    throw new Error("the member picker form is incomplete");
  }
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    submit.disabled = true;
    form.setAttribute("aria-busy", "true");
    try {
      onPick(await client.getUser(input.value.trim()));
    } catch (problem) {
      error.textContent = problem instanceof ApiProblem ? problem.message : "Something went wrong.";
      if (!(problem instanceof ApiProblem)) console.error(problem);
    } finally {
      form.removeAttribute("aria-busy");
      submit.disabled = false;
    }
  });
}
