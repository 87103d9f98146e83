// The page's elements, found by id, by `data-part` or cloned from a `<template>`, and typed. The
// HTML and the scripts ship together, so a missing element is a broken page: it throws at once
// rather than failing later on `null`.

/**
 * @template {Element} T
 * @param {string} id
 * @param {new () => T} type
 * @returns {T}
 */
export function byId(id, type) {
  const element = document.getElementById(id);
  if (!(element instanceof type)) throw new Error(`the page has no #${id}`);
  return element;
}

/**
 * @template {Element} T
 * @param {ParentNode} root
 * @param {string} name
 * @param {new () => T} type
 * @returns {T}
 */
export function part(root, name, type) {
  const element = root.querySelector(`[data-part="${name}"]`);
  if (!(element instanceof type)) throw new Error(`the page has no ${name} part where it should`);
  return element;
}

/**
 * A fresh copy of a `<template>`'s content.
 * @param {string} id
 * @returns {DocumentFragment}
 */
export function cloneTemplate(id) {
  const template = byId(id, HTMLTemplateElement);
  return /** @type {DocumentFragment} */ (template.content.cloneNode(true));
}
