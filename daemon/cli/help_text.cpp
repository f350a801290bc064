#include "help_text.hpp"

#include <map>
#include <utility>

namespace kbus::cli {
namespace {

constexpr const char* overview =
    "usage: kbus [--bus NAME] [--run-dir DIR] COMMAND ...   (kbus COMMAND --help: its flags)\n"
    "  --bus NAME         the bus (default: $KBUS_BUS, else \"default\")\n"
    "  --run-dir DIR      where its kbusd's socket is (default: $KBUS_RUN_DIR, else\n"
    "                     /run/kbus/BUS for root; else $XDG_RUNTIME_DIR/kbus/BUS, or\n"
    "                     ~/.local/state/kbus/BUS without XDG_RUNTIME_DIR)\n"
    "  -h, --help         this text\n"
    "  --version          kbus's version\n"
    "commands:\n"
    "  topic create|alter|list|describe|delete|delete-records  topics\n"
    "  produce TOPIC      one record per stdin line (kcat -P)\n"
    "  consume TOPIC      print records (kcat -C; -g GROUP as kcat -G)\n"
    "  group list|describe|reset-offsets|delete  consumer groups (kafka-consumer-groups)\n"
    "  stats              every partition's offsets, rates, ring fill, spill lag, group lag\n"
    "  top                the same, redrawn on a terminal until q\n"
    "  mirror             copy topics to and from a Kafka cluster\n";

constexpr const char* topic =
    "usage: kbus topic create NAME --partitions N [--config k=v]...\n"
    "       kbus topic alter NAME [--partitions N] [--config k=v]...\n"
    "       kbus topic list\n"
    "       kbus topic describe NAME\n"
    "       kbus topic delete NAME\n"
    "       kbus topic delete-records NAME --before OFFSET|end [--partition P]\n"
    "(kbus topic SUBCOMMAND --help: its flags)\n";

constexpr const char* topic_create =
    "usage: kbus topic create NAME [--partitions N] [--config k=v]...\n"
    "  NAME               1-249 of [a-zA-Z0-9._-], not . or ..\n"
    "  --partitions N     partitions (1..10000, default 1)\n"
    "  --config k=v       a topic setting (repeatable): retention.ms, retention.bytes,\n"
    "                     segment.bytes, segment.ms, compression.type, ring.bytes,\n"
    "                     max.message.bytes, message.timestamp.type, consumer.hold.timeout.ms,\n"
    "                     cleanup.policy (delete, compact, compact,delete),\n"
    "                     min.cleanable.dirty.ratio, min.compaction.lag.ms,\n"
    "                     max.compaction.lag.ms, delete.retention.ms\n";

constexpr const char* topic_alter =
    "usage: kbus topic alter NAME [--partitions N] [--config k=v]...\n"
    "  --partitions N     grow the topic to N partitions (never fewer; new keys hash over N)\n"
    "  --config k=v       a setting to change (repeatable): retention.ms, retention.bytes,\n"
    "                     segment.bytes, segment.ms, compression.type, cleanup.policy,\n"
    "                     ... (ring.bytes,\n"
    "                     max.message.bytes and message.timestamp.type are fixed at creation)\n";

constexpr const char* topic_delete_records =
    "usage: kbus topic delete-records NAME --before OFFSET|end [--partition P]\n"
    "  --before OFFSET    records below OFFSET go (end: every record there is now); the\n"
    "                     log start moves there, as Kafka's DeleteRecords\n"
    "  --partition P      only partition P (default: every partition)\n";

constexpr const char* topic_list = "usage: kbus topic list   (one topic name a line)\n";

constexpr const char* topic_describe =
    "usage: kbus topic describe NAME\n"
    "  its settings, and per partition the log start, high watermark, ring size and fill,\n"
    "  and the consumers reading from the ring\n";

constexpr const char* topic_delete =
    "usage: kbus topic delete NAME   (its records, on disk and in shared memory, go too)\n";

constexpr const char* produce =
    "usage: kbus produce TOPIC [flags] < records   (one record per line)\n"
    "  -K DELIM           split each line into key DELIM value\n"
    "  -p PARTITION       send to this partition (default: by key, else round robin)\n"
    "  -H KEY=VALUE       add a header to every record (repeatable; KEY alone: null)\n"
    "  -Z                 send an empty value as null: a tombstone (kcat -Z)\n"
    "  --exclusive        own each partition sent to until the end: no other producer\n"
    "                     may send there meanwhile (refused), and claims take no locked\n"
    "                     instruction\n"
    "  --transactional-id ID  send the whole input as one transaction of this\n"
    "                     transactional.id, committed at the end (fences an earlier\n"
    "                     producer with the same id)\n"
    "  --abort            with --transactional-id: abort the transaction at the end instead\n"
    "A line the bus refuses (no key for a compacted topic, too large) is reported and the\n"
    "rest are sent (exit status 1); in a transaction it ends the input and aborts it.\n";

constexpr const char* consume =
    "usage: kbus consume TOPIC [flags]\n"
    "  -p PARTITION       read this partition only (default: all)\n"
    "  -o OFFSET          beginning, end, N (an offset), -N (N before the end of each\n"
    "                     partition) or s@MS (the first record at or after a time, epoch ms)\n"
    "  -c COUNT           stop after COUNT records\n"
    "  -e                 stop at the end of the partitions\n"
    "  -f FORMAT          kcat's tokens: %t topic %p partition %o offset %k key %s value\n"
    "                     %S value size %K key size %T timestamp %h headers; escapes \\n \\t\n"
    "  -g GROUP           consume as a member of GROUP (as kcat -G), committing what was\n"
    "                     printed; -o is then where a group without commits starts\n"
    "                     (beginning or end)\n"
    "  --isolation LEVEL  read_uncommitted (default: every record) or read_committed\n"
    "                     (a transaction's records once it committed, never an aborted\n"
    "                     one's; reading waits at a transaction still open)\n"
    "SIGINT or SIGTERM stops it after the current poll (a group member commits and leaves).\n"
    "Records lost to a damaged log are named on stderr and read past; the exit status is\n"
    "then 1.\n";

constexpr const char* group =
    "usage: kbus group list\n"
    "       kbus group describe GROUP\n"
    "       kbus group reset-offsets GROUP --topic T WHERE [--dry-run | --execute]\n"
    "       kbus group delete GROUP\n"
    "(kbus group SUBCOMMAND --help: its flags)\n";

constexpr const char* group_list =
    "usage: kbus group list   (every group, its state and members)\n";

constexpr const char* group_describe =
    "usage: kbus group describe GROUP\n"
    "  members, and per partition the committed offset, log end offset, lag and owner\n";

constexpr const char* group_reset =
    "usage: kbus group reset-offsets GROUP --topic T WHERE [--dry-run | --execute]\n"
    "  --topic T          the topic whose committed offsets are reset\n"
    "  --to-earliest      WHERE: the log start\n"
    "  --to-latest        WHERE: the high watermark\n"
    "  --to-offset N      WHERE: offset N (kept within the log)\n"
    "  --to-datetime T    WHERE: the first offset at or after T,\n"
    "                     YYYY-MM-DDTHH:MM:SS[.mmm][Z|+HH:MM]\n"
    "  --dry-run          show the new offsets, change nothing (the default)\n"
    "  --execute          commit the new offsets (the group must have no members)\n";

constexpr const char* group_delete =
    "usage: kbus group delete GROUP   (its committed offsets; a group without members)\n";

constexpr const char* stats =
    "usage: kbus stats [flags]\n"
    "  --json             one JSON object, for scripts\n"
    "  --interval MS      measure rates over MS milliseconds (1..3600000, default 1000)\n";

constexpr const char* top =
    "usage: kbus top [flags]   (on a terminal; q or Ctrl-C quits)\n"
    "  --interval MS      redraw every MS milliseconds (1..3600000, default 1000)\n"
    "  --iterations N     stop after N redraws\n"
    "  keys: q quits, arrows or j/k scroll the partitions\n";

constexpr const char* mirror =
    "usage: kbus mirror --config FILE [--override key=value]... [--status]\n"
    "  --config FILE      bootstrap.servers, out.topics, in.topics (comma-separated\n"
    "                     regexes), out.topic.prefix, in.topic.prefix, group.id;\n"
    "                     any other key goes to librdkafka\n"
    "  --override k=v     a setting on top of the file (repeatable)\n"
    "  --status           print what the running mirror last reported, and exit\n";

}  // namespace

const char* help_text(const std::string& command, const std::string& subcommand) {
    static const std::map<std::pair<std::string, std::string>, const char*> texts{
        {{"", ""}, overview},
        {{"topic", ""}, topic},
        {{"topic", "create"}, topic_create},
        {{"topic", "alter"}, topic_alter},
        {{"topic", "list"}, topic_list},
        {{"topic", "describe"}, topic_describe},
        {{"topic", "delete"}, topic_delete},
        {{"topic", "delete-records"}, topic_delete_records},
        {{"produce", ""}, produce},
        {{"consume", ""}, consume},
        {{"group", ""}, group},
        {{"group", "list"}, group_list},
        {{"group", "describe"}, group_describe},
        {{"group", "reset-offsets"}, group_reset},
        {{"group", "delete"}, group_delete},
        {{"stats", ""}, stats},
        {{"top", ""}, top},
        {{"mirror", ""}, mirror},
    };
    if (auto it = texts.find({command, subcommand}); it != texts.end()) return it->second;
    return nullptr;
}

bool has_subcommands(const std::string& command) {
    return command == "topic" || command == "group";
}

}  // namespace kbus::cli
