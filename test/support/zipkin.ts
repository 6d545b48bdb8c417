/** Reading traces back from a real Zipkin (ZIPKIN_URL), through its HTTP API. */

/** A span as Zipkin's v2 API answers it (names lower-cased by Zipkin). */
export interface ZipkinSpan {
  traceId: string;
  id: string;
  parentId?: string;
  name: string;
  kind?: string;
  localEndpoint?: { serviceName?: string };
  tags?: Record<string, string>;
}

/** The Zipkin of the tests, without a trailing slash; undefined when ZIPKIN_URL is not set. */
export const zipkinUrl = process.env.ZIPKIN_URL?.replace(/\/+$/, '');

/** The spans Zipkin has of a trace so far ([] when it knows none). */
export async function readTrace(traceId: string): Promise<ZipkinSpan[]> {
  const res = await fetch(`${zipkinUrl}/api/v2/trace/${traceId}`);
  if (res.status === 404) return [];
  if (res.status !== 200) throw new Error(`Zipkin answered ${res.status} for trace ${traceId}`);
  return (await res.json()) as ZipkinSpan[];
}

/** The traces of a service (newest first, at most `limit`). */
export async function tracesOf(serviceName: string, limit = 100): Promise<ZipkinSpan[][]> {
  const res = await fetch(`${zipkinUrl}/api/v2/traces?serviceName=${encodeURIComponent(serviceName)}&limit=${limit}`);
  if (res.status !== 200) throw new Error(`Zipkin answered ${res.status} for the traces of ${serviceName}`);
  return (await res.json()) as ZipkinSpan[][];
}
