// gateways/common/write_back.h — the bytes a file gateway holds for one file
// until it commits them to the namespace: the NFS gateway's UNSTABLE WRITEs
// (docs/nfs.md "Write-back") and the FUSE client's writes before close or
// fsync (docs/fuse.md). Pure: no I/O, no locks; the gateway owns one per
// file with dirty data, under that file's lock.
//
// Owner: nfs_server (gateways/nfs/server.cpp), mount_fs
// (gateways/fuse/mount_fs.cpp); commit_dirty (file_data.h) commits one.
//
// Invariants:
//  WB1. Extents are disjoint and never adjacent: two writes that touch or
//       overlap are one extent; a later write's bytes win where they overlap.
//  WB2. bytes() is the sum of the extents' lengths.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cairn::gateway {

class dirty_file {
 public:
  /// One run of bytes, at its offset in the file.
  using extent = std::pair<std::uint64_t, std::string>;

  /// Holds `data` at `offset` (WB1).
  void write(std::uint64_t offset, std::string_view data);

  bool empty() const { return extents_.empty(); }
  std::uint64_t bytes() const { return bytes_; }
  /// One past the last dirty byte; 0 when empty.
  std::uint64_t end() const;

  /// Copies the dirty bytes of [first, first + out.size()) over `out`.
  void overlay(std::uint64_t first, std::span<char> out) const;

  /// The slots [k·slot, (k+1)·slot) wholly dirty, in order.
  std::vector<std::uint64_t> full_slots(std::uint64_t slot_bytes) const;

  /// Runs of consecutive slots that hold dirty bytes, as [first, last]
  /// slot index pairs in order: what one commit each writes.
  std::vector<std::pair<std::uint64_t, std::uint64_t>> slot_runs(std::uint64_t slot_bytes) const;

  /// The dirty bytes in [from, to), cut at the edges and removed.
  std::vector<extent> take(std::uint64_t from, std::uint64_t to);

  const std::map<std::uint64_t, std::string>& extents() const { return extents_; }

  /// Checks WB1 and WB2; aborts naming the broken one.
  void check() const;

 private:
  std::map<std::uint64_t, std::string> extents_;  // by offset
  std::uint64_t bytes_ = 0;
};

}  // namespace cairn::gateway
