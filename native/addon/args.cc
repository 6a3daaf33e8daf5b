// Argument checks for every method of the addon, in one place. lib/ checks what users pass; these guard the
// addon itself, so a wrong call from lib/ throws a coded error instead of crashing the process.
#include <cmath>
#include <cstring>

#include "addon.h"
#include "port/sock.h"

extern "C" {
#include "crypto/crypto.h"
}

namespace tsnet {

void Args::Fail(bool range, const char* code, const std::string& msg) {
  if (!ok_) return;
  ok_ = false;
  Napi::Env env = info_.Env();
  if (env.IsExceptionPending()) return;  // a getter of the caller's threw: that error goes on
  std::string text = std::string(fn_) + ": " + msg;
  Napi::Error e = range ? static_cast<Napi::Error>(Napi::RangeError::New(env, text))
                        : static_cast<Napi::Error>(Napi::TypeError::New(env, text));
  e.Set("code", code);
  e.ThrowAsJavaScriptException();
}

double Args::Int(Napi::Value v, const char* name, double min, double max) {
  if (!ok_) return 0;
  if (!v.IsNumber()) return TypeFail(name, "a number"), 0;
  double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= min && d <= max) || std::floor(d) != d) {
    Fail(true, "ERR_OUT_OF_RANGE", std::string(name) + " must be an integer in " + std::to_string(static_cast<uint64_t>(min)) +
                                       ".." + std::to_string(static_cast<uint64_t>(max)));
    return 0;
  }
  return d;
}

int Args::Family(size_t i) {
  int f = static_cast<int>(Int(info_[i], "family", 0, 6));
  if (ok_ && f != 0 && f != 4 && f != 6) Fail(true, "ERR_OUT_OF_RANGE", "family must be 0, 4 or 6");
  return ok_ ? f : 0;
}

// After a failure every read returns an empty value and makes no N-API call: an exception is pending then.
Napi::Value Args::Get(Napi::Object o, const char* key) {
  Napi::Value v = ok_ ? o.Get(key) : Napi::Value();
  if (ok_ && Env().IsExceptionPending()) ok_ = false;
  return v;
}

Napi::Value Args::At(Napi::Array a, uint32_t i) {
  Napi::Value v = ok_ ? a.Get(i) : Napi::Value();
  if (ok_ && Env().IsExceptionPending()) ok_ = false;
  return v;
}

bool Args::Bool(Napi::Value v, const char* name) {
  if (ok_ && !v.IsBoolean()) TypeFail(name, "a boolean");
  return ok_ && v.As<Napi::Boolean>().Value();
}

std::string Args::String(Napi::Value v, const char* name) {
  if (ok_ && !v.IsString()) TypeFail(name, "a string");
  return ok_ ? v.As<Napi::String>().Utf8Value() : std::string();
}

Napi::Array Args::Array(Napi::Value v, const char* name) {
  if (ok_ && !v.IsArray()) TypeFail(name, "an array");
  return ok_ ? v.As<Napi::Array>() : Napi::Array();
}

Napi::Object Args::Object(Napi::Value v, const char* name) {
  if (ok_ && !v.IsObject()) TypeFail(name, "an object");
  return ok_ ? v.As<Napi::Object>() : Napi::Object();
}

Napi::Uint8Array Args::Bytes(Napi::Value v, const char* name) {
  if (ok_ && (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array)) TypeFail(name, "a Uint8Array");
  return ok_ ? v.As<Napi::Uint8Array>() : Napi::Uint8Array();
}

bool Args::Key(Napi::Value v, const char* name, uint8_t out[32], bool optional) {
  if (!ok_ || (optional && (v.IsNull() || v.IsUndefined()))) return false;
  Napi::Uint8Array a = Bytes(v, name);
  if (ok_ && a.ElementLength() != 32) Fail(true, "ERR_OUT_OF_RANGE", std::string(name) + " must be 32 bytes");
  if (!ok_) return false;
  memcpy(out, a.Data(), 32);
  return true;
}

void Args::PrivateKey(Napi::Value v, const char* name, uint8_t out[32]) {
  if (Key(v, name, out) && ts_ct_is_zero(out, 32)) Fail(false, "ERR_INVALID_ARG_VALUE", std::string(name) + " must not be all zero");
}

ts_addr Args::Ip(Napi::Value v, const char* name) {
  ts_addr a;
  memset(&a, 0, sizeof a);
  std::string s = String(v, name);
  if (!ok_) return a;
  if (inet_pton(AF_INET, s.c_str(), a.ip) == 1) a.family = 4;
  else if (inet_pton(AF_INET6, s.c_str(), a.ip) == 1) a.family = 6;
  else ValueFail(name, "\"" + s + "\" is not an IPv4 or IPv6 address");
  return a;
}

