// Public entry point of the tsnet package.
export { loadNative, NativeMissingError } from './native.js';
export type { NativeAddon } from './native.js';
