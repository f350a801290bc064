// kbusd at its control socket's boundary: garbage, truncated and oversized frames, unknown
// requests, lying requests, clients that send nothing or never read, and peers of another uid.
// Each gets an error reply or a closed connection, and everyone else is served meanwhile.
#include <grp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <catch2/catch.hpp>
#include <functional>
#include <random>

#include "daemon_fixture.hpp"

using namespace std::chrono_literals;
namespace protocol = kbus::protocol;

namespace {

// A raw connection to the daemon's control socket, speaking frames by hand.
struct RawConnection {
    int fd = -1;
    explicit RawConnection(const DaemonFixture& d) {
        fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        const std::string path = d.dir + "/run/kbus.sock";
        std::strcpy(addr.sun_path, path.c_str());
        REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
        timeval tv{5, 0};  // a reply that never comes fails the test instead of hanging it
        ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    }
    ~RawConnection() { ::close(fd); }
    void send_bytes(const std::string& bytes) const {
        REQUIRE(::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL) == ssize_t(bytes.size()));
    }
    static std::string frame(std::uint16_t type, const std::string& payload,
                             std::uint32_t length_field) {
        protocol::FrameHeader h{length_field, type, 1, 7, 0};
        return std::string(reinterpret_cast<const char*>(&h), sizeof h) + payload;
    }
    void request(std::uint16_t type, const std::string& payload) const {
        send_bytes(frame(type, payload, std::uint32_t(payload.size())));
    }
    // The next reply's error code and message; nullopt when the daemon closed the connection.
    std::optional<std::pair<kbus::ErrorCode, std::string>> reply() const {
        protocol::FrameHeader h{};
        if (!read_exactly(&h, sizeof h)) return std::nullopt;
        std::string payload(h.payload_length, '\0');
        if (!read_exactly(payload.data(), payload.size())) return std::nullopt;
        protocol::Reader r(payload);
        const auto code = kbus::ErrorCode(r.u16());
        return std::make_pair(code, r.str());
    }
    bool closed_by_daemon() const {
        char b;
        return ::recv(fd, &b, 1, 0) == 0;
    }

  private:
    bool read_exactly(void* to, std::size_t n) const {
        auto* p = static_cast<char*>(to);
        for (std::size_t got = 0; got < n;) {
            const ssize_t k = ::recv(fd, p + got, n - got, 0);
            if (k <= 0) return false;
            got += std::size_t(k);
        }
        return true;
    }
};

std::string payload_of(const std::function<void(protocol::Writer&)>& fill) {
    protocol::Writer w;
    fill(w);
    return w.bytes();
}

// The daemon still serves a well-behaved client, end to end.
void still_serves(const DaemonFixture& d, const std::string& topic) {
    kbus::Client c(d.options());
    c.create_topic(topic, 1);
    kbus::Producer p(c);
    const auto md = p.send(topic, "k", "v");
    CHECK(md.offset == 0);
    kbus::Consumer con(c);
    con.assign(topic, 0, kbus::OffsetSpec::beginning());
    const auto& batch = con.poll(5s);
    REQUIRE(batch.size() == 1);
    CHECK(batch[0].value().str() == "v");
}

// A client's topic still takes and gives records.
void still_serves_topic(kbus::Client& c, const std::string& topic) {
    kbus::Producer p(c);
    const auto md = p.send(topic, "k", "v");
    kbus::Consumer con(c);
    con.assign(topic, md.partition, kbus::OffsetSpec::at(md.offset));
    const auto& batch = con.poll(5s);
    REQUIRE(batch.size() == 1);
    CHECK(batch[0].value().str() == "v");
}

constexpr auto RT = [](protocol::RequestType t) { return std::uint16_t(t); };

}  // namespace

