// A transactional Producer's side of its open transaction: whether one is open, which partitions
// it joined (their record attributes carry the transactional bit from the first send there on),
// and whether it carries a group's offsets. No I/O: the Producer asks the daemon.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "kbus/error.hpp"
#include "kbus/ring_descriptor.hpp"

namespace kbus::detail {

class ProducerTransaction {
  public:
    ProducerTransaction() = default;
    /// The transaction goes with the move: the moved-from Producer has none to abort.
    ProducerTransaction(ProducerTransaction&& o) noexcept
        : open_(std::exchange(o.open_, false)),
          offsets_(std::exchange(o.offsets_, false)),
          joined_(std::exchange(o.joined_, {})) {}
    ProducerTransaction& operator=(ProducerTransaction&& o) noexcept {
        open_ = std::exchange(o.open_, false);
        offsets_ = std::exchange(o.offsets_, false);
        joined_ = std::exchange(o.joined_, {});
        return *this;
    }
    [[nodiscard]] bool open() const noexcept { return open_; }
    void begin(bool transactional) {
        if (!transactional)
            throw Error(ErrorCode::invalid_txn_state,
                        "begin_transaction: the producer has no transactional_id");
        if (open_) throw Error(ErrorCode::invalid_txn_state, "begin_transaction: one is open");
        open_ = true;
    }
    /// Throws Error(invalid_txn_state) naming `what` when none is open.
    void require_open(const char* what) const {
        if (!open_)
            throw Error(ErrorCode::invalid_txn_state,
                        std::string(what) + ": no transaction was begun (begin_transaction)");
    }
    /// A partition's first send in it: the daemon was told; its records carry the bit now.
    /// `attributes` is the producer's entry for the partition, which outlives the transaction.
    std::uint16_t joined(std::uint16_t& attributes) {
        attributes |= ring::transactional_attribute;
        joined_.push_back(&attributes);
        return attributes;
    }
    void offsets_sent() noexcept { offsets_ = true; }
    /// A group's offsets go with it: the daemon, which commits them, decides its end.
    [[nodiscard]] bool carries_offsets() const noexcept { return offsets_; }
    /// Over on this side, whatever the daemon answers next. True: the daemon has something to
    /// end (partitions joined, or offsets); an empty transaction ends here.
    [[nodiscard]] bool close() noexcept {
        const bool any = !joined_.empty() || offsets_;
        for (std::uint16_t* a : joined_)
            *a &= std::uint16_t(~ring::transactional_attribute);
        joined_.clear();
        offsets_ = false;
        open_ = false;
        return any;
    }

  private:
    bool open_ = false;
    bool offsets_ = false;
    std::vector<std::uint16_t*> joined_;
};

}  // namespace kbus::detail
