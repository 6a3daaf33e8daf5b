// Loads the native addon (prebuilt binary from prebuilds/, or a local node-gyp build) and types its surface.
// lib/ knows the addon only through the NativeAddon interface below.
import * as path from 'node:path';
import nodeGypBuild from 'node-gyp-build';

/** The addon's exports. Grows as native layers land; every entry is typed here and nowhere else. */
export interface NativeAddon {
  /** Interface version of the addon; must equal NATIVE_ABI. */
  readonly abi: number;
}

/** The addon interface this JavaScript expects (kNativeAbi in native/addon/addon.cc). */
export const NATIVE_ABI = 1;

let cached: NativeAddon | undefined;

/** Error thrown when no native binary fits this platform. `code` is `ERR_TSNET_NATIVE_MISSING`. */
export class NativeMissingError extends Error {
  readonly code = 'ERR_TSNET_NATIVE_MISSING';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'NativeMissingError';
  }
}

/** The package root: dist/ and lib/ both sit directly below it. */
export const packageRoot: string = path.resolve(__dirname, '..');

export function loadNative(): NativeAddon {
  if (cached) return cached;
  try {
    cached = nodeGypBuild(packageRoot) as NativeAddon;
  } catch (err) {
    const target = `${process.platform}-${process.arch}, Node ABI ${process.versions.modules}`;
    throw new NativeMissingError(
      `tsnet: no native binary for ${target}. ` +
        `Build one with "npm run build:native" in ${packageRoot} (needs a C compiler; scripts/deps.sh ` +
        `fetches libsodium, libb2 and lwIP from Debian), or install a tsnet release that ships prebuilds/ ` +
        `for this platform.`,
      { cause: err },
    );
  }
  if (cached.abi !== NATIVE_ABI) {
    const abi = cached.abi;
    cached = undefined;
    throw new NativeMissingError(
      `tsnet: the native binary speaks interface ${abi} but this JavaScript expects ${NATIVE_ABI}; ` +
        `rebuild it with "npm run build:native" in ${packageRoot}.`,
    );
  }
  return cached;
}
