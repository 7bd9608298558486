/**
 * The data plane: route lookup by host and path, header hygiene toward the
 * upstream and back, streaming forwarding over pooled undici connections
 * with weights and failover, and websocket tunnels.
 */
export { RouteTable, pathMatches } from './routes.js';
export type { TableRoute } from './routes.js';
export { buildUpstreamHeaders, buildResponseHeaders, headerTemplates, isPomeriumAuthorization } from './headers.js';
export { parseHeaderTemplate, renderHeaderTemplate, type HeaderTemplate, type TemplateValues } from './header-template.js';
export type { UpstreamHeaderPlan } from './headers.js';
export { forward, upstreamPath, UpstreamSelector, DispatcherPool, UpstreamError } from './forward.js';
export type { ForwardRequest } from './forward.js';
export { tunnelUpgrade, checkClientHandshake, checkSwitch, declaresBody, responseOnSocket, upgradeProtocols, websocketAccept, TUNNELLED_PROTOCOL } from './websocket.js';
export type { HandshakeRefusal, TunnelEvents, TunnelFailure } from './websocket.js';
