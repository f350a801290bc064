// kbus top: kbus stats redrawn on a terminal, with ncurses: fits any window (the layout is
// lib/cli/top_screen), redraws at once when the window changes size, q quits. Its output is
// for eyes only: into a pipe or a file it refuses to start, and points at kbus stats.
#include <curses.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <kbus/kbus.hpp>
#include <sstream>
#include <string>

#include "cli/top_screen.hpp"
#include "commands.hpp"
#include "mirror_reports.hpp"

namespace kbus::cli {
namespace {

volatile std::sig_atomic_t g_stop = 0;

// The mirrors' reports as lines under the tables.
std::vector<std::string> mirror_lines(const std::string& run_dir) {
    std::vector<std::string> lines;
    std::istringstream text(mirrors_table(mirror_reports(run_dir)));
    for (std::string line; std::getline(text, line);)
        lines.push_back(line);
    return lines;
}

class TopScreen {
  public:
    TopScreen() {
        screen_ = newterm(nullptr, stdout, stdin);
        if (screen_ == nullptr) throw Error(ErrorCode::invalid_argument, "no usable terminal");
        cbreak();
        noecho();
        curs_set(0);
        keypad(stdscr, TRUE);
        timeout(100);  // getch waits at most this long: the signal flag is seen in time
    }
    ~TopScreen() {
        endwin();
        delscreen(screen_);
    }
    TopScreen(const TopScreen&) = delete;
    TopScreen& operator=(const TopScreen&) = delete;

    void draw(const std::string& title, const std::vector<std::string>& body) {
        int height = 0, width = 0;
        getmaxyx(stdscr, height, width);
        // The last column stays empty: a character there makes some terminals wrap.
        const auto lines = top_screen(title, body, width - 1, height, scroll_);
        erase();
        for (std::size_t i = 0; i < lines.size(); ++i)
            mvaddstr(int(i), 0, lines[i].c_str());
        refresh();
    }

    // Waits up to `wait` for a key; false once the user quits. Scroll keys and a resize return
    // at once with `redraw` set.
    bool keys(std::chrono::milliseconds wait, bool& redraw) {
        const auto until = std::chrono::steady_clock::now() + wait;
        redraw = false;
        while (g_stop == 0 && std::chrono::steady_clock::now() < until) {
            const int key = getch();
            if (key == 'q' || key == 'Q') return false;
            const int step = key == KEY_DOWN || key == 'j'    ? 1
                             : key == KEY_UP || key == 'k'    ? -1
                             : key == KEY_NPAGE || key == ' ' ? 10
                             : key == KEY_PPAGE               ? -10
                                                              : 0;
            scroll_ += step;
            if (step != 0 || key == KEY_RESIZE) return redraw = true;
        }
        return g_stop == 0;
    }

  private:
    SCREEN* screen_ = nullptr;
    int scroll_ = 0;
};

}  // namespace

int top_command(Client& c, Args& a) {
    std::chrono::milliseconds interval{1000};
    long long iterations = -1;
    while (a.more()) {
        const std::string f = a.next("flag");
        if (f == "--interval")
            interval = std::chrono::milliseconds(a.number(f, 1, 3'600'000));
        else if (f == "--iterations")
            iterations = a.number(f, 1, 1'000'000'000);
        else
            a.unknown_flag(f);
    }
    if (::isatty(STDOUT_FILENO) == 0 || ::isatty(STDIN_FILENO) == 0) {
        std::fprintf(stderr,
                     "kbus: top needs a terminal; for a pipe or a script use kbus stats "
                     "(or kbus stats --json)\n");
        return 2;
    }
    std::signal(SIGINT, [](int) { g_stop = 1; });
    std::signal(SIGTERM, [](int) { g_stop = 1; });
    TopScreen screen;
    const std::string title = "kbus top: bus " + c.location().bus + ", every " +
                              std::to_string(interval.count()) + " ms (q quits)";
    stats::BusStats before = c.stats(), now = before;
    std::vector<std::string> mirrors = mirror_lines(c.location().run_dir);
    for (long long drawn = 0;;) {
        int width = 0, height = 0;
        getmaxyx(stdscr, height, width);
        (void)height;
        screen.draw(title + ", " + std::to_string(now.connections) + " connections",
                    top_body(now, before, mirrors, width - 1));
        if (drawn == iterations) break;
        bool redraw = false;
        if (!screen.keys(interval, redraw)) break;
        if (redraw) continue;  // a scroll or a new window size: the same figures, laid out again
        before = std::move(now);
        now = c.stats();
        mirrors = mirror_lines(c.location().run_dir);
        ++drawn;
    }
    return 0;
}

}  // namespace kbus::cli