TEST_CASE("malformed requests get an error reply and the connection lives on", "[bad_input]") {
    DaemonFixture d("malformed");
    RawConnection conn(d);
    // Unknown request types.
    conn.request(999, "");
    auto r = conn.reply();
    REQUIRE(r);
    CHECK(r->first == kbus::ErrorCode::unsupported);
    CHECK(r->second.find("unknown request type 999") != std::string::npos);
    // A known request cut short: create_topic with its name's length but not its bytes.
    conn.request(RT(protocol::RequestType::create_topic), payload_of([](auto& w) { w.u32(50); }));
    r = conn.reply();
    REQUIRE(r);
    CHECK(r->first == kbus::ErrorCode::protocol_error);
    // A hostile count: 2^32-1 settings in a few bytes.
    conn.request(RT(protocol::RequestType::create_topic), payload_of([](auto& w) {
                     w.str("x");
                     w.i32(1);
                     w.u32(0xffffffffu);
                 }));
    r = conn.reply();
    REQUIRE(r);
    CHECK(r->first == kbus::ErrorCode::protocol_error);
    // Another protocol version.
    conn.request(RT(protocol::RequestType::hello), payload_of([](auto& w) {
                     w.u32(77);
                     w.u64(1);
                     w.str("old client");
                 }));
    r = conn.reply();
    REQUIRE(r);
    CHECK(r->first == kbus::ErrorCode::unsupported);
    CHECK(r->second.find("version 77") != std::string::npos);
    // Lies about ids: a topic that does not exist, a slot that is not ours, a partition beyond.
    conn.request(RT(protocol::RequestType::release_reader), payload_of([](auto& w) {
                     w.u64(123456);
                     w.i32(0);
                     w.u32(0);
                 }));
    r = conn.reply();
    REQUIRE(r);
    CHECK(r->first == kbus::ErrorCode::unknown_topic);
    {
        kbus::Client c(d.options());
        c.create_topic("mine", 2);
        const std::uint64_t id = c.describe_topic("mine").metadata.topic_id;
        conn.request(RT(protocol::RequestType::attach_reader), payload_of([&](auto& w) {
                         w.u64(id);
                         w.i32(7);
                         w.u8(0);
                         w.i64(0);
                         w.i32(-1);
                     }));
        r = conn.reply();
        REQUIRE(r);
        CHECK(r->first == kbus::ErrorCode::partition_out_of_range);
        // Another connection's reader slot: releasing it is a no-op, its consumer reads on.
        kbus::Consumer con(c);
        con.assign("mine", 0, kbus::OffsetSpec::beginning());
        for (std::uint32_t slot = 0; slot < kbus::ring::reader_slot_count; ++slot) {
            conn.request(RT(protocol::RequestType::release_reader), payload_of([&](auto& w) {
                             w.u64(id);
                             w.i32(0);
                             w.u32(slot);
                         }));
            r = conn.reply();
            REQUIRE(r);
            CHECK(r->first == kbus::ErrorCode::ok);
        }
        kbus::Producer p(c);
        kbus::SendOptions to_first;
        to_first.partition = 0;
        (void)p.send("mine", "k", "v", to_first);
        const auto& batch = con.poll(5s);
        REQUIRE(batch.size() == 1);
        // Re-creating a topic to change its ring's size is refused: rings keep their shape.
        conn.request(RT(protocol::RequestType::create_topic), payload_of([](auto& w) {
                         w.str("mine");
                         w.i32(2);
                         w.u32(1);
                         w.str("ring.bytes");
                         w.str("1048576");
                     }));
        r = conn.reply();
        REQUIRE(r);
        CHECK(r->first == kbus::ErrorCode::topic_exists);
    }
    // Names that would reach outside the data dir.
    for (const char* name : {"../escape", "a/b", "..", "."}) {
        conn.request(RT(protocol::RequestType::create_topic), payload_of([&](auto& w) {
                         w.str(name);
                         w.i32(1);
                         w.u32(0);
                     }));
        r = conn.reply();
        REQUIRE(r);
        CHECK(r->first == kbus::ErrorCode::invalid_argument);
    }
    CHECK_FALSE(std::filesystem::exists(d.dir + "/escape-0"));
    // Still the same connection, still answered.
    conn.request(RT(protocol::RequestType::list_topics), "");
    r = conn.reply();
    REQUIRE(r);
    CHECK(r->first == kbus::ErrorCode::ok);
    still_serves(d, "after-malformed");
}

TEST_CASE("oversized frames and garbage close the connection, nothing else", "[bad_input]") {
    DaemonFixture d("garbage");
    {
        RawConnection conn(d);
        conn.send_bytes(RawConnection::frame(RT(protocol::RequestType::list_topics), "",
                                             protocol::max_frame_payload + 1));
        CHECK(conn.closed_by_daemon());
    }
    std::mt19937_64 rng(1);
    for (int round = 0; round < 20; ++round) {
        RawConnection conn(d);
        std::string junk(1 + rng() % 4096, '\0');
        for (auto& b : junk)
            b = char(rng());
        conn.send_bytes(junk);
        ::shutdown(conn.fd, SHUT_WR);
        // Whatever the junk said: replies to what parsed as frames, then the close.
        while (conn.reply()) {
        }
    }
    CHECK(d.log_text().find("exceeds the limit, closing") != std::string::npos);
    still_serves(d, "after-garbage");
    int status = 0;
    CHECK(::waitpid(d.pid, &status, WNOHANG) == 0);  // kbusd is alive
}

