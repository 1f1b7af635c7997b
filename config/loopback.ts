/**
 * Loopback names: the only hosts where plain http is acceptable and where a `Host` header is
 * trusted without `server.publicUrl`. Exact matches only (`127.0.0.1.evil.example` is not one).
 */
export function isLoopbackHost(hostname: string): boolean {
  const h = hostname.toLowerCase();
  return h === 'localhost' || h === '::1' || h === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

/** The hostname of a `host[:port]` value (a `Host` header, a Shopify `shop`); null if it is anything else. */
export function hostnameOf(hostAndPort: string): string | null {
  // No userinfo, path or spaces: `evil.example@127.0.0.1` must not parse as loopback.
  if (!/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?$/.test(hostAndPort)) return null;
  try {
    return new URL(`http://${hostAndPort}`).hostname;
  } catch {
    return null;
  }
}
