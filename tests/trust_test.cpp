// Nothing of another local user's is adopted, and nobody can squat (issue 17's trust model):
// shared-memory directories planted under the bus's name, run directories under a parent another
// user controls, and a stand-in daemon of another uid. The cases that need a second uid run as
// root (switching a child to nobody, uid 65534) and are skipped otherwise.
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <map>

#include "daemon_fixture.hpp"

using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

constexpr uid_t nobody = 65534;

bool as_root() {
    return ::geteuid() == 0;
}

// In a forked child: drops to nobody for good (group first, while still allowed to).
bool become_nobody() {
    return ::setresgid(nobody, nobody, nobody) == 0 && ::setresuid(nobody, nobody, nobody) == 0;
}

// Every file under `dir` (not following symlinks) with its size: what a planted directory held.
std::map<std::string, std::uintmax_t> contents_of(const fs::path& dir) {
    std::map<std::string, std::uintmax_t> found;
    for (const auto& e : fs::directory_iterator(dir))
        found[e.path().filename().string()] = e.is_regular_file() ? e.file_size() : 0;
    return found;
}

// A directory that looks like one a kbusd left: a control segment and a ring, owned by `owner`.
fs::path plant_shared_memory(const std::string& path, unsigned mode, uid_t owner) {
    fs::create_directory(path);
    for (const char* name : {"control", "t.0", "clients.lock"}) {
        std::ofstream(path + "/" + name) << std::string(4096, 'F');
        REQUIRE(::chown((path + "/" + name).c_str(), owner, owner) == 0);
        REQUIRE(::chmod((path + "/" + name).c_str(), 0666) == 0);
    }
    REQUIRE(::chown(path.c_str(), owner, owner) == 0);
    REQUIRE(::chmod(path.c_str(), mode) == 0);
    return path;
}

// Runs kbusd with `args` until it exits (it is expected to refuse to start): its status and log.
std::pair<int, std::string> run_refused_kbusd(const std::vector<std::string>& args,
                                              const std::string& log_path) {
    const pid_t pid = ::fork();
    if (pid == 0) {
        const int log = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (log >= 0) ::dup2(log, 2);
        std::vector<const char*> argv{KBUSD_PATH};
        for (const std::string& a : args)
            argv.push_back(a.c_str());
        argv.push_back(nullptr);
        ::execv(argv[0], const_cast<char* const*>(argv.data()));
        ::_exit(127);
    }
    int status = 0;
    for (int i = 0; i < 500 && ::waitpid(pid, &status, WNOHANG) == 0; ++i)
        std::this_thread::sleep_for(10ms);
    if (::waitpid(pid, &status, WNOHANG) == 0) {  // still serving: the refusal did not happen
        ::kill(pid, SIGKILL);
        ::waitpid(pid, &status, 0);
        return {-1, ""};
    }
    std::ifstream in(log_path);
    return {status, std::string(std::istreambuf_iterator<char>(in), {})};
}

void still_serves(DaemonFixture& d, const std::string& topic) {
    kbus::Client c(d.options());
    c.create_topic(topic, 2);
    kbus::Producer p(c);
    (void)p.send(topic, "k", "v");
    kbus::Consumer con(c);
    con.assign(topic, 0, kbus::OffsetSpec::beginning());
    con.assign(topic, 1, kbus::OffsetSpec::beginning());
    for (int i = 0; i < 50; ++i)
        if (!con.poll(100ms).empty()) return;
    FAIL("the record sent to " << topic << " never came back");
}

}  // namespace

TEST_CASE("shared-memory directories planted under the bus's name are never adopted",
          "[trust][security]") {
    DaemonFixture d("planted");
    REQUIRE(d.stop() == 0);  // a clean stop with no client mapping the bus removes its memory
    REQUIRE(d.shared_memory_dirs().empty());
    const std::string prefix = "/dev/shm/kbus." + std::to_string(::geteuid()) + "." + d.bus + ".";

    // Of our uid but open to everyone: anyone could have put rings in it.
    std::vector<std::pair<std::string, std::string>> planted{
        {plant_shared_memory(prefix + "wide01", 0777, ::geteuid()), "mode 0777, not 0700"}};
    // A symlink to a directory of ours: the name could be pointed anywhere.
    const std::string target = d.dir + "/elsewhere";
    plant_shared_memory(target, 0700, ::geteuid());
    fs::create_directory_symlink(target, prefix + "link02");
    planted.emplace_back(prefix + "link02", "not a directory");
    // Another user's, with the mode kbusd itself would use.
    if (as_root())
        planted.emplace_back(plant_shared_memory(prefix + "other03", 0700, nobody),
                             "owned by uid 65534, not by the bus's owner");
    std::map<std::string, std::map<std::string, std::uintmax_t>> before;
    for (const auto& [path, why] : planted)
        before[path] = contents_of(path);

    d.restart();
    still_serves(d, "after-plants");
    const std::string log = d.log_text();
    for (const auto& [path, why] : planted) {
        INFO(path);
        CHECK(log.find("not adopting " + path + ": " + why) != std::string::npos);
        CHECK(contents_of(path) == before[path]);  // nothing of the bus written into it
    }
    const auto at = log.rfind("created shared memory " + prefix);
    REQUIRE(at != std::string::npos);
    const std::string own = log.substr(at + 22, log.find('\n', at) - at - 22);
    for (const auto& [path, why] : planted)
        CHECK(own != path);
    struct stat st {};
    REQUIRE(::lstat(own.c_str(), &st) == 0);
    CHECK(st.st_uid == ::geteuid());
    CHECK((st.st_mode & 07777) == 0700);
    for (const auto& [path, why] : planted)
        fs::remove_all(path);
}

