/**
 * Stateless http-01 (RFC 8555 §8.3 lets the server compute the answer): every responder answers
 * `<token>.<account thumbprint>` for any well-formed token, so no store is shared at all. The
 * thumbprint is the account key's JWK thumbprint (RFC 7638), base64url. This module renders the web
 * server configuration that does it without certpilot; `certpilot account show` prints it.
 *
 * Trade-off (docs/http01-many-pods.md): whoever holds the account key can validate any name these
 * responders serve, at any time, without touching them; a stored token exists only during an order.
 */

/** One-line nginx `location` answering `<token>.<thumbprint>` (text/plain, no-store). */
export function nginxStatelessSnippet(thumbprint: string): string {
  return `location ~ "^/\\.well-known/acme-challenge/([-_A-Za-z0-9]{16,256})$" { default_type text/plain; add_header Cache-Control no-store always; return 200 "$1.${thumbprint}"; }`;
}

/** apache 2.4 lines (mod_rewrite, mod_headers) answering `<token>.<thumbprint>` (text/plain, no-store). */
export function apacheStatelessSnippet(thumbprint: string): string[] {
  return [
    'RewriteEngine On',
    'RewriteRule "^/\\.well-known/acme-challenge/[-_A-Za-z0-9]{16,256}$" - [R=200]',
    '<LocationMatch "^/\\.well-known/acme-challenge/(?<TOKEN>[-_A-Za-z0-9]{16,256})$">',
    '  Header always set Content-Type "text/plain"',
    '  Header always set Cache-Control "no-store"',
    `  ErrorDocument 200 "%{env:MATCH_TOKEN}.${thumbprint}"`,
    '</LocationMatch>',
  ];
}
