// runtime/file_block_device.cpp — see file_block_device.h.
#include "runtime/file_block_device.h"

#include <fcntl.h>
#include <liburing.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <vector>

namespace cairn::runtime {
namespace {

using chunk::block_bytes;
using chunk::io_result;

std::runtime_error device_error(const std::string& path, const std::string& what, int error) {
  return std::runtime_error("chunk device " + path + ": " + what + ": " + std::strerror(error));
}

}  // namespace

std::string_view to_string(block_io_mode m) {
  switch (m) {
    case block_io_mode::uring_direct:
      return "io_uring+O_DIRECT";
    case block_io_mode::pread_direct:
      return "pread+O_DIRECT";
    case block_io_mode::buffered:
      return "buffered";
  }
  return "?";
}

struct file_block_device::uring {
  io_uring ring{};
  unsigned depth = 0;
  ~uring() { io_uring_queue_exit(&ring); }
};

file_block_device::file_block_device(const std::string& path,
                                     const file_block_device_options& options)
    : path_(path) {
  int flags = O_RDWR | O_CLOEXEC;
  if (options.create_bytes > 0) flags |= O_CREAT;
  fd_ = ::open(path.c_str(), flags | O_DIRECT, 0600);
  bool direct = fd_ >= 0;
  if (fd_ < 0 && errno == EINVAL) fd_ = ::open(path.c_str(), flags, 0600);  // no O_DIRECT here
  if (fd_ < 0) throw device_error(path, "cannot open", errno);
  struct stat st {};
  if (::fstat(fd_, &st) != 0) {
    const int e = errno;
    ::close(fd_);
    throw device_error(path, "cannot stat", e);
  }
  if (S_ISBLK(st.st_mode)) {
    std::uint64_t bytes = 0;
    if (::ioctl(fd_, BLKGETSIZE64, &bytes) != 0) {
      const int e = errno;
      ::close(fd_);
      throw device_error(path, "cannot read the block device size", e);
    }
    size_ = bytes;
  } else {
    size_ = static_cast<std::uint64_t>(st.st_size);
    const std::uint64_t wanted = options.create_bytes / block_bytes * block_bytes;
    if (size_ == 0 && wanted > 0) {
      // Reserve the space now so that a full filesystem shows at creation,
      // not as a failed append later.
      int rc = ::posix_fallocate(fd_, 0, static_cast<off_t>(wanted));
      if (rc == EOPNOTSUPP || rc == EINVAL)
        rc = ::ftruncate(fd_, static_cast<off_t>(wanted)) ? errno : 0;
      if (rc != 0) {
        ::close(fd_);
        throw device_error(path, "cannot allocate " + std::to_string(wanted) + " bytes", rc);
      }
      size_ = wanted;
    }
  }
  size_ = size_ / block_bytes * block_bytes;
  if (size_ == 0) {
    ::close(fd_);
    throw std::runtime_error("chunk device " + path + ": empty (give a size to create it)");
  }
  mode_ = direct ? block_io_mode::pread_direct : block_io_mode::buffered;
  const char* no_uring = std::getenv("CAIRN_NO_IO_URING");
  if (direct && !options.disable_uring && !(no_uring && std::string(no_uring) == "1")) {
    auto r = std::make_unique<uring>();
    r->depth = options.queue_depth == 0 ? 1 : options.queue_depth;
    if (io_uring_queue_init(r->depth, &r->ring, 0) == 0) {
      ring_ = std::move(r);
      mode_ = block_io_mode::uring_direct;
    }
  }
}

file_block_device::~file_block_device() {
  ring_.reset();
  if (fd_ >= 0) ::close(fd_);
}

bool file_block_device::valid(std::uint64_t offset, std::uint64_t length,
                              const void* buffer) const {
  return offset % block_bytes == 0 && length % block_bytes == 0 &&
         reinterpret_cast<std::uintptr_t>(buffer) % block_bytes == 0 && offset <= size_ &&
         length <= size_ - offset;
}

io_result file_block_device::classify(int error) const {
  // A removed backing file or a pulled disk: ENODEV/ENXIO/ESTALE, or EIO on
  // a block device whose queue is dead. Only the first two are unambiguous.
  if (error == ENODEV || error == ENXIO || error == ESTALE) return io_result::gone;
  return io_result::io_error;
}

io_result file_block_device::write(std::span<const chunk::write_request> requests) {
  for (const auto& r : requests)
    if (!valid(r.offset, r.bytes.size(), r.bytes.data())) return io_result::invalid;
  if (!ring_) {
    for (const auto& r : requests) {
      std::uint64_t done = 0;
      while (done < r.bytes.size()) {
        const ssize_t n = ::pwrite(fd_, r.bytes.data() + done, r.bytes.size() - done,
                                   static_cast<off_t>(r.offset + done));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return classify(n < 0 ? errno : EIO);
        done += static_cast<std::uint64_t>(n);
      }
    }
    return io_result::ok;
  }
  // io_uring: submit up to `depth` at a time, wait for all of them; a short
  // write is finished synchronously (rare: O_DIRECT writes of whole blocks).
  io_result result = io_result::ok;
  std::size_t next = 0;
  while (next < requests.size()) {
    unsigned queued = 0;
    while (next < requests.size() && queued < ring_->depth) {
      io_uring_sqe* sqe = io_uring_get_sqe(&ring_->ring);
      if (!sqe) break;
      const auto& r = requests[next];
      io_uring_prep_write(sqe, fd_, r.bytes.data(), static_cast<unsigned>(r.bytes.size()),
                          r.offset);
      io_uring_sqe_set_data64(sqe, next);
      ++next;
      ++queued;
    }
    int rc;
    do rc = io_uring_submit_and_wait(&ring_->ring, queued);
    while (rc == -EINTR);
    if (rc < 0) return classify(-rc);
    for (unsigned done = 0; done < queued; ++done) {
      io_uring_cqe* cqe = nullptr;
      do rc = io_uring_wait_cqe(&ring_->ring, &cqe);
      while (rc == -EINTR);
      if (rc < 0) return classify(-rc);
      const auto& r = requests[io_uring_cqe_get_data64(cqe)];
      const int res = cqe->res;
      io_uring_cqe_seen(&ring_->ring, cqe);
      if (res < 0) {
        if (result == io_result::ok) result = classify(-res);
        continue;
      }
      for (auto written = static_cast<std::uint64_t>(res); written < r.bytes.size();) {
        const ssize_t n = ::pwrite(fd_, r.bytes.data() + written, r.bytes.size() - written,
                                   static_cast<off_t>(r.offset + written));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
          if (result == io_result::ok) result = classify(n < 0 ? errno : EIO);
          break;
        }
        written += static_cast<std::uint64_t>(n);
      }
    }
  }
  return result;
}

