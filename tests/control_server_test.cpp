// ControlServer, kbusd's control socket, with fake handlers and raw clients: framing
// (protocol.hpp), replies in order with their error code and message, connections that survive
// errors but not broken framing, connection ids, the tick between requests, and stopping.
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <fstream>
#include <future>
#include <mutex>
#include <optional>
#include <thread>

#include "control_server.hpp"
#include "unit_bus.hpp"

using namespace kbus;
using namespace kbus::testing;
using namespace std::chrono_literals;
namespace protocol = kbus::protocol;

namespace {

// Request types the fake handler knows.
constexpr std::uint16_t echo = 1;      // replies "echo:" + payload
constexpr std::uint16_t refuse = 2;    // throws Error(invalid_argument, "bad request: " + payload)
constexpr std::uint16_t crash = 3;     // throws std::runtime_error("boom")
constexpr std::uint16_t who_am_i = 4;  // replies the connection id
constexpr auto patience = std::chrono::seconds(20);  // only a broken server waits this long

std::string frame(std::uint16_t type, std::uint32_t request_id, const std::string& payload,
                  std::uint16_t version = 1) {
    const protocol::FrameHeader h{std::uint32_t(payload.size()), type, version, request_id, 0};
    std::string out(reinterpret_cast<const char*>(&h), sizeof h);
    return out + payload;
}

struct Reply {
    protocol::FrameHeader header{};
    ErrorCode code = ErrorCode::ok;
    std::string message;
    std::string body;
};

struct Client {
    int fd = -1;
    explicit Client(const std::string& path) {
        fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        REQUIRE(fd >= 0);
        timeval tv{20, 0};  // a reply that never comes fails the test instead of hanging it
        ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
        REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    }
    ~Client() { close(); }
    void close() {
        if (fd >= 0) ::close(fd);
        fd = -1;
    }
    // All of `bytes` (no Catch2 assertion inside: callable from another thread).
    [[nodiscard]] bool send_all(const std::string& bytes) const {
        std::size_t sent = 0;
        while (sent < bytes.size()) {
            const ssize_t n = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
            if (n <= 0) return false;
            sent += std::size_t(n);
        }
        return true;
    }
    void send(const std::string& bytes) const { REQUIRE(send_all(bytes)); }
    // Exactly n bytes, or fewer if the server closed the connection.
    std::string read(std::size_t n) const {
        std::string out(n, '\0');
        std::size_t got = 0;
        while (got < n) {
            const ssize_t r = ::recv(fd, out.data() + got, n - got, 0);
            if (r == 0) break;
            REQUIRE(r > 0);  // fails on the receive timeout too
            got += std::size_t(r);
        }
        out.resize(got);
        return out;
    }
    // The next reply frame, or nullopt when the server closed the connection.
    std::optional<Reply> reply() const {
        const std::string head = read(protocol::frame_header_bytes);
        if (head.empty()) return std::nullopt;
        REQUIRE(head.size() == protocol::frame_header_bytes);
        Reply r;
        std::memcpy(&r.header, head.data(), sizeof r.header);
        const std::string payload = read(r.header.payload_length);
        REQUIRE(payload.size() == r.header.payload_length);
        protocol::Reader in(payload);
        r.code = ErrorCode(in.u16());
        r.message = in.str();
        r.body = payload.substr(payload.size() - in.remaining());
        return r;
    }
};

struct Server {
    TempDir dir;
    LogLines log;
    std::string path;
    std::atomic<int> ticks{0};
    std::mutex mutex;
    std::condition_variable changed;
    std::vector<std::uint32_t> closed;
    std::vector<std::uint32_t> served;  // the connection of every request, in order
    kbusd::ControlServer server;
    std::atomic<bool> stop{false};
    std::future<void> serving;

    explicit Server(const std::string& name)
        : dir("server-" + name, true),
          path(dir.path + "/kbus.sock"),
          server(path, handlers(), log.sink()) {
        REQUIRE(server.listen());
        serving = std::async(std::launch::async, [this] { server.serve(stop); });
    }
    ~Server() { halt(); }

    // Stops serve(); true if it returned.
    bool halt() {
        stop = true;
        if (!serving.valid()) return true;
        const bool returned = serving.wait_for(patience) == std::future_status::ready;
        if (returned) serving.get();
        return returned;
    }

