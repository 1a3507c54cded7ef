// tests/actors/repair/repair_actor_test.cpp — the repair actor
// (actors/repair/repair_actor.h) over seven real device actors on simulated
// devices holding sealed RS 4+2 stripes: a device is lost and shards are
// corrupted; one pass rebuilds every stripe to full redundancy on the
// devices placement chooses (RA1), a stripe being deleted is left alone
// (RA2), and every chunk still decodes to its plaintext afterwards.
#include "actors/repair/repair_actor.h"

#include <gtest/gtest.h>

#include <random>

#include "actors/chunk/device_actor.h"
#include "actors/chunk/stripe_codec.h"
#include "sim/sim_block_device.h"

namespace cairn::repair {
namespace {

constexpr std::uint32_t device_count = 7;
constexpr std::uint32_t width = 6;

class RepairActor : public ::testing::Test {
 protected:
  void SetUp() override {
    std::vector<std::uint8_t> bytes(32, 7);
    dedup_key_ = keys::secret_bytes::copy_of(bytes);
    bytes.assign(32, 9);
    data_key_ = keys::secret_bytes::copy_of(bytes);
    for (std::uint32_t d = 0; d < device_count; ++d) {
      blocks_.push_back(std::make_unique<sim::sim_block_device>(32 << 20, d + 1));
      indexes_.push_back(std::make_unique<chunk::memory_chunk_index>());
      chunk::format_options f;
      f.segment_bytes = 1 << 20;
      f.device_id = d;
      auto opened = chunk::device_store::open(*blocks_[d], *indexes_[d], {}, f);
      ASSERT_TRUE(std::holds_alternative<std::unique_ptr<chunk::device_store>>(opened));
      stores_.push_back(std::move(std::get<std::unique_ptr<chunk::device_store>>(opened)));
      actors_.push_back(sys_.spawn<caf::detached>(chunk::device_actor, stores_[d],
                                                  chunk::device_actor_options{}));
    }
    shared_ = std::make_shared<repair_shared>();
    shared_->on_event = [this](const std::string& kind, const std::string&) {
      std::lock_guard lock(events_mutex_);
      events_.push_back(kind);
    };
    repairer_ = sys_.spawn<caf::detached>(repair_actor, shared_);
  }
  void TearDown() override {
    shared_->stop = true;
    self_->send_exit(repairer_, caf::exit_reason::user_shutdown);
    self_->wait_for(repairer_);
    for (auto& a : actors_)
      if (a) lose(a);
  }
  /// Closes the device (owners must, before releasing its storage), then
  /// stops its actor: as far as repair can tell, the disk is gone.
  void lose(caf::actor& a) {
    call(a, caf::make_message(chunk::close_atom::value));
    self_->send_exit(a, caf::exit_reason::user_shutdown);
    self_->wait_for(a);
    a = caf::actor{};
  }