TEST_CASE("silent, half-sent and never-reading clients stall only themselves", "[bad_input]") {
    DaemonFixture d("stalled");
    RawConnection silent(d);  // connects and says nothing
    RawConnection half(d);    // a frame header promising bytes that never come
    half.send_bytes(RawConnection::frame(RT(protocol::RequestType::list_topics), "abc", 100));
    // Pipelines requests and never reads a reply: the replies fill its socket, then the daemon's
    // backlog, and the daemon stops taking its requests instead of blocking on it.
    RawConnection deaf(d);
    {
        kbus::Client c(d.options());
        for (int i = 0; i < 50; ++i)
            c.create_topic("topic-with-a-longish-name-" + std::to_string(i), 1);
    }
    const int flags = ::fcntl(deaf.fd, F_GETFL);
    ::fcntl(deaf.fd, F_SETFL, flags | O_NONBLOCK);
    const std::string request = RawConnection::frame(RT(protocol::RequestType::list_topics), "", 0);
    std::string many;
    for (int i = 0; i < 4096; ++i)
        many += request;
    std::uint64_t sent = 0;
    for (int i = 0; i < 2000; ++i) {  // until the daemon stops reading (our send would block)
        const ssize_t n = ::send(deaf.fd, many.data(), many.size(), MSG_NOSIGNAL);
        if (n <= 0) break;
        sent += std::uint64_t(n);
    }
    INFO("sent " << sent << " bytes of requests");
    CHECK(sent > 8 * 1024 * 1024 / 16 / 4);  // far more replies than any socket buffer holds
    still_serves(d, "after-stalls");
}

TEST_CASE("a peer of another uid is refused at the socket", "[bad_input][security]") {
    if (::geteuid() != 0) {
        WARN("needs root to connect as another uid: skipped");
        return;
    }
    DaemonFixture d("peercred");
    // Open the socket file itself to everyone: only the daemon's own check stands in the way.
    REQUIRE(::chmod((d.dir + "/run").c_str(), 0755) == 0);
    REQUIRE(::chmod((d.dir + "/run/kbus.sock").c_str(), 0666) == 0);
    const pid_t pid = ::fork();
    if (pid == 0) {
        if (::setresgid(65534, 65534, 65534) != 0 || ::setresuid(65534, 65534, 65534) != 0)
            ::_exit(10);
        try {
            // The kernel accepts it; the daemon answers its first request with the refusal
            // (so the client can say why) and closes it, serving nothing.
            RawConnection conn(d);
            const std::string request =
                RawConnection::frame(RT(protocol::RequestType::list_topics), "", 0);
            (void)!::send(conn.fd, request.data(), request.size(), MSG_NOSIGNAL);
            const auto refusal = conn.reply();
            if (!refusal || refusal->first != kbus::ErrorCode::permission_denied) ::_exit(11);
            if (refusal->second.find("only uid 0") == std::string::npos) ::_exit(13);
            ::_exit(conn.reply() ? 14 : 0);  // then closed: nothing more comes
        } catch (...) {
            ::_exit(12);
        }
    }
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
    CHECK(d.log_text().find("(uid 65534): this bus serves only uid 0 and root") !=
          std::string::npos);
    still_serves(d, "after-peer");
}

