// Buffer: owns one host buffer (ih_buf*) and frees it with the host's buf_free (RAII; move-only). The host
// table must outlive it. Not thread-safe (one owner). Never throws.
#ifndef IH_SDK_BUFFER_HPP
#define IH_SDK_BUFFER_HPP

#include <string>
#include <string_view>
#include <utility>

#include "ih/plugin_abi.h"
#include "ih/sdk/strings.hpp"

namespace ih::sdk {

class Buffer {
 public:
  explicit Buffer(const ih_host_api* host, ih_buf* buf = nullptr) noexcept : host_(host), buf_(buf) {}
  ~Buffer() { reset(); }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  Buffer(Buffer&& other) noexcept : host_(other.host_), buf_(std::exchange(other.buf_, nullptr)) {}
  Buffer& operator=(Buffer&& other) noexcept {
    if (this != &other) {
      reset();
      host_ = other.host_;
      buf_ = std::exchange(other.buf_, nullptr);
    }
    return *this;
  }

  // Frees the held buffer, if any.
  void reset() noexcept {
    if (buf_ != nullptr && host_ != nullptr) host_->buf_free(buf_);
    buf_ = nullptr;
  }
  // Out-parameter for a host call: frees the held buffer first, then lets the host store a new one.
  ih_buf** out() noexcept {
    reset();
    return &buf_;
  }
  // Borrowed view, valid while this Buffer holds the buffer.
  std::string_view view() const noexcept {
    return host_ ? toView(host_->buf_view(buf_)) : std::string_view();
  }
  std::string str() const { return std::string(view()); }
  ih_buf* get() const noexcept { return buf_; }

 private:
  const ih_host_api* host_;
  ih_buf* buf_;
};

}  // namespace ih::sdk

#endif  // IH_SDK_BUFFER_HPP
