/// <reference lib="dom" />
/**
 * Tagged templates for preact components (htm): no JSX step of their own,
 * and text in `${}` becomes text nodes, never HTML.
 *
 * @module
 */
import { h, type VNode } from "preact";
import htmImport from "htm";

// htm's types declare an ES default export in a package Deno reads as
// CommonJS, so the checker sees the module object; at run time (the
// bundle's browser build) the default export is htm itself.
const htm = htmImport as unknown as {
  bind(hyperscript: typeof h): (strings: TemplateStringsArray, ...values: unknown[]) => VNode;
};

/** `html\`<p>${text}</p>\`` builds preact elements. */
export const html = htm.bind(h);