    kbusd::ControlServerHandlers handlers() {
        kbusd::ControlServerHandlers h;
        h.answer = [this](protocol::RequestType type, std::string_view payload,
                          std::uint32_t connection) -> std::string {
            {
                std::lock_guard lock(mutex);
                served.push_back(connection);
            }
            switch (std::uint16_t(type)) {
                case echo:
                    return "echo:" + std::string(payload);
                case refuse:
                    throw Error(ErrorCode::invalid_argument,
                                "bad request: " + std::string(payload));
                case crash:
                    throw std::runtime_error("boom");
                case who_am_i:
                    return std::to_string(connection);
            }
            throw Error(ErrorCode::unsupported, "no such request");
        };
        h.closed = [this](std::uint32_t connection) {
            std::lock_guard lock(mutex);
            closed.push_back(connection);
            changed.notify_all();
        };
        h.tick = [this] {
            ++ticks;
            return std::chrono::milliseconds(20);
        };
        return h;
    }

    // Waits until `connection` was reported closed.
    bool saw_closed(std::uint32_t connection) {
        std::unique_lock lock(mutex);
        return changed.wait_for(lock, patience, [&] {
            return std::find(closed.begin(), closed.end(), connection) != closed.end();
        });
    }
    std::size_t closed_count() {
        std::lock_guard lock(mutex);
        return closed.size();
    }
};

std::uint32_t connection_id(const Client& c) {
    c.send(frame(who_am_i, 1, ""));
    const std::optional<Reply> r = c.reply();
    REQUIRE(r);
    return std::uint32_t(std::stoul(r->body));
}

}  // namespace

TEST_CASE("replies come in request order, each with its error code and message",
          "[control-server]") {
    Server s("order");
    Client c(s.path);
    c.send(frame(echo, 10, "a") + frame(refuse, 11, "x") + frame(crash, 12, "", 3) +
           frame(echo, 13, "b") + frame(99, 14, "?"));
    struct Expected {
        std::uint16_t type;
        std::uint32_t id;
        ErrorCode code;
        std::string message, body;
        std::uint16_t version;
    };
    const std::vector<Expected> expected{
        {echo, 10, ErrorCode::ok, "", "echo:a", 1},
        {refuse, 11, ErrorCode::invalid_argument, "bad request: x", "", 1},
        {crash, 12, ErrorCode::unknown, "boom", "", 3},
        {echo, 13, ErrorCode::ok, "", "echo:b", 1},
        {99, 14, ErrorCode::unsupported, "no such request", "", 1},
    };
    for (const Expected& e : expected) {
        const std::optional<Reply> r = c.reply();
        REQUIRE(r);
        CHECK(r->header.type == (e.type | protocol::reply_flag));
        CHECK(r->header.request_id == e.id);
        CHECK(r->header.version == e.version);
        CHECK(r->header.reserved == 0);
        CHECK(r->code == e.code);
        CHECK(r->message == e.message);
        CHECK(r->body == e.body);
    }
}

TEST_CASE("an error leaves the connection open", "[control-server]") {
    Server s("error-keeps");
    Client c(s.path);
    c.send(frame(refuse, 1, "no"));
    REQUIRE(c.reply()->code == ErrorCode::invalid_argument);
    c.send(frame(crash, 2, ""));
    REQUIRE(c.reply()->code == ErrorCode::unknown);
    c.send(frame(echo, 3, "still here"));
    const std::optional<Reply> r = c.reply();
    REQUIRE(r);
    CHECK(r->code == ErrorCode::ok);
    CHECK(r->body == "echo:still here");
    CHECK(s.closed_count() == 0);
}

TEST_CASE("many pipelined requests are all answered, in order", "[control-server]") {
    Server s("pipelined");
    Client c(s.path);
    std::string requests;
    for (std::uint32_t i = 0; i < 2000; ++i)
        requests += frame(echo, i, std::string(100, char('a' + i % 26)));
    std::atomic<bool> sent{false};
    std::jthread writer([&] { sent = c.send_all(requests); });  // answered while we still write
    for (std::uint32_t i = 0; i < 2000; ++i) {
        const std::optional<Reply> r = c.reply();
        REQUIRE(r);
        REQUIRE(r->header.request_id == i);
        REQUIRE(r->body == "echo:" + std::string(100, char('a' + i % 26)));
    }
    writer.join();
    CHECK(sent);
}

TEST_CASE("a frame that arrives in pieces is answered once whole, and stalls no one else",
          "[control-server]") {
    Server s("pieces");
    Client slow(s.path), other(s.path);
    const std::string f = frame(echo, 7, "patience");
    slow.send(f.substr(0, 5));  // not even a whole header
    other.send(frame(echo, 1, "meanwhile"));
    CHECK(other.reply()->body == "echo:meanwhile");
    slow.send(f.substr(5, 12));  // the header, and part of the payload
    other.send(frame(echo, 2, "again"));
    CHECK(other.reply()->body == "echo:again");
    slow.send(f.substr(17));
    const std::optional<Reply> r = slow.reply();
    REQUIRE(r);
    CHECK(r->header.request_id == 7);
    CHECK(r->body == "echo:patience");
}