TEST_CASE("limits on topics, partitions and shared memory refuse a topic or a ring whole",
          "[bad_input][limits]") {
    const kbus::ring::RingLayout layout = kbus::ring::ring_layout(65536);
    const std::uint64_t ring = layout.total_bytes, header = layout.journal_offset;
    // Room for five headers and two of them reserved: rings are reserved at a producer's first
    // use, so the budget refuses the third ring produced to, not the topic.
    DaemonFixture d(
        "limits",
        {"--override", "kbus.max.topics=3", "--override", "kbus.max.partitions=5", "--override",
         "kbus.max.shared.memory.bytes=" + std::to_string(2 * ring + 3 * header)});
    kbus::Client c(d.options());
    const std::map<std::string, std::string> small{{"ring.bytes", "65536"}};
    c.create_topic("a", 2, small);
    c.create_topic("b", 2, small);
    auto refused = [&](const std::string& name, std::int32_t partitions,
                       const std::map<std::string, std::string>& settings) -> std::string {
        try {
            c.create_topic(name, partitions, settings);
        } catch (const kbus::Error& e) {
            CHECK(e.code() == kbus::ErrorCode::resource_exhausted);
            return e.what();
        }
        FAIL("topic '" << name << "' was created past a limit");
        return {};
    };
    CHECK(refused("c", 2, small).find("kbus.max.partitions (5)") != std::string::npos);
    kbus::Producer p(c);
    auto to = [](std::int32_t partition) {
        kbus::SendOptions o;
        o.partition = partition;
        return o;
    };
    (void)p.send("a", "k", "v", to(0));
    (void)p.send("a", "k", "v", to(1));
    try {
        (void)p.send("b", "k", "v", to(0));
        FAIL("a ring past kbus.max.shared.memory.bytes was reserved");
    } catch (const kbus::Error& e) {
        CHECK(e.code() == kbus::ErrorCode::resource_exhausted);
        CHECK(std::string(e.what()).find("kbus.max.shared.memory.bytes") != std::string::npos);
        CHECK(std::string(e.what()).find("b-0") != std::string::npos);
    }
    CHECK(c.describe_topic("b").partitions[0].high_watermark == 0);
    (void)p.send("a", "k", "v", to(0));  // the producer goes on where it has room
    c.create_topic("c", 1, small);       // a header more fits
    CHECK(refused("d", 1, small).find("kbus.max.topics (3) reached") != std::string::npos);
    CHECK(c.list_topics() == std::vector<std::string>{"a", "b", "c"});
    c.delete_topic("a");
    (void)p.send("b", "k", "v", to(0));  // the room came back
    still_serves_topic(c, "c");
}

namespace {

// A producer's send to a ring kbusd could not reserve: refused with resource_exhausted, whose
// message is returned.
std::string first_send_refused(kbus::Producer& p, const std::string& topic) {
    try {
        (void)p.send(topic, "k", "v");
    } catch (const kbus::Error& e) {
        CHECK(e.code() == kbus::ErrorCode::resource_exhausted);
        return e.what();
    }
    FAIL("a send to '" << topic << "' reserved a ring past a limit");
    return {};
}

}  // namespace

TEST_CASE("a ring the shared memory cannot hold is refused with a clear error, never a SIGBUS",
          "[bad_input][limits]") {
    // Topics of rings larger than what shared memory has free: made (each ring is a header until
    // used), but a producer's first send is refused, before anything is written.
    struct statvfs fs {};
    REQUIRE(::statvfs("/dev/shm", &fs) == 0);
    const std::uint64_t free_bytes = std::uint64_t(fs.f_bavail) * fs.f_frsize;
    if (free_bytes >= (1ULL << 32)) {
        // More free than any ring may take: the refusal is the budget's.
        DaemonFixture d("shmfull", {"--override", "kbus.max.shared.memory.bytes=200000"});
        kbus::Client c(d.options());
        c.create_topic("huge", 1, {{"ring.bytes", "1048576"}});
        kbus::Producer p(c);
        CHECK(first_send_refused(p, "huge").find("kbus.max.shared.memory.bytes") !=
              std::string::npos);
        CHECK(c.describe_topic("huge").partitions[0].high_watermark == 0);
        // A ring within the budget is served as ever.
        c.create_topic("small", 1, {{"ring.bytes", "65536"}});
        CHECK(p.send("small", "k", "v").offset == 0);
        return;
    }
    DaemonFixture d("shmfull");
    kbus::Client c(d.options());
    c.create_topic("huge", 1, {{"ring.bytes", std::to_string(1ULL << 32)}});
    kbus::Producer p(c);
    CHECK(first_send_refused(p, "huge").find("shared memory full") != std::string::npos);
    still_serves(d, "after-full");
}