  placement::cluster_view view() const {
    placement::cluster_view v;
    for (std::uint32_t d = 0; d < device_count; ++d)
      v.devices.push_back(
          {placement::device_id{d}, placement::node_id{d}, 32 << 20, 16 << 20,
           actors_[d] ? placement::device_state::in : placement::device_state::failed});
    return v;
  }
  void publish_devices() {
    auto list = std::make_shared<std::vector<repair_device>>();
    for (std::uint32_t d = 0; d < device_count; ++d)
      list->push_back({placement::device_id{d}, placement::node_id{d}, actors_[d], 32 << 20,
                       16 << 20,
                       actors_[d] ? placement::device_state::in : placement::device_state::failed});
    self_->send(repairer_, repair_devices_atom::value, repair_devices{std::move(list)});
  }
  chunk::shard_key key_of(const keys::chunk_id& id, std::uint32_t index) const {
    return {id, static_cast<std::uint32_t>(chunk::scheme_id::rs_4_2), index};
  }
  std::uint8_t call(const caf::actor& a, caf::message m) {
    std::uint8_t out = 255;
    self_->request(a, caf::infinite, std::move(m))
        .receive([&](std::uint8_t s) { out = s; }, [&](caf::error&) {});
    return out;
  }
  /// Writes a chunk where placement puts it; returns its id.
  keys::chunk_id write(const std::vector<std::uint8_t>& plain) {
    const auto id = keys::chunk_id_of(dedup_key_, plain);
    const auto key = keys::derive_chunk_key(data_key_, id, key_of(id, 0).scheme);
    const auto shards = chunk::encode_stripe(coder_, key, {id, 1}, plain);
    placement::stripe_key sk;
    sk.bytes = id;
    const auto placed = placement::place(view(), sk, width);
    EXPECT_TRUE(placed.ok());
    for (std::uint32_t i = 0; i < width; ++i)
      EXPECT_EQ(call(actors_[placed.value[i].value],
                     caf::make_message(chunk::put_atom::value,
                                       chunk::encode_shard_key(key_of(id, i)), std::uint64_t{1},
                                       std::string(shards[i].begin(), shards[i].end()))),
                0);
    return id;
  }
  /// Where each shard of `id` is live, by index (device numbers).
  std::vector<std::vector<std::uint32_t>> locate(const keys::chunk_id& id) {
    std::vector<std::vector<std::uint32_t>> where(width);
    for (std::uint32_t d = 0; d < device_count; ++d) {
      if (!actors_[d]) continue;
      for (std::uint32_t i = 0; i < width; ++i)
        if (call(actors_[d], caf::make_message(chunk::stat_atom::value,
                                               chunk::encode_shard_key(key_of(id, i)))) ==
            static_cast<std::uint8_t>(chunk::shard_state::live))
          where[i].push_back(d);
    }
    return where;
  }
  /// Reads every shard from where it lives and decodes.
  std::optional<std::vector<std::uint8_t>> read(const keys::chunk_id& id, std::size_t bytes) {
    std::vector<std::optional<std::vector<std::uint8_t>>> shards(width);
    const auto where = locate(id);
    for (std::uint32_t i = 0; i < width; ++i) {
      if (where[i].empty()) continue;
      self_
          ->request(actors_[where[i][0]], caf::infinite, chunk::get_atom::value,
                    chunk::encode_shard_key(key_of(id, i)))
          .receive(
              [&](std::uint8_t s, const std::string& b, std::uint64_t) {
                if (s == 0) shards[i] = std::vector<std::uint8_t>(b.begin(), b.end());
              },
              [&](caf::error&) {});
    }
    const auto key = keys::derive_chunk_key(data_key_, id, key_of(id, 0).scheme);
    return chunk::decode_stripe(coder_, key, {id, 1}, bytes, shards);
  }
  repair_status run_pass() {
    const auto before = shared_->snapshot().passes_finished;
    self_->send(repairer_, repair_start_atom::value);
    for (int i = 0; i < 3000 && shared_->snapshot().passes_finished == before; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    return shared_->snapshot();
  }

  caf::actor_system_config cfg_;
  caf::actor_system sys_{cfg_};
  caf::scoped_actor self_{sys_};
  keys::secret_bytes dedup_key_, data_key_;
  chunk::erasure_coder coder_{
      *chunk::scheme_by_id(static_cast<std::uint32_t>(chunk::scheme_id::rs_4_2))};
  std::vector<std::unique_ptr<sim::sim_block_device>> blocks_;
  std::vector<std::unique_ptr<chunk::memory_chunk_index>> indexes_;
  std::vector<std::shared_ptr<chunk::device_store>> stores_;
  std::vector<caf::actor> actors_;
  std::shared_ptr<repair_shared> shared_;
  caf::actor repairer_;
  std::mutex events_mutex_;
  std::vector<std::string> events_;
};

TEST_F(RepairActor, LostDeviceAndCorruptShardsComeBackToFullRedundancy) {
  std::mt19937_64 rng(4);
  std::vector<keys::chunk_id> ids;
  std::vector<std::vector<std::uint8_t>> plains;
  for (int c = 0; c < 40; ++c) {
    std::vector<std::uint8_t> plain(1 + rng() % 50'000);
    for (auto& b : plain) b = static_cast<std::uint8_t>(rng());
    ids.push_back(write(plain));
    plains.push_back(std::move(plain));
  }
  publish_devices();
  auto healthy = run_pass();
  EXPECT_EQ(healthy.progress.stripes_seen, 40u);
  EXPECT_EQ(healthy.progress.stripes_healthy, 40u);
  EXPECT_EQ(healthy.progress.shards_rebuilt, 0u);
  EXPECT_EQ(healthy.slices_done, repair_status::slices);

  // Corrupt one shard in each of 5 stripes (flip, then a read marks it).
  std::uint64_t corrupted = 0;
  for (int c = 0; c < 5; ++c) {
    const auto where = locate(ids[c]);
    const auto d = where[1][0];
    const auto entry = indexes_[d]->get(key_of(ids[c], 1));
    ASSERT_TRUE(entry);
    blocks_[d]->flip_bit(entry->data_offset + chunk::record_header_bytes, 0);
    self_
        ->request(actors_[d], caf::infinite, chunk::get_atom::value,
                  chunk::encode_shard_key(key_of(ids[c], 1)))
        .receive([&](std::uint8_t s, const std::string&, std::uint64_t) { corrupted += s == 2; },
                 [](caf::error&) {});
  }
  EXPECT_EQ(corrupted, 5u);
  // Lose device 3: its actor goes, as for a disk pulled out.
  std::uint64_t on_lost = 0;
  for (const auto& id : ids)
    for (const auto& w : locate(id))
      for (auto d : w) on_lost += d == 3;
  ASSERT_GT(on_lost, 0u);
  lose(actors_[3]);
  publish_devices();

  const auto repaired = run_pass();
  EXPECT_EQ(repaired.progress.stripes_seen, 40u);
  EXPECT_EQ(repaired.progress.stripes_unrecoverable, 0u);
  EXPECT_EQ(repaired.progress.shards_rebuilt, on_lost + 5) << repaired.progress.render();
  EXPECT_EQ(repaired.rebuild_failures, 0u);
  for (std::size_t c = 0; c < ids.size(); ++c) {
    const auto where = locate(ids[c]);
    std::set<std::uint32_t> devices;
    for (std::uint32_t i = 0; i < width; ++i) {
      ASSERT_EQ(where[i].size(), 1u) << "chunk " << c << " shard " << i;
      devices.insert(where[i][0]);
    }
    EXPECT_EQ(devices.size(), width) << "two shards of chunk " << c << " on one device";
    const auto got = read(ids[c], plains[c].size());
    ASSERT_TRUE(got && *got == plains[c]) << "chunk " << c;
  }
  const auto again = run_pass();
  EXPECT_EQ(again.progress.stripes_healthy, 40u) << again.progress.render();
  std::lock_guard lock(events_mutex_);
  EXPECT_EQ(std::count(events_.begin(), events_.end(), "repair_pass_finished"), 3);
}

TEST_F(RepairActor, AStripeBeingDeletedIsNeverRebuilt) {
  std::vector<std::uint8_t> plain(10'000, 0x5a);
  const auto id = write(plain);
  // Half deleted: shard 0 in the recycle bin, shard 1 lost with its device.
  const auto where = locate(id);
  ASSERT_EQ(call(actors_[where[0][0]], caf::make_message(chunk::delete_atom::value,
                                                         chunk::encode_shard_key(key_of(id, 0)))),
            0);
  const auto lost = where[1][0];
  lose(actors_[lost]);
  publish_devices();
  const auto s = run_pass();
  EXPECT_EQ(s.progress.shards_rebuilt, 0u);
  const auto after = locate(id);
  EXPECT_TRUE(after[1].empty()) << "a shard of a stripe being deleted was rebuilt";
}

}  // namespace
}  // namespace cairn::repair
