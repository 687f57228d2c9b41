/** Content negotiation: which of the types we can produce the client's Accept header prefers. */

interface Range {
  type: string;
  q: number;
  order: number;
}

function parseAccept(header: string): Range[] {
  return header.split(',').map((part, order) => {
    const [type = '', ...params] = part.trim().toLowerCase().split(';');
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    const value = q === undefined ? 1 : Number(q.slice(2));
    return { type: type.trim(), q: Number.isFinite(value) ? value : 0, order };
  });
}

function matches(range: string, type: string): boolean {
  if (range === '*/*' || range === type) return true;
  return range.endsWith('/*') && type.startsWith(range.slice(0, -1));
}

/** The first of `offered` (our preference order) that the header ranks highest; the first offered when no header. */
export function preferredType<T extends string>(accept: string | undefined, offered: readonly T[]): T {
  if (!accept) return offered[0]!;
  const ranges = parseAccept(accept);
  let best: { type: T; q: number; specific: boolean; order: number } | null = null;
  for (const type of offered) {
    // The most specific range that matches decides the type's quality (RFC 9110 §12.5.1).
    const hits = ranges.filter((r) => matches(r.type, type)).sort((a, b) => b.type.length - a.type.length);
    const hit = hits[0];
    if (!hit || hit.q <= 0) continue;
    const specific = hit.type === type;
    if (!best || hit.q > best.q || (hit.q === best.q && specific && !best.specific) || (hit.q === best.q && specific === best.specific && hit.order < best.order)) {
      best = { type, q: hit.q, specific, order: hit.order };
    }
  }
  return best?.type ?? offered[0]!;
}