TEST_CASE("kbus.group shares the bus with one group: its members in, everyone else out",
          "[bad_input][security]") {
    if (::geteuid() != 0) {
        WARN("needs root to act as other users: skipped");
        return;
    }
    const group* nogroup = ::getgrnam("nogroup");
    REQUIRE(nogroup != nullptr);
    const gid_t gid = nogroup->gr_gid;
    DaemonFixture d("group", {"--override", "kbus.group=nogroup"});
    kbus::Client c(d.options());
    c.create_topic("shared", 1);
    kbus::Producer p(c);
    (void)p.send("shared", "k", "from the owner");
    // Everything the daemon created: the group's, read-write for it, nothing for others.
    auto check_shared = [&](const std::string& path, mode_t mode) {
        struct stat st {};
        REQUIRE(::stat(path.c_str(), &st) == 0);
        INFO(path);
        CHECK(st.st_gid == gid);
        CHECK((st.st_mode & 07777) == mode);
    };
    for (const std::string& dir : d.shared_memory_dirs()) {
        check_shared(dir, 02770);
        for (const auto& e : std::filesystem::directory_iterator(dir))
            check_shared(e.path(), 0660);
    }
    check_shared(d.dir + "/run/kbus.sock", 0660);
    check_shared(d.dir + "/run", 02770);
    check_shared(d.data_dir(), 02770);
    check_shared(d.data_dir() + "/shared-0", 02770);
    for (int i = 0; i < 200 && std::filesystem::is_empty(d.data_dir() + "/shared-0"); ++i)
        std::this_thread::sleep_for(10ms);
    for (const auto& e : std::filesystem::directory_iterator(d.data_dir() + "/shared-0")) {
        // kbusd opens a new file (the umask applies) and then sets its mode: we may look between.
        struct stat st {};
        for (int i = 0;
             i < 200 && ::stat(e.path().c_str(), &st) == 0 && (st.st_mode & 07777) != 0660; ++i)
            std::this_thread::sleep_for(10ms);
        check_shared(e.path(), 0660);
    }
    REQUIRE(::chmod(d.dir.c_str(), 0755) == 0);  // the test's own dir: let others walk in
    // Runs `body` as uid 65534 with the given groups; its exit status.
    auto as_other_user = [&](std::vector<gid_t> groups, const std::function<int()>& body) {
        const pid_t pid = ::fork();
        if (pid == 0) {
            if (::setgroups(groups.size(), groups.data()) != 0 ||
                ::setresgid(groups[0], groups[0], groups[0]) != 0 ||
                ::setresuid(65534, 65534, 65534) != 0)
                ::_exit(10);
            try {
                ::_exit(body());
            } catch (const std::exception& e) {
                std::fprintf(stderr, "as uid 65534: %s\n", e.what());
                ::_exit(11);
            }
        }
        int status = 0;
        REQUIRE(::waitpid(pid, &status, 0) == pid);
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    };
    // A member (the group as a supplementary one) produces and consumes like the owner.
    CHECK(as_other_user({65533, gid}, [&] {
              kbus::Client member(d.options());
              kbus::Producer mp(member);
              (void)mp.send("shared", "k", "from a member");
              kbus::Consumer con(member);
              con.assign("shared", 0, kbus::OffsetSpec::beginning());
              std::vector<std::string> seen;
              for (int i = 0; i < 100 && seen.size() < 2; ++i)
                  for (const auto& m : con.poll(50ms))
                      seen.emplace_back(m.value().str());
              return seen == std::vector<std::string>{"from the owner", "from a member"} ? 0 : 3;
          }) == 0);
    // Anyone else: refused at the socket (which its mode would let it reach).
    REQUIRE(::chmod((d.dir + "/run").c_str(), 02775) == 0);
    REQUIRE(::chmod((d.dir + "/run/kbus.sock").c_str(), 0666) == 0);
    // Told why at once, not left to retry a dead connection until its reconnect timeout.
    CHECK(as_other_user({65533}, [&] {
              kbus::ClientOptions o = d.options();
              o.reconnect_timeout = 60s;
              try {
                  kbus::Client outsider(o);
              } catch (const kbus::Error& e) {
                  if (e.code() != kbus::ErrorCode::permission_denied) return 4;
                  return std::string(e.what()).find("not uid 65534") != std::string::npos ? 0 : 6;
              }
              return 5;
          }) == 0);
    CHECK(d.log_text().find("root and group " + std::to_string(gid) + ", not uid 65534") !=
          std::string::npos);
    // A peer refused in a loop writes a line a second, not one per attempt.
    CHECK(as_other_user({65533}, [&] {
              for (int i = 0; i < 300; ++i) {
                  try {
                      kbus::Client outsider(d.options());
                      return 7;
                  } catch (const kbus::Error& e) {
                      if (e.code() != kbus::ErrorCode::permission_denied) return 8;
                  }
              }
              return 0;
          }) == 0);
    const std::string log = d.log_text();
    std::size_t refusals = 0;
    for (auto at = log.find("refused a connection"); at != std::string::npos;
         at = log.find("refused a connection", at + 1))
        ++refusals;
    CHECK(refusals <= 10);
}