io_result file_block_device::read(std::span<chunk::read_request> requests) {
  io_result first = io_result::ok;
  auto note = [&](chunk::read_request& r, io_result res) {
    r.result = res;
    if (first == io_result::ok && res != io_result::ok) first = res;
  };
  auto finish_sync = [&](chunk::read_request& r, std::uint64_t done) {
    while (done < r.bytes.size()) {
      const ssize_t n = ::pread(fd_, r.bytes.data() + done, r.bytes.size() - done,
                                static_cast<off_t>(r.offset + done));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return note(r, classify(n < 0 ? errno : EIO));
      done += static_cast<std::uint64_t>(n);
    }
    note(r, io_result::ok);
  };
  std::vector<std::size_t> pending;
  for (std::size_t i = 0; i < requests.size(); ++i) {
    auto& r = requests[i];
    if (!valid(r.offset, r.bytes.size(), r.bytes.data())) {
      note(r, io_result::invalid);
    } else if (!ring_) {
      finish_sync(r, 0);
    } else {
      pending.push_back(i);
    }
  }
  std::size_t next = 0;
  while (next < pending.size()) {
    unsigned queued = 0;
    while (next < pending.size() && queued < ring_->depth) {
      io_uring_sqe* sqe = io_uring_get_sqe(&ring_->ring);
      if (!sqe) break;
      auto& r = requests[pending[next]];
      io_uring_prep_read(sqe, fd_, r.bytes.data(), static_cast<unsigned>(r.bytes.size()), r.offset);
      io_uring_sqe_set_data64(sqe, pending[next]);
      ++next;
      ++queued;
    }
    int rc;
    do rc = io_uring_submit_and_wait(&ring_->ring, queued);
    while (rc == -EINTR);
    if (rc < 0) {
      for (std::size_t i = next - queued; i < pending.size(); ++i)
        note(requests[pending[i]], classify(-rc));
      return first;
    }
    for (unsigned done = 0; done < queued; ++done) {
      io_uring_cqe* cqe = nullptr;
      do rc = io_uring_wait_cqe(&ring_->ring, &cqe);
      while (rc == -EINTR);
      if (rc < 0) return classify(-rc);
      auto& r = requests[io_uring_cqe_get_data64(cqe)];
      const int res = cqe->res;
      io_uring_cqe_seen(&ring_->ring, cqe);
      if (res < 0)
        note(r, classify(-res));
      else
        finish_sync(r, static_cast<std::uint64_t>(res));  // ok, or finish a short read
    }
  }
  return first;
}

