// kbus consume TOPIC: kcat -C (and -G with -g). Records are formatted as soon as a poll returns
// them but written out only after the next poll has confirmed that their batch was intact: a
// consumer whose stdout blocks (a paused reader on a pipe) for longer than
// consumer.hold.timeout.ms is detached, and the library then reports that batch as invalidated
// with the offset to resume from. The CLI drops what it had formatted of it, seeks there and
// goes on, as kcat does, so each record is printed once and never from reused ring bytes.
#include <csignal>
#include <cstdio>
#include <kbus/kbus.hpp>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "cli/record_format.hpp"
#include "commands.hpp"
#include "consume_options.hpp"

using namespace std::chrono_literals;

namespace kbus::cli {
namespace {

volatile std::sig_atomic_t g_stop = 0;

// SIGINT and SIGTERM end the loop after the current poll, so that a group member commits and
// leaves instead of dying. No SA_RESTART: a write blocked on a full pipe returns, and the loop
// sees the flag.
void stop_on_signals() {
    struct sigaction sa {};
    sa.sa_handler = [](int) { g_stop = 1; };
    ::sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;
    ::sigaction(SIGINT, &sa, nullptr);
    ::sigaction(SIGTERM, &sa, nullptr);
}

// With -g the CLI commits exactly what it printed (with -c it may stop inside a batch): the
// offset after each partition's last printed record, after each batch written, on a rebalance
// (before the partitions move on) and at the end.
class PrintedOffsets : public RebalanceListener {
  public:
    void printed(const group::TopicPartition& tp, std::int64_t offset) {
        offsets_[tp] = offset + 1;
    }
    void commit(Consumer& c) {
        if (offsets_.empty()) return;
        c.commit_sync({offsets_.begin(), offsets_.end()});
        offsets_.clear();
    }
    void on_partitions_revoked(Consumer& c, const std::vector<group::TopicPartition>&) override {
        try {
            commit(c);
        } catch (const Error&) {  // fenced: the new owner starts at the last commit
        }
        offsets_.clear();
    }
    // Lost (no longer a member): after a daemon restart the commit slots may still take the
    // commit; after a rebalance they refuse it.
    void on_partitions_lost(Consumer& c, const std::vector<group::TopicPartition>& p) override {
        on_partitions_revoked(c, p);
    }

  private:
    std::map<group::TopicPartition, std::int64_t> offsets_;
};

// Records formatted from the last poll, not yet known to be intact.
struct Pending {
    struct Record {
        group::TopicPartition tp;
        std::int64_t offset;
        std::string text;
    };
    std::vector<Record> records;

    // The detached partition's records from `resume` on were read from reused bytes, maybe.
    // Returns how many were dropped.
    std::size_t drop(const OffsetOutOfRange& e) {
        return std::erase_if(records, [&](const Record& r) {
            return r.tp.partition == e.partition() && r.tp.topic == e.topic() &&
                   r.offset >= e.resume_offset();
        });
    }
};

class ConsumeLoop {
  public:
    ConsumeLoop(Client& c, const ConsumeOptions& o) : o_(o), fmt_(unescape(o.format)) {
        ConsumerOptions options;
        options.isolation_level = o.isolation;
        if (o.grouped()) {
            options.group_id = o.group;
            options.client_id = "kbus-cli";
            options.auto_offset_reset =
                o.group_from_end ? OffsetReset::latest : OffsetReset::earliest;
            options.enable_auto_commit = false;  // PrintedOffsets commits what was printed
        }
        options.rebalance_listener = &printed_;
        con_.emplace(c, options);
        start(c);
    }

    int run() {
        while (g_stop == 0 && !(done_ && pending_.records.empty())) {
            const Batch* batch = confirm(pending_.records.empty() ? 100ms : 0ms);
            if (batch == nullptr) continue;
            write_pending();
            if (done_) continue;  // -c COUNT reached: only the confirmation was wanted
            for (const Message& m : *batch)
                if (!take(m)) break;
            const bool ready = !o_.grouped() || con_->in_group();
            if (o_.exit_at_end && batch->empty() && pending_.records.empty() && ready &&
                con_->at_end())
                break;
        }
        finish();
        if (losses_ == 0) return 0;
        std::fprintf(stderr, "kbus: %d damaged range%s of records could not be read (see above)\n",
                     losses_, losses_ == 1 ? "" : "s");
        return 1;
    }