ts_addr Args::Endpoint(Napi::Value v, const char* name) {
  ts_addr a;
  memset(&a, 0, sizeof a);
  std::string s = String(v, name);
  if (!ok_) return a;
  size_t colon = s.rfind(':');
  std::string ip = colon == std::string::npos ? s : s.substr(0, colon);
  if (ip.size() >= 2 && ip.front() == '[' && ip.back() == ']') ip = ip.substr(1, ip.size() - 2);
  const char* digits = colon == std::string::npos ? "" : s.c_str() + colon + 1;
  char* end = nullptr;
  long port = strtol(digits, &end, 10);
  if (!*digits || *end || port <= 0 || port > 65535 || ts_addr_parse(&a, ip.c_str(), static_cast<uint16_t>(port)) != 0)
    ValueFail(name, "\"" + s + "\" is not \"ip:port\" (port 1..65535)");
  return a;
}

std::vector<ts_addr> Args::Endpoints(Napi::Value v, const char* name) {
  std::vector<ts_addr> out;
  Napi::Array a = Array(v, name);
  for (uint32_t i = 0; ok_ && i < a.Length() && i < 64; i++) out.push_back(Endpoint(At(a, i), name));
  return out;
}

ts_link_prefix Args::Cidr(Napi::Value v, const char* name) {
  ts_link_prefix p;
  memset(&p, 0, sizeof p);
  std::string s = String(v, name);
  if (!ok_) return p;
  size_t slash = s.find('/');
  std::string ip = s.substr(0, slash), bits = slash == std::string::npos ? "" : s.substr(slash + 1);
  p.family = inet_pton(AF_INET, ip.c_str(), p.addr) == 1 ? 4 : inet_pton(AF_INET6, ip.c_str(), p.addr) == 1 ? 6 : 0;
  unsigned max = p.family == 4 ? 32 : 128;
  bool digits = !bits.empty() && bits.size() <= 3 && bits.find_first_not_of("0123456789") == std::string::npos;
  p.cidr = slash == std::string::npos ? max : digits ? static_cast<unsigned>(std::stoi(bits)) : max + 1;
  if (!p.family || p.cidr > max) ValueFail(name, "\"" + s + "\" is not an IP prefix");
  return p;
}

ts_filter_prefix Args::Prefix(Napi::Value v, const char* name) {
  ts_filter_prefix p;
  memset(&p, 0, sizeof p);
  Napi::Object o = Object(v, name);
  p.family = static_cast<uint8_t>(Int(Get(o, "family"), "prefix.family", 4, 6));
  size_t len = p.family == 4 ? 4 : 16;
  if (ok_ && p.family == 5) Fail(true, "ERR_OUT_OF_RANGE", "prefix.family must be 4 or 6");
  p.bits = static_cast<uint8_t>(Int(Get(o, "bits"), "prefix.bits", 0, static_cast<double>(len * 8)));
  Napi::Uint8Array a = Bytes(Get(o, "addr"), "prefix.addr");
  if (ok_ && a.ElementLength() != len) Fail(true, "ERR_OUT_OF_RANGE", "prefix.addr must be 4 (IPv4) or 16 (IPv6) bytes");
  if (ok_) memcpy(p.addr, a.Data(), len);
  return p;
}

// The core reports failures as libuv codes or as -errno; the two agree except on Windows, where libuv's
// codes are its own numbers and errno values are the C runtime's (port/port.h maps Winsock errors to those).
static int UvStatus(int status) {
#ifdef _WIN32
  static const struct { int err, uv; } map[] = {
      {EAGAIN, UV_EAGAIN}, {EINTR, UV_EINTR}, {EMSGSIZE, UV_EMSGSIZE}, {ECONNRESET, UV_ECONNRESET},
      {ECONNREFUSED, UV_ECONNREFUSED}, {ECONNABORTED, UV_ECONNABORTED}, {EADDRINUSE, UV_EADDRINUSE},
      {EADDRNOTAVAIL, UV_EADDRNOTAVAIL}, {EAFNOSUPPORT, UV_EAFNOSUPPORT}, {ENETUNREACH, UV_ENETUNREACH},
      {ENETDOWN, UV_ENETDOWN}, {EHOSTUNREACH, UV_EHOSTUNREACH}, {ENOBUFS, UV_ENOBUFS}, {EACCES, UV_EACCES},
      {EINVAL, UV_EINVAL}, {EFAULT, UV_EFAULT}, {EBADF, UV_EBADF}, {EMFILE, UV_EMFILE},
      {ETIMEDOUT, UV_ETIMEDOUT}, {EOPNOTSUPP, UV_ENOTSUP}, {ENOTSUP, UV_ENOTSUP}, {ENOTCONN, UV_ENOTCONN},
      {ENOMEM, UV_ENOMEM}, {EIO, UV_EIO}, {EPERM, UV_EPERM}};
  for (const auto& m : map)
    if (status == -m.err) return m.uv;
#endif
  return status;
}

std::string ErrName(int status) { return status ? uv_err_name(UvStatus(status)) : "OK"; }

void ThrowCoded(Napi::Env env, int status, const std::string& what) {
  status = UvStatus(status);
  Napi::Error e = Napi::Error::New(env, what + ": " + uv_strerror(status));
  e.Set("code", Napi::String::New(env, ErrName(status)));
  e.Set("errno", Napi::Number::New(env, status));
  e.ThrowAsJavaScriptException();
}

}  // namespace tsnet
