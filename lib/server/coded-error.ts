/** A coded error (docs/api.md, "Errors"): err.code says what went wrong. */
export function codedError(code: string, message: string, Ctor: ErrorConstructor = Error): Error & { code: string } {
  return Object.assign(new Ctor(message), { code });
}