io_result file_block_device::finish_write(const chunk::write_request& r, std::uint64_t written) {
  while (written < r.bytes.size()) {
    const ssize_t n = ::pwrite(fd_, r.bytes.data() + written, r.bytes.size() - written,
                               static_cast<off_t>(r.offset + written));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return classify(n < 0 ? errno : EIO);
    written += static_cast<std::uint64_t>(n);
  }
  return io_result::ok;
}

io_result file_block_device::reap_one() {
  io_uring_cqe* cqe = nullptr;
  int rc;
  do rc = io_uring_wait_cqe(&ring_->ring, &cqe);
  while (rc == -EINTR);
  if (rc < 0) {
    // The ring itself failed: nothing more will complete; the caller
    // treats the device as failed (BD3), so forget what is in flight.
    stream_in_flight_ = 0;
    return classify(-rc);
  }
  const auto slot = io_uring_cqe_get_data64(cqe);
  const int res = cqe->res;
  io_uring_cqe_seen(&ring_->ring, cqe);
  --stream_in_flight_;
  if (res < 0) return classify(-res);
  return finish_write(stream_[slot], static_cast<std::uint64_t>(res));
}

io_result file_block_device::submit_write(const chunk::write_request& request) {
  auto note = [this](io_result r) {
    if (streamed_ == io_result::ok) streamed_ = r;
    return r;
  };
  if (!valid(request.offset, request.bytes.size(), request.bytes.data()))
    return note(io_result::invalid);
  if (!ring_) return note(finish_write(request, 0));
  while (stream_in_flight_ >= ring_->depth) note(reap_one());
  io_uring_sqe* sqe = io_uring_get_sqe(&ring_->ring);
  if (!sqe) return note(finish_write(request, 0));  // no SQE: write it now
  stream_.push_back(request);
  io_uring_prep_write(sqe, fd_, request.bytes.data(), static_cast<unsigned>(request.bytes.size()),
                      request.offset);
  io_uring_sqe_set_data64(sqe, stream_.size() - 1);
  int rc;
  do rc = io_uring_submit(&ring_->ring);
  while (rc == -EINTR);
  if (rc < 0) return note(classify(-rc));
  ++stream_in_flight_;
  return io_result::ok;
}

io_result file_block_device::complete_writes() {
  while (stream_in_flight_ > 0) {
    const auto r = reap_one();
    if (streamed_ == io_result::ok) streamed_ = r;
  }
  stream_.clear();
  const auto r = streamed_;
  streamed_ = io_result::ok;
  return r;
}

io_result file_block_device::sync() {
  if (::fdatasync(fd_) != 0) return classify(errno);
  return io_result::ok;
}

}  // namespace cairn::runtime
