// Every counter and gauge dynoproxy keeps, declared once as data; slot layouts, /stats and /metrics derive from it.
// Never holds values: this is the schema only.

export type MetricKind = 'counter' | 'gauge';

export interface MetricDecl {
  readonly name: string;
  readonly kind: MetricKind;
  readonly help: string;
}

/** Per pool, per worker. */
export const POOL_METRICS = [
  { name: 'client_connections', kind: 'gauge', help: 'Client connections open' },
  { name: 'client_connections_total', kind: 'counter', help: 'Client connections accepted' },
  { name: 'client_rejected_total', kind: 'counter', help: 'Client connections refused at the client_connections limit or while draining' },
  { name: 'client_protocol_errors_total', kind: 'counter', help: 'Client connections closed for malformed requests' },
  { name: 'client_paused_total', kind: 'counter', help: 'Times a client was paused by backpressure (in-flight or buffered-bytes bound)' },
  { name: 'requests_total', kind: 'counter', help: 'Client requests parsed' },
  { name: 'request_errors_total', kind: 'counter', help: 'Client requests answered with an error (by the proxy or a backend)' },
  { name: 'requests_local_total', kind: 'counter', help: 'Requests answered by the proxy itself (PING, AUTH, refusals ...)' },
  { name: 'requests_split_total', kind: 'counter', help: 'Multi-key requests split over several backends' },
  { name: 'requests_in_flight', kind: 'gauge', help: 'Client requests waiting for their reply' },
  { name: 'client_bytes_in_total', kind: 'counter', help: 'Bytes read from clients' },
  { name: 'client_bytes_out_total', kind: 'counter', help: 'Bytes written to clients' },
] as const satisfies readonly MetricDecl[];

/** Per backend server, per pool, per worker. */
export const SERVER_METRICS = [
  { name: 'server_requests_total', kind: 'counter', help: 'Requests sent to the backend' },
  { name: 'server_errors_total', kind: 'counter', help: 'Backend connection failures (refused, reset, timed out, garbage)' },
  { name: 'server_timeouts_total', kind: 'counter', help: 'Backend requests that hit the timeout' },
  { name: 'server_ejected', kind: 'gauge', help: '1 while the backend is ejected (auto_eject_hosts)' },
  { name: 'server_ejections_total', kind: 'counter', help: 'Times the backend was ejected' },
  { name: 'server_connections', kind: 'gauge', help: 'Open connections to the backend' },
  { name: 'server_in_flight', kind: 'gauge', help: 'Requests sent and not yet answered' },
  { name: 'server_bytes_out_total', kind: 'counter', help: 'Request bytes written to the backend' },
  { name: 'server_bytes_in_total', kind: 'counter', help: 'Reply bytes read from the backend' },
] as const satisfies readonly MetricDecl[];

type Names<T extends readonly MetricDecl[]> = T[number]['name'];
export type PoolMetric = Names<typeof POOL_METRICS>;
export type ServerMetric = Names<typeof SERVER_METRICS>;

function slots<T extends readonly MetricDecl[]>(decls: T): Record<Names<T>, number> {
  const r: Record<string, number> = {};
  decls.forEach((d, i) => (r[d.name] = i));
  return r as Record<Names<T>, number>;
}

/** Slot index of each metric inside its block. */
export const P = slots(POOL_METRICS);
export const S = slots(SERVER_METRICS);
