#include "topics/topic_store.hpp"

#include <sstream>

#include "kbus/error.hpp"
#include "kbus/names.hpp"
#include "log/file.hpp"

namespace kbus::topics {

std::string topic_store_path(const std::string& data_dir) {
    return data_dir + "/__kbus_topics";
}

std::string partition_dir(const std::string& data_dir, const std::string& topic,
                          std::int32_t partition) {
    return data_dir + "/" + topic + "-" + std::to_string(partition);
}

void save_topics(const std::string& data_dir, const TopicList& list) {
    std::ostringstream out;
    out << "# kbus topics, written by kbusd\nnext.id=" << list.next_id << "\n";
    for (const StoredTopic& t : list.topics) {
        out << t.name << " id=" << t.id << " partitions=" << t.partitions;
        for (const auto& [k, v] : t.settings)
            out << ' ' << k << '=' << v;
        out << '\n';
    }
    log::write_file_durably(topic_store_path(data_dir), out.str());
}

TopicList load_topics(const std::string& data_dir) {
    TopicList list;
    std::string text;
    const std::string path = topic_store_path(data_dir);
    if (!log::read_whole_file(path, text)) return list;
    std::istringstream in(text);
    std::string line;
    int number = 0;
    while (std::getline(in, line)) {
        ++number;
        if (line.empty() || line[0] == '#') continue;
        auto bad = [&](const std::string& why) {
            return Error(ErrorCode::invalid_argument,
                         path + ":" + std::to_string(number) + ": " + why);
        };
        try {
            if (line.starts_with("next.id=")) {
                list.next_id = std::stoull(line.substr(8));
                continue;
            }
            std::istringstream words(line);
            StoredTopic t;
            words >> t.name;
            if (!check_topic_name(t.name).empty()) throw bad("bad topic name");
            std::string word;
            while (words >> word) {
                const auto eq = word.find('=');
                if (eq == std::string::npos || eq == 0) throw bad("expected key=value");
                const std::string k = word.substr(0, eq), v = word.substr(eq + 1);
                if (k == "id")
                    t.id = std::stoull(v);
                else if (k == "partitions")
                    t.partitions = std::stoi(v);
                else
                    t.settings.emplace_back(k, v);
            }
            if (t.id == 0 || t.partitions < 1) throw bad("missing id or partitions");
            list.topics.push_back(std::move(t));
        } catch (const std::logic_error&) {
            throw bad("malformed number");
        }
    }
    return list;
}

}  // namespace kbus::topics
