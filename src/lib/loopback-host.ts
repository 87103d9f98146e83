/**
 * Whether a URL's host never leaves the machine. Shared by the worker (src/pictures/remote-picture.ts)
 * and scripts/audit-schemas.mjs, which imports this file into Node, so it stays plain: no imports, and
 * only TypeScript that Node runs by stripping the types.
 */

/** `localhost`, `*.localhost` (RFC 6761), 127.0.0.0/8 and `::1`. */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.toLowerCase();
  return (
    host === "localhost" ||
    host.endsWith(".localhost") ||
    /^127(\.\d{1,3}){3}$/.test(host) ||
    host === "[::1]"
  );
}
