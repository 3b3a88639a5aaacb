// Public face of io: sockets and buffers under the request path — backend and peer links (BackendServer.send is the upstream seam),
// pooled requests and their delivery, out-buffers and batched flushing, gathering, static reads, the clock. Knows no protocol's routing.
export * from './backend.ts';
export * from './peer-link.ts';
export * from './memcache-line-client.ts';
export * from './request.ts';
export * from './out-buffer.ts';
export * from './flush.ts';
export * from './gather.ts';
export * from './static-read.ts';
export * from './clock.ts';
export * from './tls-options.ts';