TEST_CASE("a run directory under a parent other users can write to is refused at start",
          "[trust][security]") {
    const std::string base =
        fs::temp_directory_path() / ("kbus-squat-" + std::to_string(::getpid()));
    fs::remove_all(base);
    fs::create_directories(base);
    const std::string parent = base + "/shared";
    fs::create_directory(parent);
    // Another user's directory when we can make one; else one of ours that anyone may write.
    const uid_t owner = as_root() ? nobody : ::geteuid();
    REQUIRE(::chown(parent.c_str(), owner, owner) == 0);
    REQUIRE(::chmod(parent.c_str(), 0777) == 0);
    const auto [status, log] = run_refused_kbusd(
        {"--bus", "squat", "--run-dir", parent + "/run", "--data-dir", base + "/data"},
        base + "/kbusd.log");
    INFO(log);
    REQUIRE(status != -1);  // it exited
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) != 0);
    CHECK(log.find("refusing the run directory " + parent + "/run") != std::string::npos);
    CHECK(log.find(as_root() ? "'" + parent + "' belongs to uid 65534"
                             : "'" + parent + "' is writable by other users (mode 0777)") !=
          std::string::npos);
    CHECK_FALSE(fs::exists(parent + "/run"));  // nothing made in it, nothing served from it
    fs::remove_all(base);
}

TEST_CASE("a run or data directory reached through another user's symlink is refused",
          "[trust][security]") {
    if (!as_root()) {
        WARN("needs root to plant a symlink as another uid: skipped");
        return;
    }
    // nobody owns a directory and points a link in it at a directory of root's: the target
    // passes every check, but nobody can repoint the link at any time.
    const std::string base =
        fs::temp_directory_path() / ("kbus-link-" + std::to_string(::getpid()));
    fs::remove_all(base);
    fs::create_directories(base + "/target");
    REQUIRE(::chmod((base + "/target").c_str(), 0755) == 0);
    REQUIRE(::mkdir((base + "/nobodys").c_str(), 0755) == 0);
    REQUIRE(::chown((base + "/nobodys").c_str(), nobody, nobody) == 0);
    REQUIRE(::symlink((base + "/target").c_str(), (base + "/nobodys/link").c_str()) == 0);
    REQUIRE(::lchown((base + "/nobodys/link").c_str(), nobody, nobody) == 0);
    for (const std::string flag : {"--run-dir", "--data-dir"}) {
        INFO(flag);
        std::vector<std::string> args{"--bus",       "linked",     "--run-dir",
                                      base + "/run", "--data-dir", base + "/data"};
        args[flag == "--run-dir" ? 3 : 5] = base + "/nobodys/link";
        const auto [status, log] = run_refused_kbusd(args, base + "/kbusd.log");
        INFO(log);
        REQUIRE(status != -1);
        CHECK(WEXITSTATUS(status) != 0);
        CHECK(log.find("'" + base + "/nobodys' belongs to uid 65534") != std::string::npos);
        struct stat st {};
        REQUIRE(::stat((base + "/target").c_str(), &st) == 0);
        CHECK((st.st_mode & 07777) == 0755);  // not taken over
        CHECK(fs::is_empty(base + "/target"));
    }
    // The same link of root's, in a directory of root's: trusted, as its target is.
    REQUIRE(::chown((base + "/nobodys").c_str(), 0, 0) == 0);
    REQUIRE(::lchown((base + "/nobodys/link").c_str(), 0, 0) == 0);
    CHECK(kbus::untrusted_path_reason(base + "/nobodys/link/run", 0).empty());
    REQUIRE(::lchown((base + "/nobodys/link").c_str(), nobody, nobody) == 0);
    CHECK(kbus::untrusted_path_reason(base + "/nobodys/link/run", 0)
              .find("is a symlink of uid "
                    "65534") != std::string::npos);
    fs::remove_all(base);
}