TEST_CASE(
    "a frame of the largest payload is answered, and one byte more closes the connection "
    "after the replies before it",
    "[control-server]") {
    Server s("oversized");
    Client c(s.path);
    const std::uint32_t id = connection_id(c);
    const std::string largest(protocol::max_frame_payload, 'L');
    c.send(frame(echo, 1, largest));
    const std::optional<Reply> big = c.reply();
    REQUIRE(big);
    CHECK(big->body == "echo:" + largest);

    // A request, then a header claiming more than the limit: the framing cannot be trusted past
    // it, so the connection closes, but the request before it is answered first.
    protocol::FrameHeader h{protocol::max_frame_payload + 1, echo, 1, 3, 0};
    c.send(frame(echo, 2, "before") + std::string(reinterpret_cast<const char*>(&h), sizeof h));
    const std::optional<Reply> before = c.reply();
    REQUIRE(before);
    CHECK(before->header.request_id == 2);
    CHECK(before->body == "echo:before");
    CHECK_FALSE(c.reply());  // then closed
    CHECK(s.saw_closed(id));
    CHECK(s.log.count("WARN", "exceeds the limit") == 1);

    // Others are served on.
    Client next(s.path);
    next.send(frame(echo, 4, "next"));
    CHECK(next.reply()->body == "echo:next");
}

TEST_CASE("each connection has an id of its own, never 0, given to answer and to closed",
          "[control-server]") {
    Server s("ids");
    auto a = std::make_unique<Client>(s.path);
    Client b(s.path);
    const std::uint32_t ida = connection_id(*a);
    const std::uint32_t idb = connection_id(b);
    CHECK(ida != 0);  // 0 is orphan_owner: reader slots of an earlier daemon run
    CHECK(idb != 0);
    CHECK(ida != idb);
    CHECK(connection_id(*a) == ida);  // the same on every request of a connection
    a.reset();                        // the client goes away
    CHECK(s.saw_closed(ida));
    {
        std::lock_guard lock(s.mutex);
        CHECK(s.closed == std::vector<std::uint32_t>{ida});  // once, and b is not closed
    }
    CHECK(connection_id(b) == idb);
    Client c(s.path);
    const std::uint32_t idc = connection_id(c);
    CHECK(idc != ida);  // ids are not reused
    CHECK(idc != idb);
}

TEST_CASE("tick is called again and again while no request comes", "[control-server]") {
    Server s("tick");
    // The loop polls with the timeout tick returned (20 ms here) and ticks every round; asserted
    // here without timing: ticks keep coming with no client at all.
    const auto deadline = std::chrono::steady_clock::now() + patience;
    while (s.ticks < 5 && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(5ms);
    CHECK(s.ticks >= 5);
    // And between requests of a connection that never lets the poll time out: ticks come at most
    // once a millisecond then, so the requests go on until one has come (or patience runs out).
    Client c(s.path);
    const int before = s.ticks;
    const auto busy_until = std::chrono::steady_clock::now() + patience;
    std::uint32_t sent = 0;
    while (s.ticks == before && std::chrono::steady_clock::now() < busy_until) {
        c.send(frame(echo, sent++, "x"));
        REQUIRE(c.reply());
    }
    CHECK(s.ticks > before);
}

TEST_CASE("serve returns when stop is set, and closes its connections", "[control-server]") {
    Server s("stop");
    Client c(s.path);
    REQUIRE(connection_id(c) != 0);
    CHECK(s.halt());
    CHECK_FALSE(c.reply());  // the server side is closed
}

TEST_CASE("listen replaces a stale socket file, owner only, and close unlinks it",
          "[control-server]") {
    TempDir dir("listen", true);
    LogLines log;
    const std::string path = dir.path + "/kbus.sock";
    std::ofstream(path) << "stale";
    kbusd::ControlServer server(path, {}, log.sink());
    REQUIRE(server.listen());
    struct stat st {};
    REQUIRE(::stat(path.c_str(), &st) == 0);
    CHECK(S_ISSOCK(st.st_mode));
    CHECK((st.st_mode & 0777) == 0600);
    Client c(path);  // it accepts (the backlog) before serving
    server.close();
    CHECK(::access(path.c_str(), F_OK) != 0);

    kbusd::ControlServer too_long(dir.path + "/" + std::string(120, 's'), {}, log.sink());
    CHECK_FALSE(too_long.listen());
    CHECK(log.count("ERROR", "socket path too long") == 1);
}
