// A progress line for long CLI work (`kbus produce` from a big file): records, bytes and the
// rate, redrawn in place on stderr twice a second, only when stderr is a terminal; nothing at
// all otherwise, so that scripts and pipes see only the command's own output.
#pragma once

#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace kbus::cli {

class ProgressLine {
  public:
    explicit ProgressLine(std::string what, bool enabled = ::isatty(STDERR_FILENO) != 0)
        : what_(std::move(what)), enabled_(enabled), start_(Clock::now()), next_draw_(start_) {}

    // Counts one record of `bytes`; redraws when it is time (a clock read per 1024 records).
    void add(std::uint64_t bytes) {
        ++records_;
        bytes_ += bytes;
        if (enabled_ && (records_ & 1023) == 0 && Clock::now() >= next_draw_) draw();
    }

    // The last figures, and the line ended (so that what follows starts on its own line).
    void finish() {
        if (!enabled_ || records_ == 0) return;
        draw();
        std::fputc('\n', stderr);
    }

    [[nodiscard]] std::uint64_t records() const noexcept { return records_; }
    [[nodiscard]] std::uint64_t bytes() const noexcept { return bytes_; }

  private:
    using Clock = std::chrono::steady_clock;
    void draw() {
        const auto now = Clock::now();
        const double seconds = std::chrono::duration<double>(now - start_).count();
        const double rate = seconds > 0 ? double(records_) / seconds : 0;
        std::fprintf(stderr, "\r%s: %llu records, %.1f MB, %.0f records/s   ", what_.c_str(),
                     static_cast<unsigned long long>(records_), double(bytes_) / 1e6, rate);
        std::fflush(stderr);
        next_draw_ = now + std::chrono::milliseconds(500);
    }

    std::string what_;
    bool enabled_;
    Clock::time_point start_, next_draw_;
    std::uint64_t records_ = 0;
    std::uint64_t bytes_ = 0;
};

}  // namespace kbus::cli