TEST_CASE("a client refuses a daemon of another uid serving from a path anyone could take",
          "[trust][security]") {
    if (!as_root()) {
        WARN("needs root to listen as another uid: skipped");
        return;
    }
    // nobody makes a run directory under /tmp (sticky, world-writable: anyone may take a name
    // first) and listens there as if it were the bus's daemon.
    const std::string base = "/tmp/kbus-standin-" + std::to_string(::getpid());
    fs::remove_all(base);
    int ready[2];
    REQUIRE(::pipe(ready) == 0);
    const pid_t standin = ::fork();
    if (standin == 0) {
        ::close(ready[0]);
        if (!become_nobody()) ::_exit(10);
        if (::mkdir(base.c_str(), 0755) != 0 || ::mkdir((base + "/run").c_str(), 0700) != 0)
            ::_exit(11);
        const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s/run/kbus.sock", base.c_str());
        if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
            ::chmod(addr.sun_path, 0666) != 0 || ::chmod((base + "/run").c_str(), 0755) != 0 ||
            ::listen(fd, 4) != 0)
            ::_exit(12);
        (void)!::write(ready[1], "r", 1);
        const int conn = ::accept(fd, nullptr, nullptr);
        timeval tv{3, 0};
        ::setsockopt(conn, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        char b;
        // Whatever the client sends (a hello naming its bus and pid) is already too much.
        ::_exit(::recv(conn, &b, 1, 0) > 0 ? 13 : 0);
    }
    ::close(ready[1]);
    char r;
    REQUIRE(::read(ready[0], &r, 1) == 1);
    ::close(ready[0]);

    kbus::ClientOptions o;
    o.bus = "standin";
    o.run_dir = base + "/run";
    o.reconnect_timeout = 2s;
    std::string message;
    try {
        kbus::Client c(o);
    } catch (const kbus::Error& e) {
        CHECK(e.code() == kbus::ErrorCode::permission_denied);
        message = e.what();
    }
    CHECK(message.find("runs as uid 65534, neither this user (uid 0) nor root") !=
          std::string::npos);
    CHECK(message.find("refusing to trust it") != std::string::npos);
    int status = 0;
    REQUIRE(::waitpid(standin, &status, 0) == standin);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);  // the client said nothing to it
    fs::remove_all(base);
}

TEST_CASE("a client trusts a daemon of another uid serving from its own private directory",
          "[trust][security]") {
    if (!as_root()) {
        WARN("needs root to run kbusd as another uid: skipped");
        return;
    }
    // A bus run by nobody from a path only root and nobody control (root's /run, then nobody's
    // 0700 directories): nobody else could stand in for it, so root's client uses it.
    const std::string base = "/run/kbus-trusted-" + std::to_string(::getpid());
    fs::remove_all(base);
    REQUIRE(::mkdir(base.c_str(), 0755) == 0);
    for (const char* sub : {"/run", "/data"}) {
        REQUIRE(::mkdir((base + sub).c_str(), 0700) == 0);
        REQUIRE(::chown((base + sub).c_str(), nobody, nobody) == 0);
    }
    const std::string bus = "trusted" + std::to_string(::getpid());
    const pid_t daemon = ::fork();
    if (daemon == 0) {
        const int log = ::open((base + "/kbusd.log").c_str(), O_WRONLY | O_CREAT, 0644);
        if (log >= 0) ::dup2(log, 2);
        if (!become_nobody()) ::_exit(10);
        ::execl(KBUSD_PATH, KBUSD_PATH, "--bus", bus.c_str(), "--run-dir", (base + "/run").c_str(),
                "--data-dir", (base + "/data").c_str(), static_cast<char*>(nullptr));
        ::_exit(127);
    }
    kbus::ClientOptions o;
    o.bus = bus;
    o.run_dir = base + "/run";
    bool served = false;
    for (int i = 0; i < 500 && !served; ++i) {
        try {
            kbus::Client c(o);
            c.create_topic("shared", 1);
            kbus::Producer p(c);
            (void)p.send("shared", "k", "from root");
            kbus::Consumer con(c);
            con.assign("shared", 0, kbus::OffsetSpec::beginning());
            const auto& batch = con.poll(5s);
            REQUIRE(batch.size() == 1);
            CHECK(batch[0].value().str() == "from root");
            served = true;
        } catch (const kbus::Error& e) {
            REQUIRE(e.code() != kbus::ErrorCode::permission_denied);  // only "not up yet" waits
            std::this_thread::sleep_for(10ms);
        }
    }
    CHECK(served);
    ::kill(daemon, SIGTERM);
    int status = 0;
    ::waitpid(daemon, &status, 0);
    CHECK(WIFEXITED(status));
    for (const auto& e : fs::directory_iterator("/dev/shm"))
        if (e.path().filename().string().rfind("kbus.65534." + bus + ".", 0) == 0)
            fs::remove_all(e.path());
    fs::remove_all(base);
}
