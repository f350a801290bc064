// The fault harness's history: every child process appends what it did to a file of its own, a
// line per event, each line written with one write(2) so a SIGKILL never leaves half a line. A
// line is written only after the event is certain (a send returned, a commit was acknowledged),
// so a child killed in between leaves the event out, never in. The check reads them all after.
//
//   A <partition> <offset> <key> <hash>  a send acknowledged (send or commit returned, or a
//                                        delivery report came)
//   D <partition> <offset> <key>         a claim whose producer is about to be killed
//   S <partition> <offset> <hash>        a record a consumer saw (and its next poll confirmed)
//   T <partition> <offset> <key>         a record delivered torn (its checksum did not hold)
//   X <partition> <from> <to>            offsets a consumer was told were lost to corruption
//   G <partition> <offset>               a group commit acknowledged
//   E <text>                             an error a child met and rode through
// and the state workers' C, R and K lines (harness/state_workers.hpp).
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace kbus::harness {

class HistoryFile {
  public:
    explicit HistoryFile(const std::string& path)
        : fd_(::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600)) {}
    HistoryFile(const HistoryFile&) = delete;
    HistoryFile& operator=(const HistoryFile&) = delete;
    ~HistoryFile() {
        if (fd_ >= 0) ::close(fd_);
    }
    // Lines ending in '\n', written at once.
    void write(const std::string& lines) const {
        for (std::size_t done = 0; done < lines.size();) {
            const ssize_t n = ::write(fd_, lines.data() + done, lines.size() - done);
            if (n <= 0) return;
            done += std::size_t(n);
        }
    }
    void error(const std::string& what) const {
        std::string line = "E " + what;
        for (char& c : line)
            if (c == '\n') c = ' ';
        write(line + "\n");
    }

  private:
    int fd_;
};

struct HistoryLine {
    char kind = 0;
    std::vector<std::string> fields;  // after the kind; E keeps its text as one field
    std::string source;               // the file it came from
};

// Every well-formed line of every file in `dir`, file by file in name order.
inline std::vector<HistoryLine> read_history(const std::string& dir) {
    std::vector<std::filesystem::path> files;
    for (const auto& e : std::filesystem::directory_iterator(dir))
        files.push_back(e.path());
    std::sort(files.begin(), files.end());
    std::vector<HistoryLine> out;
    for (const auto& f : files) {
        std::ifstream in(f);
        for (std::string text; std::getline(in, text);) {
            if (text.size() < 2 || text[1] != ' ') continue;
            HistoryLine line{text[0], {}, f.filename().string()};
            if (line.kind == 'E') {
                line.fields.push_back(text.substr(2));
            } else {
                std::istringstream words(text.substr(2));
                for (std::string w; words >> w;)
                    line.fields.push_back(w);
            }
            out.push_back(std::move(line));
        }
    }
    return out;
}

}  // namespace kbus::harness
