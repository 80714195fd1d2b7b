// One owned file descriptor, closed when the owner goes away, so that no
// early return leaks one and no path closes one twice.
//
// Not thread-safe; move-only.
#ifndef MAYFLY_IDENTITY_UNIQUE_FD_H_
#define MAYFLY_IDENTITY_UNIQUE_FD_H_

#include <unistd.h>

#include <utility>

namespace mayfly::identity {

class UniqueFd {
 public:
  UniqueFd() = default;
  // Takes `fd` (which may be -1, as a failed open returns).
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    reset(other.release());
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  // Gives up ownership: the caller closes what is returned.
  int release() { return std::exchange(fd_, -1); }
  // Closes what is owned (a close error is lost: use Close() to see it),
  // then owns `fd`.
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }
  // Closes now and reports close(2)'s result: after a write, a failed close
  // can be the first sign that the data did not reach the disk.
  int Close() { return fd_ < 0 ? 0 : ::close(std::exchange(fd_, -1)); }

 private:
  int fd_ = -1;
};

}  // namespace mayfly::identity

#endif  // MAYFLY_IDENTITY_UNIQUE_FD_H_
