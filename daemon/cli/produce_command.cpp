// kbus produce TOPIC: one record per stdin line, as kcat -P.
#include <cstdio>
#include <cstdlib>
#include <kbus/kbus.hpp>
#include <optional>
#include <string>
#include <vector>

#include "cli/progress_line.hpp"
#include "cli/record_format.hpp"
#include "commands.hpp"

namespace kbus::cli {

namespace {

struct ProduceFlags {
    std::string delim;
    std::optional<std::int32_t> partition;
    std::vector<Header> headers;
    ProducerOptions options;
    bool abort_at_end = false;
    bool empty_is_null = false;  // -Z
};

ProduceFlags parse_produce_flags(Args& a) {
    ProduceFlags p;
    while (a.more()) {
        const std::string f = a.next("flag");
        if (f == "-K") {
            p.delim = unescape(a.next("key delimiter after -K"));
            if (p.delim.empty()) a.error("-K needs a delimiter (an empty one would split nothing)");
        } else if (f == "-p") {
            p.partition = std::int32_t(a.number(f, 0, 0x7fffffff));
        } else if (f == "--exclusive") {
            p.options.exclusive = true;
        } else if (f == "--transactional-id") {
            p.options.transactional_id = a.next("an id after --transactional-id");
            if (p.options.transactional_id.empty()) a.error("--transactional-id needs an id");
        } else if (f == "-Z") {
            p.empty_is_null = true;
        } else if (f == "--abort") {
            p.abort_at_end = true;
        } else if (f == "-H") {
            const std::string kv = a.next("KEY=VALUE after -H");
            const auto eq = kv.find('=');
            if (eq == std::string::npos)
                p.headers.push_back({kv, std::nullopt});
            else
                p.headers.push_back({kv.substr(0, eq), kv.substr(eq + 1)});
        } else {
            a.unknown_flag(f);
        }
    }
    if (p.abort_at_end && p.options.transactional_id.empty())
        a.error("--abort needs --transactional-id (it aborts the transaction at the end)");
    return p;
}

// A record the bus refuses on its own merits (Kafka's per-record errors); anything else (the
// daemon gone, a fenced producer, a full ring past max.block) ends the input.
bool refused_record(const Error& e) {
    return e.code() == ErrorCode::invalid_record || e.code() == ErrorCode::message_too_large;
}

// One line as a record: key DELIM value with -K, else the whole line as the value.
void send_line(Producer& p, const std::string& topic, std::string_view line,
               const ProduceFlags& flags, const SendOptions& o) {
    const auto at = flags.delim.empty() ? std::string_view::npos : line.find(flags.delim);
    const BytesView key = at == std::string_view::npos ? BytesView() : line.substr(0, at);
    const std::string_view value =
        at == std::string_view::npos ? line : line.substr(at + flags.delim.size());
    (void)p.send(topic, key, flags.empty_is_null && value.empty() ? BytesView() : value, o);
}

}  // namespace

int produce_command(Client& c, Args& a) {
    const std::string topic = a.next("topic");
    const ProduceFlags flags = parse_produce_flags(a);
    const ProducerOptions& options = flags.options;
    const bool abort_at_end = flags.abort_at_end;
    std::vector<HeaderView> views;
    for (const auto& h : flags.headers)
        views.push_back(h.view());
    // Before stdin is read: an unknown topic is said at once, even with nothing to send (the
    // daemon makes it here when auto.create.topics.enable is on, as a first send would).
    (void)c.topic(topic);
    Producer p(c, options);
    SendOptions o;
    o.headers = views;
    o.partition = flags.partition;
    ProgressLine progress("producing to " + topic);
    const bool transactional = !options.transactional_id.empty();
    if (transactional) p.begin_transaction();  // the whole input is one transaction
    // POSIX getline on stdio's buffer: std::getline on a stdio-synced std::cin goes a character
    // at a time, which held kbus produce to 100k records/s of 1 KiB.
    char* buffer = nullptr;
    std::size_t capacity = 0;
    std::uint64_t line_number = 0, refused = 0;
    for (ssize_t n; (n = ::getline(&buffer, &capacity, stdin)) >= 0;) {
        std::string_view line(buffer, std::size_t(n));
        if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
        ++line_number;
        try {
            send_line(p, topic, line, flags, o);
        } catch (const Error& e) {
            if (transactional && refused_record(e))
                std::fprintf(stderr,
                             "kbus produce: line %llu refused, so the transaction is aborted\n",
                             static_cast<unsigned long long>(line_number));
            if (transactional || !refused_record(e)) {
                std::free(buffer);
                throw;  // a transaction is all or nothing: the producer's end aborts it
            }
            ++refused;
            std::fprintf(stderr, "kbus produce: line %llu not sent: %s\n",
                         static_cast<unsigned long long>(line_number), e.what());
            continue;
        }
        progress.add(line.size());
    }
    std::free(buffer);
    if (transactional && abort_at_end)
        p.abort_transaction();
    else if (transactional)
        p.commit_transaction();
    progress.finish();
    std::fprintf(stderr, "produced %llu records to %s%s\n",
                 static_cast<unsigned long long>(progress.records()), topic.c_str(),
                 !transactional ? ""
                 : abort_at_end ? " in a transaction, aborted"
                                : " in a transaction, committed");
    if (refused == 0) return 0;
    std::fprintf(stderr, "kbus produce: %llu line(s) refused\n",
                 static_cast<unsigned long long>(refused));
    return 1;
}

}  // namespace kbus::cli
