export * from './errors.js';
export * from './keys.js';
export * from './noise.js';
export * from './noise-stream.js';
export * from './early-payload.js';
export * from './framing.js';
export type * from './tailcfg.js';
export { ZERO_TIME, DERP_MAGIC_IP, LB_HEADER, EndpointType } from './tailcfg.js';