  private:
    void start(Client& c) {
        if (o_.grouped()) return con_->subscribe(o_.topic);
        std::vector<std::int32_t> partitions;
        if (o_.partition) {
            partitions.push_back(*o_.partition);
        } else {
            const std::int32_t n = c.describe_topic(o_.topic).metadata.partitions;
            for (std::int32_t p = 0; p < n; ++p)
                partitions.push_back(p);
        }
        for (const std::int32_t p : partitions)
            con_->assign(o_.topic, p, start_offset(c, p));
    }

    // kcat's -o -N: N records before each partition's end (not before its log start).
    OffsetSpec start_offset(Client& c, std::int32_t partition) {
        if (!o_.from_end) return o_.from;
        for (const auto& p : c.describe_topic(o_.topic).partitions)
            if (p.partition == partition)
                return OffsetSpec::at(
                    std::max(p.log_start_offset, p.high_watermark - *o_.from_end));
        return OffsetSpec::end();
    }

    // A poll that also confirms the previous batch; nullptr when that batch was invalidated
    // (what was formatted of it is dropped, and its partition goes on from the resume offset).
    const Batch* confirm(std::chrono::milliseconds timeout) {
        try {
            return &con_->poll(timeout);
        } catch (const OffsetOutOfRange& e) {
            if (e.code() == ErrorCode::corrupt_record) return report_loss(e);
            if (e.code() != ErrorCode::batch_invalidated) throw;
            taken_ -= (long long)pending_.drop(e);
            done_ = o_.count >= 0 && taken_ >= o_.count;
            std::fprintf(stderr,
                         "kbus: %s/%d was detached (its output was blocked longer than "
                         "consumer.hold.timeout.ms); going on from offset %lld\n",
                         e.topic().c_str(), e.partition(), (long long)e.resume_offset());
            con_->seek(e.topic(), e.partition(), OffsetSpec::at(e.resume_offset()));
            return nullptr;
        }
    }

    // Records lost to damage (a corrupt batch, a log cut back under the ring): said on stderr,
    // then on past them, as the consumer's position already is; the exit status says so at the
    // end. The batch before the loss was confirmed by the poll that threw (it checks first).
    const Batch* report_loss(const OffsetOutOfRange& e) {
        write_pending();
        // The library's message names the offsets and where reading resumes.
        std::fprintf(stderr, "kbus: %s\n", e.what());
        ++losses_;
        return nullptr;
    }

    // Formats one record into pending; false once -c COUNT records were taken.
    bool take(const Message& m) {
        Pending::Record r{{std::string(m.topic()), m.partition()}, m.offset(), {}};
        format_record(fmt_, m, r.text);
        pending_.records.push_back(std::move(r));
        if (++taken_ == o_.count) done_ = true;
        return !done_;
    }

    void write_pending() {
        for (const auto& r : pending_.records) {
            std::fwrite(r.text.data(), 1, r.text.size(), stdout);
            if (o_.grouped()) printed_.printed(r.tp, r.offset);
        }
        if (pending_.records.empty()) return;
        std::fflush(stdout);
        pending_.records.clear();
        // A member's commit of its own partitions is a compare-and-swap in their rings, cheap
        // enough for every batch: the group's lag then reads 0 once the output caught up.
        if (o_.grouped()) printed_.commit(*con_);
    }

    // After a signal, what was not confirmed is neither printed nor committed.
    void finish() {
        if (o_.grouped()) printed_.commit(*con_);
        con_->close();  // leaves the group
    }

    const ConsumeOptions& o_;
    std::string fmt_;
    PrintedOffsets printed_;
    std::optional<Consumer> con_;
    Pending pending_;
    long long taken_ = 0;
    int losses_ = 0;
    bool done_ = false;
};

}  // namespace

int consume_command(Client& c, Args& a) {
    const ConsumeOptions o = parse_consume_options(a);
    stop_on_signals();
    ConsumeLoop loop(c, o);
    return loop.run();
}

}  // namespace kbus::cli
