// sarama (Debian's golang-github-shopify-sarama-dev 1.22.1) against kbusd's Kafka listener, run
// twice: at sarama's default config (Version 0.8.2.0: Metadata v0, Produce v0, Fetch v0,
// ListOffsets v0, message sets of magic 0) and at the newest version sarama 1.22.1 knows
// (MaxVersion, V2_2_0_0, printed "2.2.0": Metadata v5, Produce v3, Fetch v4, ListOffsets v1,
// RecordBatch v2). Sarama does not negotiate: Config.Version alone picks every request's version.
// Each step prints one line and checks what a client sees from a Kafka 3.9 broker; where the
// version rules a step out, the line says so and checks what applies instead. A failing step
// prints why and the run goes on; the program exits 1 naming every failed step, else its last
// line is "sarama: all steps passed".
//
//	sarama_client BROKER
package main

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log"
	"math/rand"
	"os"
	"reflect"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/Shopify/sarama"
)

var (
	broker string
	run    string // this run's suffix on topic and group names
	failed []string
	// The admin client that makes each run's topic: at 0.8.2.0 sarama has no admin (nor any
	// CreateTopics), so the topic of that run is made at MaxVersion, as an operator would.
	setupAdmin sarama.ClusterAdmin
)

// One run of the steps, at one Config.Version.
type target struct {
	label   string // in every line of the run
	pinned  bool   // Version set, else sarama.NewConfig()'s
	version sarama.KafkaVersion
	topic   string       // 3 partitions, made before the steps
	base    time.Time    // the keyed records' timestamps: base + 10 ms * i
	sent    []sentRecord // every record produced to topic, as the producer's reply placed it
}

type sentRecord struct {
	key, value string
	partition  int32
	offset     int64
	timestamp  time.Time             // zero where the version carries none
	headers    []sarama.RecordHeader // likewise
}

func (t *target) config() *sarama.Config {
	c := sarama.NewConfig()
	if t.pinned {
		c.Version = t.version
	}
	c.ClientID = "kbus-sarama-test"
	c.Producer.Return.Successes = true // a SyncProducer needs it
	c.Consumer.Return.Errors = true
	return c
}

func (t *target) atLeast(v sarama.KafkaVersion) bool { return t.config().Version.IsAtLeast(v) }

func say(format string, args ...interface{}) {
	fmt.Printf("sarama: "+format+"\n", args...)
}

// step runs one check, which answers its line or an error; a panic (sarama dereferences a nil
// answer in places) or a hang past 90 s counts as the step's failure.
func (t *target) step(name string, check func() (string, error)) bool {
	type result struct {
		line string
		err  error
	}
	done := make(chan result, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				done <- result{err: fmt.Errorf("panic: %v", p)}
			}
		}()
		line, err := check()
		done <- result{line, err}
	}()
	var r result
	select {
	case r = <-done:
	case <-time.After(90 * time.Second):
		r.err = errors.New("no answer within 90 s")
	}
	if r.err != nil {
		say("[%s] %s: FAILED: %v", t.label, name, r.err)
		failed = append(failed, fmt.Sprintf("[%s] %s", t.label, name))
		return false
	}
	say("[%s] %s: %s", t.label, name, r.line)
	return true
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: sarama_client BROKER")
		os.Exit(2)
	}
	broker = os.Args[1]
	if os.Getenv("SARAMA_LOG") != "" {
		sarama.Logger = log.New(os.Stderr, "[sarama] ", log.Ltime|log.Lmicroseconds)
	}
	rand.Seed(time.Now().UnixNano())
	run = fmt.Sprintf("%08x", rand.Uint32())

	admin := &target{label: "setup", pinned: true, version: sarama.MaxVersion}
	var err error
	if setupAdmin, err = sarama.NewClusterAdmin([]string{broker}, admin.config()); err != nil {
		say("[setup] admin client: FAILED: NewClusterAdmin at %s: %v", sarama.MaxVersion, err)
		os.Exit(1)
	}
	defer setupAdmin.Close()

	targets := []*target{
		{label: "default " + sarama.NewConfig().Version.String(), version: sarama.NewConfig().Version},
		{label: sarama.MaxVersion.String(), pinned: true, version: sarama.MaxVersion},
	}
	for _, t := range targets {
		t.topic = fmt.Sprintf("sarama-%s-%s", run, strings.ReplaceAll(t.config().Version.String(), ".", "-"))
		t.base = time.Now().Add(-time.Hour).Truncate(time.Millisecond)
		if !t.step("setup", t.createTopic) {
			continue
		}
		t.step("metadata", t.metadata)
		if t.atLeast(sarama.V0_10_0_0) {
			t.step("admin: create topic", t.adminCreate)
			t.step("admin: describe config", t.adminDescribeConfig)
			t.step("admin: alter config", t.adminAlterConfig)
			t.step("admin: alter config replaces the set", t.adminAlterReplaces)
			t.step("admin: create partitions", t.adminCreatePartitions)
			t.step("admin: delete records", t.adminDeleteRecords)
			t.step("admin: delete topic", t.adminDeleteTopic)
		} else {
			t.step("admin", t.adminRefused)
		}
		t.step("keyed produce", t.keyedProduce)
		t.step("consume with headers and timestamps", t.consumeHeadersTimestamps)
		if t.atLeast(sarama.V0_10_2_0) {
			t.step("consumer group: commit and resume", t.groupCommitResume)
			t.step("consumer group: rebalance", t.groupRebalance)
		} else {
			t.step("consumer group", t.offsetManagerCommitResume)
		}
		t.step("list offsets", t.listOffsets)
		for _, codec := range []sarama.CompressionCodec{sarama.CompressionGZIP,
			sarama.CompressionSnappy, sarama.CompressionLZ4, sarama.CompressionZSTD} {
			codec := codec
			t.step("compression "+codecName(codec), func() (string, error) { return t.compressed(codec) })
		}
		t.step("idempotent producer", t.idempotent)
		if err := setupAdmin.DeleteTopic(t.topic); err != nil {
			say("[%s] cleanup: could not delete %s: %v", t.label, t.topic, err)
		}
	}
	if len(failed) > 0 {
		say("%d step(s) failed: %s", len(failed), strings.Join(failed, "; "))
		os.Exit(1)
	}
	fmt.Println("sarama: all steps passed")
}

// ---- setup and metadata ----

func (t *target) createTopic() (string, error) {
	if err := setupAdmin.CreateTopic(t.topic, &sarama.TopicDetail{NumPartitions: 3, ReplicationFactor: 1}, false); err != nil {
		return "", fmt.Errorf("CreateTopics v2 of %s: %v", t.topic, err)
	}
	why := ""
	if !t.atLeast(sarama.V0_10_1_0) {
		why = fmt.Sprintf(" (sarama has no CreateTopics at %s)", t.config().Version)
	}
	return fmt.Sprintf("topic %s made with 3 partitions by CreateTopics v2 from a %s admin client%s", t.topic, sarama.MaxVersion, why), nil
}

func metadataVersion(c *sarama.Config) int {
	switch {
	case c.Version.IsAtLeast(sarama.V1_0_0_0):
		return 5
	case c.Version.IsAtLeast(sarama.V0_10_0_0):
		return 1
	}
	return 0
}

func (t *target) metadata() (string, error) {
	client, err := sarama.NewClient([]string{broker}, t.config())
	if err != nil {
		return "", err
	}
	defer client.Close()
	if err := client.RefreshMetadata(t.topic); err != nil {
		return "", err
	}
	brokers := client.Brokers()
	if len(brokers) != 1 {
		return "", fmt.Errorf("%d brokers listed, want 1", len(brokers))
	}
	b := brokers[0]
	if b.Addr() != broker {
		return "", fmt.Errorf("broker %d listed at %s, want %s", b.ID(), b.Addr(), broker)
	}
	topics, err := client.Topics()
	if err != nil {
		return "", err
	}
	if !contains(topics, t.topic) {
		return "", fmt.Errorf("%s not among the topics listed: %v", t.topic, topics)
	}
	parts, err := client.Partitions(t.topic)
	if err != nil {
		return "", err
	}
	if !reflect.DeepEqual(parts, []int32{0, 1, 2}) {
		return "", fmt.Errorf("partitions %v, want [0 1 2]", parts)
	}
	for _, p := range parts {
		leader, err := client.Leader(t.topic, p)
		if err != nil {
			return "", fmt.Errorf("partition %d: %v", p, err)
		}
		replicas, _ := client.Replicas(t.topic, p)
		isr, _ := client.InSyncReplicas(t.topic, p)
		if leader.ID() != b.ID() || !reflect.DeepEqual(replicas, []int32{b.ID()}) || !reflect.DeepEqual(isr, []int32{b.ID()}) {
			return "", fmt.Errorf("partition %d: leader %d, replicas %v, isr %v; want broker %d", p, leader.ID(), replicas, isr, b.ID())
		}
	}
	controller := "no controller below Metadata v1"
	if t.atLeast(sarama.V0_10_0_0) {
		c, err := client.Controller()
		if err != nil {
			return "", fmt.Errorf("controller: %v", err)
		}
		if c.ID() != b.ID() {
			return "", fmt.Errorf("controller %d, want %d", c.ID(), b.ID())
		}
		controller = fmt.Sprintf("controller %d", c.ID())
	}
	return fmt.Sprintf("Metadata v%d: 1 broker (%d at %s), %s listed with partitions %v, each led by broker %d (replicas and isr [%d]); %s",
		metadataVersion(t.config()), b.ID(), b.Addr(), t.topic, parts, b.ID(), b.ID(), controller), nil
}

// ---- admin ----

func (t *target) adminRefused() (string, error) {
	ca, err := sarama.NewClusterAdmin([]string{broker}, t.config())
	if err == nil {
		ca.Close()
		return "", errors.New("NewClusterAdmin accepted a version below 0.10.0.0")
	}
	if err != sarama.ErrUnsupportedVersion {
		return "", fmt.Errorf("NewClusterAdmin: %v, want sarama's ErrUnsupportedVersion", err)
	}
	return fmt.Sprintf("ClusterAdmin needs 0.10.0.0: at %s NewClusterAdmin answers sarama's own ErrUnsupportedVersion, no request sent", t.config().Version), nil
}

func (t *target) adminTopic() string { return "sarama-adm-" + run }

func (t *target) admin() (sarama.ClusterAdmin, error) {
	return sarama.NewClusterAdmin([]string{broker}, t.config())
}

func (t *target) adminCreate() (string, error) {
	ca, err := t.admin()
	if err != nil {
		return "", err
	}
	defer ca.Close()
	topic := t.adminTopic()
	if err := ca.CreateTopic(topic, &sarama.TopicDetail{NumPartitions: 3, ReplicationFactor: 1}, false); err != nil {
		return "", fmt.Errorf("CreateTopics v2: %v", err)
	}
	err = ca.CreateTopic(topic, &sarama.TopicDetail{NumPartitions: 3, ReplicationFactor: 1}, false)
	if te, ok := err.(*sarama.TopicError); !ok || te.Err != sarama.ErrTopicAlreadyExists {
		return "", fmt.Errorf("creating %s again answered %v, want TOPIC_ALREADY_EXISTS", topic, err)
	}
	md, err := ca.DescribeTopics([]string{topic})
	if err != nil {
		return "", fmt.Errorf("DescribeTopics: %v", err)
	}
	if err := checkTopicMetadata(md, topic, 3); err != nil {
		return "", err
	}
	listed, err := ca.ListTopics()
	if err != nil {
		return "", fmt.Errorf("ListTopics: %v", err)
	}
	if d, ok := listed[topic]; !ok || d.NumPartitions != 3 || d.ReplicationFactor != 1 {
		return "", fmt.Errorf("ListTopics: %s listed as %+v (present: %v)", topic, d, ok)
	}
	return fmt.Sprintf("CreateTopics v2 made %s with 3 partitions (again: TOPIC_ALREADY_EXISTS); DescribeTopics (Metadata v5) and ListTopics show 3 partitions, replication factor 1", topic), nil
}

func checkTopicMetadata(md []*sarama.TopicMetadata, topic string, partitions int) error {
	if len(md) != 1 || md[0].Name != topic || md[0].Err != sarama.ErrNoError {
		return fmt.Errorf("DescribeTopics(%s): %s", topic, describeMetadata(md))
	}
	var ids []int32
	for _, p := range md[0].Partitions {
		if p.Err != sarama.ErrNoError || p.Leader < 0 {
			return fmt.Errorf("DescribeTopics(%s): partition %d: error %v, leader %d", topic, p.ID, p.Err, p.Leader)
		}
		ids = append(ids, p.ID)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	want := make([]int32, partitions)
	for i := range want {
		want[i] = int32(i)
	}
	if !reflect.DeepEqual(ids, want) {
		return fmt.Errorf("DescribeTopics(%s): partitions %v, want %v", topic, ids, want)
	}
	return nil
}

func describeMetadata(md []*sarama.TopicMetadata) string {
	var s []string
	for _, m := range md {
		s = append(s, fmt.Sprintf("{%s err=%v partitions=%d}", m.Name, m.Err, len(m.Partitions)))
	}
	return "[" + strings.Join(s, " ") + "]"
}

func (t *target) describeConfig(ca sarama.ClusterAdmin, topic string) (map[string]sarama.ConfigEntry, error) {
	entries, err := ca.DescribeConfig(sarama.ConfigResource{Type: sarama.TopicResource, Name: topic})
	if err != nil {
		return nil, fmt.Errorf("DescribeConfigs v0: %v", err)
	}
	m := map[string]sarama.ConfigEntry{}
	for _, e := range entries {
		m[e.Name] = e
	}
	return m, nil
}

func (t *target) adminDescribeConfig() (string, error) {
	ca, err := t.admin()
	if err != nil {
		return "", err
	}
	defer ca.Close()
	cfg, err := t.describeConfig(ca, t.adminTopic())
	if err != nil {
		return "", err
	}
	for name, want := range map[string]string{"retention.ms": "604800000", "retention.bytes": "-1", "segment.bytes": "1073741824"} {
		e, ok := cfg[name]
		if !ok || e.Value != want || e.ReadOnly {
			return "", fmt.Errorf("%s: %+v (present: %v), want value %s, not read-only (%d entries)", name, e, ok, want, len(cfg))
		}
	}
	return fmt.Sprintf("DescribeConfigs v0: %d entries, retention.ms=604800000, retention.bytes=-1, segment.bytes=1073741824 (Kafka's defaults)", len(cfg)), nil
}

// rawAlterConfigs: what AlterConfigs answered, which sarama's AlterConfig drops when the error
// comes without a message. For the failure line only.
func (t *target) rawAlterConfigs(topic string, entries map[string]*string) string {
	client, err := sarama.NewClient([]string{broker}, t.config())
	if err != nil {
		return fmt.Sprintf("(no client to ask again: %v)", err)
	}
	defer client.Close()
	c, err := client.Controller()
	if err != nil {
		return fmt.Sprintf("(no controller to ask again: %v)", err)
	}
	resp, err := c.AlterConfigs(&sarama.AlterConfigsRequest{Resources: []*sarama.AlterConfigsResource{
		{Type: sarama.TopicResource, Name: topic, ConfigEntries: entries}}})
	if err != nil {
		return fmt.Sprintf("(AlterConfigs v0 sent again: %v)", err)
	}
	var s []string
	for _, r := range resp.Resources {
		s = append(s, fmt.Sprintf("%s: error %d %v %q", r.Name, r.ErrorCode, sarama.KError(r.ErrorCode), r.ErrorMsg))
	}
	return "(AlterConfigs v0 sent again answered " + strings.Join(s, ", ") + ")"
}

func str(s string) *string { return &s }

func (t *target) adminAlterConfig() (string, error) {
	ca, err := t.admin()
	if err != nil {
		return "", err
	}
	defer ca.Close()
	topic := t.adminTopic()
	set := map[string]*string{"retention.ms": str("3600000")}
	if err := ca.AlterConfig(sarama.TopicResource, topic, set, false); err != nil {
		return "", fmt.Errorf("AlterConfigs v0 retention.ms=3600000: %v", err)
	}
	cfg, err := t.describeConfig(ca, topic)
	if err != nil {
		return "", err
	}
	if e := cfg["retention.ms"]; e.Value != "3600000" || e.Default {
		return "", fmt.Errorf("after AlterConfigs retention.ms=3600000, DescribeConfigs shows %+v %s", e, t.rawAlterConfigs(topic, set))
	}
	return "AlterConfigs v0 retention.ms=3600000, then DescribeConfigs v0 shows 3600000, not a default", nil
}

// AlterConfigs (unlike IncrementalAlterConfigs) replaces a topic's whole set of overrides: a key
// left out of the request goes back to its default.
func (t *target) adminAlterReplaces() (string, error) {
	ca, err := t.admin()
	if err != nil {
		return "", err
	}
	defer ca.Close()
	topic := t.adminTopic()
	both := map[string]*string{"retention.ms": str("3600000"), "retention.bytes": str("1048576")}
	if err := ca.AlterConfig(sarama.TopicResource, topic, both, false); err != nil {
		return "", fmt.Errorf("AlterConfigs v0 of two keys: %v", err)
	}
	cfg, err := t.describeConfig(ca, topic)
	if err != nil {
		return "", err
	}
	if cfg["retention.ms"].Value != "3600000" || cfg["retention.bytes"].Value != "1048576" {
		return "", fmt.Errorf("after AlterConfigs retention.ms=3600000 retention.bytes=1048576: DescribeConfigs shows retention.ms=%s retention.bytes=%s %s",
			cfg["retention.ms"].Value, cfg["retention.bytes"].Value, t.rawAlterConfigs(topic, both))
	}
	one := map[string]*string{"retention.ms": str("7200000")}
	if err := ca.AlterConfig(sarama.TopicResource, topic, one, false); err != nil {
		return "", fmt.Errorf("AlterConfigs v0 of retention.ms alone: %v", err)
	}
	if cfg, err = t.describeConfig(ca, topic); err != nil {
		return "", err
	}
	if cfg["retention.ms"].Value != "7200000" || cfg["retention.bytes"].Value != "-1" {
		return "", fmt.Errorf("after AlterConfigs of retention.ms=7200000 alone: DescribeConfigs shows retention.ms=%s retention.bytes=%s, want 7200000 and -1 (AlterConfigs replaces the set)",
			cfg["retention.ms"].Value, cfg["retention.bytes"].Value)
	}
	return "AlterConfigs v0 of retention.ms and retention.bytes shown by DescribeConfigs; a second one of retention.ms=7200000 alone put retention.bytes back to -1", nil
}

func (t *target) adminCreatePartitions() (string, error) {
	ca, err := t.admin()
	if err != nil {
		return "", err
	}
	defer ca.Close()
	topic := t.adminTopic()
	if err := ca.CreatePartitions(topic, 4, nil, false); err != nil {
		return "", fmt.Errorf("CreatePartitions v0 3 -> 4: %v", err)
	}
	md, err := ca.DescribeTopics([]string{topic})
	if err != nil {
		return "", fmt.Errorf("DescribeTopics: %v", err)
	}
	if err := checkTopicMetadata(md, topic, 4); err != nil {
		return "", fmt.Errorf("after CreatePartitions 3 -> 4: %v", err)
	}
	// The new partition takes records.
	part, off, err := t.sendTo(topic, 3, "new", "in-partition-3")
	if err != nil {
		return "", fmt.Errorf("produce to partition 3: %v", err)
	}
	if part != 3 || off != 0 {
		return "", fmt.Errorf("produce to partition 3: reply says partition %d offset %d, want 3 and 0", part, off)
	}
	err = ca.CreatePartitions(topic, 2, nil, false)
	if te, ok := err.(*sarama.TopicPartitionError); !ok || te.Err != sarama.ErrInvalidPartitions {
		return "", fmt.Errorf("CreatePartitions 4 -> 2 answered %v, want INVALID_PARTITIONS", err)
	}
	return "CreatePartitions v0 3 -> 4, then DescribeTopics shows partitions 0-3 and partition 3 takes a record at offset 0; 4 -> 2 is INVALID_PARTITIONS", nil
}

// sendTo produces one record to a partition chosen by hand, at this run's version.
func (t *target) sendTo(topic string, partition int32, key, value string) (int32, int64, error) {
	cfg := t.config()
	cfg.Producer.Partitioner = sarama.NewManualPartitioner
	p, err := sarama.NewSyncProducer([]string{broker}, cfg)
	if err != nil {
		return 0, 0, err
	}
	defer p.Close()
	return p.SendMessage(&sarama.ProducerMessage{Topic: topic, Partition: partition,
		Key: sarama.StringEncoder(key), Value: sarama.StringEncoder(value)})
}

func (t *target) adminDeleteRecords() (string, error) {
	ca, err := t.admin()
	if err != nil {
		return "", err
	}
	defer ca.Close()
	topic := t.adminTopic()
	cfg := t.config()
	cfg.Producer.Partitioner = sarama.NewManualPartitioner
	p, err := sarama.NewSyncProducer([]string{broker}, cfg)
	if err != nil {
		return "", err
	}
	for i := 0; i < 10; i++ {
		_, off, err := p.SendMessage(&sarama.ProducerMessage{Topic: topic, Partition: 0,
			Key: sarama.StringEncoder(fmt.Sprintf("r%d", i)), Value: sarama.StringEncoder(fmt.Sprintf("record-%d", i))})
		if err != nil || off != int64(i) {
			p.Close()
			return "", fmt.Errorf("record %d: offset %d, %v", i, off, err)
		}
	}
	p.Close()
	if err := ca.DeleteRecords(topic, map[int32]int64{0: 4}); err != nil {
		return "", fmt.Errorf("DeleteRecords v0 before offset 4: %v", err)
	}
	client, err := sarama.NewClient([]string{broker}, t.config())
	if err != nil {
		return "", err
	}
	defer client.Close()
	oldest, err1 := client.GetOffset(topic, 0, sarama.OffsetOldest)
	newest, err2 := client.GetOffset(topic, 0, sarama.OffsetNewest)
	if err1 != nil || err2 != nil || oldest != 4 || newest != 10 {
		return "", fmt.Errorf("after DeleteRecords before offset 4: log start %d (%v), end %d (%v); want 4 and 10 %s",
			oldest, err1, newest, err2, t.rawDeleteRecords(topic, 4))
	}
	msgs, err := readPartition(client, topic, 0, sarama.OffsetOldest, 6)
	if err != nil {
		return "", fmt.Errorf("reading from the log start: %v", err)
	}
	if msgs[0].Offset != 4 || string(msgs[0].Value) != "record-4" {
		return "", fmt.Errorf("reading from the log start: first record at %d %q, want 4 \"record-4\"", msgs[0].Offset, msgs[0].Value)
	}
	return "DeleteRecords v0 of partition 0 before offset 4 (of 10): ListOffsets earliest says 4, latest 10, and a read from the earliest starts at record-4", nil
}

// rawDeleteRecords: DeleteRecords' own answer, which sarama's ClusterAdmin does not look at.
func (t *target) rawDeleteRecords(topic string, before int64) string {
	client, err := sarama.NewClient([]string{broker}, t.config())
	if err != nil {
		return fmt.Sprintf("(no client to ask again: %v)", err)
	}
	defer client.Close()
	c, err := client.Controller()
	if err != nil {
		return fmt.Sprintf("(no controller to ask again: %v)", err)
	}
	resp, err := c.DeleteRecords(&sarama.DeleteRecordsRequest{Timeout: 10 * time.Second, Topics: map[string]*sarama.DeleteRecordsRequestTopic{
		topic: {PartitionOffsets: map[int32]int64{0: before}}}})
	if err != nil {
		return fmt.Sprintf("(DeleteRecords v0 sent again: %v)", err)
	}
	if tp := resp.Topics[topic]; tp != nil && tp.Partitions[0] != nil {
		return fmt.Sprintf("(DeleteRecords v0 sent again answered low watermark %d, error %v)", tp.Partitions[0].LowWatermark, tp.Partitions[0].Err)
	}
	return "(DeleteRecords v0 sent again: no partition 0 in the answer)"
}

func (t *target) adminDeleteTopic() (string, error) {
	ca, err := t.admin()
	if err != nil {
		return "", err
	}
	defer ca.Close()
	topic := t.adminTopic()
	if err := ca.DeleteTopic(topic); err != nil {
		return "", fmt.Errorf("DeleteTopics v1: %v", err)
	}
	listed, err := ca.ListTopics()
	if err != nil {
		return "", fmt.Errorf("ListTopics: %v", err)
	}
	if _, ok := listed[topic]; ok {
		return "", fmt.Errorf("%s still listed after DeleteTopics", topic)
	}
	md, err := ca.DescribeTopics([]string{topic})
	if err != nil {
		return "", fmt.Errorf("DescribeTopics: %v", err)
	}
	if len(md) != 1 || md[0].Err != sarama.ErrUnknownTopicOrPartition {
		return "", fmt.Errorf("DescribeTopics of the deleted topic: %s, want UNKNOWN_TOPIC_OR_PARTITION", describeMetadata(md))
	}
	return fmt.Sprintf("DeleteTopics v1 of %s: no longer listed, and Metadata v5 answers UNKNOWN_TOPIC_OR_PARTITION for it", topic), nil
}

// ---- produce and consume ----

// sarama's NewHashPartitioner (the default): FNV-1a 32 of the key, as int32, modulo the partition
// count, its absolute value. Not Java's murmur2.
func fnvPartition(key string, partitions int32) int32 {
	h := fnv.New32a()
	h.Write([]byte(key))
	p := int32(h.Sum32()) % partitions
	if p < 0 {
		p = -p
	}
	return p
}

func produceVersion(c *sarama.Config) int {
	switch {
	case c.Version.IsAtLeast(sarama.V0_11_0_0):
		return 3
	case c.Version.IsAtLeast(sarama.V0_10_0_0):
		return 2
	}
	return 0
}

func fetchVersion(c *sarama.Config) int {
	switch {
	case c.Version.IsAtLeast(sarama.V0_11_0_0):
		return 4
	case c.Version.IsAtLeast(sarama.V0_10_1_0):
		return 3
	case c.Version.IsAtLeast(sarama.V0_10_0_0):
		return 2
	case c.Version.IsAtLeast(sarama.V0_9_0_0):
		return 1
	}
	return 0
}

const keyed = 30

func (t *target) keyedProduce() (string, error) {
	cfg := t.config() // Producer.Partitioner: sarama.NewHashPartitioner
	p, err := sarama.NewSyncProducer([]string{broker}, cfg)
	if err != nil {
		return "", err
	}
	defer p.Close()
	counts := map[int32]int{}
	for i := 0; i < keyed; i++ {
		key := fmt.Sprintf("key-%d", i)
		// Headers where the version has them (sarama refuses them below 0.11.0.0), timestamps
		// likewise (magic 0 has none: sarama leaves them out below 0.10.0.0).
		var headers []sarama.RecordHeader
		if t.atLeast(sarama.V0_11_0_0) {
			headers = []sarama.RecordHeader{{Key: []byte("h"), Value: []byte(fmt.Sprint(i))},
				{Key: []byte("run"), Value: []byte(run)}}
		}
		var ts time.Time
		if t.atLeast(sarama.V0_10_0_0) {
			ts = t.base.Add(time.Duration(i) * 10 * time.Millisecond)
		}
		msg := &sarama.ProducerMessage{Topic: t.topic, Key: sarama.StringEncoder(key),
			Value: sarama.StringEncoder(fmt.Sprintf("value-%d", i)), Headers: headers, Timestamp: ts}
		part, off, err := p.SendMessage(msg)
		if err != nil {
			return "", fmt.Errorf("%s: %v", key, err)
		}
		if want := fnvPartition(key, 3); part != want {
			return "", fmt.Errorf("%s on partition %d, FNV-1a says %d", key, part, want)
		}
		t.sent = append(t.sent, sentRecord{key, fmt.Sprintf("value-%d", i), part, off, ts, headers})
		counts[part]++
	}
	client, err := sarama.NewClient([]string{broker}, t.config())
	if err != nil {
		return "", err
	}
	defer client.Close()
	for part := int32(0); part < 3; part++ {
		var mine []sentRecord
		for _, s := range t.sent {
			if s.partition == part {
				mine = append(mine, s)
			}
		}
		if len(mine) == 0 {
			continue
		}
		first, last := mine[0].offset, mine[len(mine)-1].offset
		msgs, err := readPartition(client, t.topic, part, first, int(last-first+1))
		if err != nil {
			return "", fmt.Errorf("partition %d: %v", part, err)
		}
		at := map[int64]*sarama.ConsumerMessage{}
		for _, m := range msgs {
			at[m.Offset] = m
		}
		for _, s := range mine {
			m := at[s.offset]
			if m == nil || string(m.Key) != s.key || string(m.Value) != s.value {
				return "", fmt.Errorf("%s: the reply said partition %d offset %d, where the record read is %s", s.key, part, s.offset, describeMessage(m))
			}
		}
	}
	return fmt.Sprintf("Produce v%d: %d keyed records, each on the partition of sarama's FNV-1a hash partitioner (p0 %d, p1 %d, p2 %d) and read back (Fetch v%d) at the partition and offset its reply named",
		produceVersion(cfg), keyed, counts[0], counts[1], counts[2], fetchVersion(cfg)), nil
}

func describeMessage(m *sarama.ConsumerMessage) string {
	if m == nil {
		return "none"
	}
	return fmt.Sprintf("%q=%q at %d/%d", m.Key, m.Value, m.Partition, m.Offset)
}

// readPartition reads n records from offset (or fewer, and an error, within 20 s).
func readPartition(client sarama.Client, topic string, partition int32, offset int64, n int) ([]*sarama.ConsumerMessage, error) {
	consumer, err := sarama.NewConsumerFromClient(client)
	if err != nil {
		return nil, err
	}
	defer consumer.Close()
	pc, err := consumer.ConsumePartition(topic, partition, offset)
	if err != nil {
		return nil, fmt.Errorf("ConsumePartition(%s, %d, %d): %v", topic, partition, offset, err)
	}
	defer pc.Close()
	var msgs []*sarama.ConsumerMessage
	deadline := time.After(20 * time.Second)
	for len(msgs) < n {
		select {
		case m := <-pc.Messages():
			msgs = append(msgs, m)
		case e := <-pc.Errors():
			return msgs, fmt.Errorf("reading %s/%d from %d: %v", topic, partition, offset, e.Err)
		case <-deadline:
			return msgs, fmt.Errorf("read %d of %d records of %s/%d from offset %d in 20 s", len(msgs), n, topic, partition, offset)
		}
	}
	return msgs, nil
}

func (t *target) consumeHeadersTimestamps() (string, error) {
	if len(t.sent) < keyed {
		return "", errors.New("the keyed records were not produced")
	}
	client, err := sarama.NewClient([]string{broker}, t.config())
	if err != nil {
		return "", err
	}
	defer client.Close()
	got := map[string]*sarama.ConsumerMessage{}
	for part := int32(0); part < 3; part++ {
		end, err := client.GetOffset(t.topic, part, sarama.OffsetNewest)
		if err != nil {
			return "", fmt.Errorf("partition %d end: %v", part, err)
		}
		if end == 0 {
			continue
		}
		msgs, err := readPartition(client, t.topic, part, sarama.OffsetOldest, int(end))
		if err != nil {
			return "", err
		}
		for _, m := range msgs {
			if got[string(m.Key)] != nil {
				return "", fmt.Errorf("%s read twice", m.Key)
			}
			got[string(m.Key)] = m
		}
	}
	if len(got) != keyed {
		return "", fmt.Errorf("read %d records, produced %d", len(got), keyed)
	}
	headers := t.atLeast(sarama.V0_11_0_0)
	times := t.atLeast(sarama.V0_10_0_0)
	for _, s := range t.sent[:keyed] {
		m := got[s.key]
		if m == nil || string(m.Value) != s.value || m.Partition != s.partition || m.Offset != s.offset {
			return "", fmt.Errorf("%s: read %s, produced %q at %d/%d", s.key, describeMessage(m), s.value, s.partition, s.offset)
		}
		want := s.headers
		var have []sarama.RecordHeader
		for _, h := range m.Headers {
			have = append(have, *h)
		}
		if !reflect.DeepEqual(have, want) {
			return "", fmt.Errorf("%s: headers %s, want %s", s.key, showHeaders(have), showHeaders(want))
		}
		if times && !m.Timestamp.Equal(s.timestamp) {
			return "", fmt.Errorf("%s: timestamp %d, produced %d", s.key, m.Timestamp.UnixMilli(), s.timestamp.UnixMilli())
		}
		if !times && !m.Timestamp.IsZero() {
			return "", fmt.Errorf("%s: a timestamp %v on a magic 0 message", s.key, m.Timestamp)
		}
	}
	cfg := t.config()
	switch {
	case headers:
		return fmt.Sprintf("Fetch v%d from the earliest offset: all %d records once each, with their headers (h, run) and CreateTime timestamps as produced", fetchVersion(cfg), keyed), nil
	case times:
		return fmt.Sprintf("Fetch v%d: all %d records once each with their timestamps; headers need 0.11.0.0 (RecordBatch v2), so none were sent and none came back", fetchVersion(cfg), keyed), nil
	}
	return fmt.Sprintf("Fetch v%d: all %d records once each; at %s records are magic 0 messages, which carry neither headers (0.11.0.0) nor timestamps (0.10.0.0): none were sent, and they read back with none",
		fetchVersion(cfg), keyed, cfg.Version), nil
}

func showHeaders(hs []sarama.RecordHeader) string {
	var s []string
	for _, h := range hs {
		s = append(s, fmt.Sprintf("%s=%s", h.Key, h.Value))
	}
	return "[" + strings.Join(s, " ") + "]"
}

// ---- consumer groups ----

// collector is a ConsumerGroupHandler that hands every record on, marks it consumed, and keeps
// the claims of the member's current session.
type collector struct {
	topic    string
	metadata string // committed with each offset
	messages chan *sarama.ConsumerMessage

	mu     sync.Mutex
	gen    int32
	claims []int32
	active bool
}

func newCollector(topic string) *collector {
	return &collector{topic: topic, messages: make(chan *sarama.ConsumerMessage, 1024)}
}

func (c *collector) Setup(s sarama.ConsumerGroupSession) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen, c.claims, c.active = s.GenerationID(), append([]int32(nil), s.Claims()[c.topic]...), true
	return nil
}

func (c *collector) Cleanup(sarama.ConsumerGroupSession) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.active = false
	return nil
}

func (c *collector) ConsumeClaim(s sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	for m := range claim.Messages() {
		s.MarkMessage(m, c.metadata)
		select {
		case c.messages <- m:
		default:
		}
	}
	return nil
}

func (c *collector) state() (int32, []int32, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen, c.claims, c.active
}

// member runs a group member's Consume loop (a rebalance ends a session; the loop joins again)
// until stop, then closes the group; its errors are kept for the failure line.
type member struct {
	group  sarama.ConsumerGroup
	h      *collector
	cancel context.CancelFunc
	done   chan struct{}
	mu     sync.Mutex
	errs   []string
}

func (t *target) startMember(groupID string) (*member, error) {
	cfg := t.config()
	cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	g, err := sarama.NewConsumerGroup([]string{broker}, groupID, cfg)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	m := &member{group: g, h: newCollector(t.topic), cancel: cancel, done: make(chan struct{})}
	m.h.metadata = "by " + groupID
	go func() {
		for e := range g.Errors() {
			m.note(e)
		}
	}()
	go func() {
		defer close(m.done)
		for ctx.Err() == nil {
			if err := g.Consume(ctx, []string{t.topic}, m.h); err != nil {
				m.note(err)
				select {
				case <-ctx.Done():
				case <-time.After(500 * time.Millisecond):
				}
			}
		}
	}()
	return m, nil
}

func (m *member) note(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.errs) < 5 {
		m.errs = append(m.errs, err.Error())
	}
}

func (m *member) errors() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.errs) == 0 {
		return "no errors from the group"
	}
	return "group errors: " + strings.Join(m.errs, "; ")
}

// stop ends the session (its marked offsets committed on the way out) and leaves the group.
func (m *member) stop() error {
	m.cancel()
	select {
	case <-m.done:
	case <-time.After(30 * time.Second):
		return errors.New("the session did not end within 30 s of its context's end")
	}
	return m.group.Close()
}

// take collects records until n arrived, then for quiet more (to see none past n).
func (m *member) take(n int, quiet time.Duration) ([]*sarama.ConsumerMessage, error) {
	var got []*sarama.ConsumerMessage
	deadline := time.After(30 * time.Second)
	for len(got) < n {
		select {
		case msg := <-m.h.messages:
			got = append(got, msg)
		case <-deadline:
			return got, fmt.Errorf("%d of %d records in 30 s (%s)", len(got), n, m.errors())
		}
	}
	extra := time.After(quiet)
	for {
		select {
		case msg := <-m.h.messages:
			got = append(got, msg)
		case <-extra:
			return got, nil
		}
	}
}

func (t *target) groupCommitResume() (string, error) {
	group := "sarama-g-" + run + "-" + strings.ReplaceAll(t.config().Version.String(), ".", "-")
	before := len(t.sent)
	first, err := t.startMember(group)
	if err != nil {
		return "", err
	}
	got, err := first.take(before, 2*time.Second)
	if serr := first.stop(); err == nil && serr != nil {
		err = fmt.Errorf("closing the first member: %v", serr)
	}
	if err != nil {
		return "", fmt.Errorf("first member: %v", err)
	}
	if len(got) != before {
		return "", fmt.Errorf("first member read %d records, the topic holds %d", len(got), before)
	}
	// The commits, as the group's offsets: each partition's end.
	ends := map[int32]int64{}
	for _, s := range t.sent {
		if s.offset+1 > ends[s.partition] {
			ends[s.partition] = s.offset + 1
		}
	}
	offsets, err := setupAdmin.ListConsumerGroupOffsets(group, map[string][]int32{t.topic: {0, 1, 2}})
	if err != nil {
		return "", fmt.Errorf("OffsetFetch: %v", err)
	}
	var metadata []string // checked last: the offsets' checks come first
	for part := int32(0); part < 3; part++ {
		b := offsets.GetBlock(t.topic, part)
		want := ends[part]
		if want == 0 {
			want = -1 // nothing read, nothing committed
		}
		if b == nil || b.Err != sarama.ErrNoError || b.Offset != want {
			return "", fmt.Errorf("partition %d: committed %+v, want offset %d", part, b, want)
		}
		if want >= 0 && b.Metadata != first.h.metadata {
			metadata = append(metadata, fmt.Sprintf("partition %d: %q", part, b.Metadata))
		}
	}
	// One more record; a second session of the group reads it and nothing before it.
	cfg := t.config()
	p, err := sarama.NewSyncProducer([]string{broker}, cfg)
	if err != nil {
		return "", err
	}
	ts := t.base.Add(10 * time.Second)
	part, off, err := p.SendMessage(&sarama.ProducerMessage{Topic: t.topic, Key: sarama.StringEncoder("late"),
		Value: sarama.StringEncoder("after-commit"), Timestamp: ts})
	p.Close()
	if err != nil {
		return "", fmt.Errorf("producing after the commit: %v", err)
	}
	t.sent = append(t.sent, sentRecord{"late", "after-commit", part, off, ts, nil})
	again, err := t.startMember(group)
	if err != nil {
		return "", err
	}
	rest, err := again.take(1, 3*time.Second)
	if serr := again.stop(); err == nil && serr != nil {
		err = fmt.Errorf("closing the second member: %v", serr)
	}
	if err != nil {
		return "", fmt.Errorf("second member: %v", err)
	}
	if len(rest) != 1 || string(rest[0].Value) != "after-commit" || rest[0].Partition != part || rest[0].Offset != off {
		var s []string
		for _, m := range rest {
			s = append(s, describeMessage(m))
		}
		return "", fmt.Errorf("the second session read %v, want only \"after-commit\" at %d/%d", s, part, off)
	}
	if len(metadata) > 0 {
		return "", fmt.Errorf("commit, OffsetFetch of the offsets and resume all right, but the metadata committed with them (%q) came back as %s",
			first.h.metadata, strings.Join(metadata, "; "))
	}
	return fmt.Sprintf("a ConsumerGroup session (JoinGroup v1, SyncGroup v0, OffsetCommit v1) read all %d records and committed each partition's end with metadata (OffsetFetch v1 shows %d/%d/%d); a second session read only the record produced after",
		before, ends[0], ends[1], ends[2]), nil
}

func (t *target) groupRebalance() (string, error) {
	group := "sarama-r-" + run
	a, err := t.startMember(group)
	if err != nil {
		return "", err
	}
	defer a.stop()
	if err := waitFor(30*time.Second, func() bool {
		_, claims, active := a.h.state()
		return active && len(claims) == 3
	}); err != nil {
		_, claims, _ := a.h.state()
		return "", fmt.Errorf("the first member alone claims %v, want all 3 partitions (%s)", claims, a.errors())
	}
	genA, _, _ := a.h.state()
	b, err := t.startMember(group)
	if err != nil {
		return "", err
	}
	defer b.stop()
	var ca, cb []int32
	var ga, gb int32
	err = waitFor(45*time.Second, func() bool {
		var aa, ab bool
		ga, ca, aa = a.h.state()
		gb, cb, ab = b.h.state()
		if !aa || !ab || ga != gb || ga == genA || len(ca) == 0 || len(cb) == 0 {
			return false
		}
		all := append(append([]int32(nil), ca...), cb...)
		sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
		return reflect.DeepEqual(all, []int32{0, 1, 2})
	})
	if err != nil {
		return "", fmt.Errorf("after the second member joined: first claims %v (generation %d), second %v (generation %d); want both, split (first: %s; second: %s)",
			ca, ga, cb, gb, a.errors(), b.errors())
	}
	return fmt.Sprintf("one member claimed partitions [0 1 2] (generation %d); a second joined, the group rebalanced (generation %d): %v and %v",
		genA, ga, ca, cb), nil
}

func waitFor(limit time.Duration, ok func() bool) error {
	deadline := time.Now().Add(limit)
	for !ok() {
		if time.Now().After(deadline) {
			return errors.New("timed out")
		}
		time.Sleep(100 * time.Millisecond)
	}
	return nil
}

// Below 0.10.2.0 sarama has no ConsumerGroup: a consumer keeps its offsets in a group through an
// OffsetManager (no membership: generation -1), as clients of 0.8.2 did.
func (t *target) offsetManagerCommitResume() (string, error) {
	group := "sarama-om-" + run
	if _, err := sarama.NewConsumerGroup([]string{broker}, group, t.config()); err == nil {
		return "", errors.New("NewConsumerGroup accepted a version below 0.10.2.0")
	}
	client, err := sarama.NewClient([]string{broker}, t.config())
	if err != nil {
		return "", err
	}
	defer client.Close()
	ends := map[int32]int64{}
	for _, s := range t.sent {
		if s.offset+1 > ends[s.partition] {
			ends[s.partition] = s.offset + 1
		}
	}
	commit := map[int32]int64{}
	for part, end := range ends {
		commit[part] = end - 1 // the last record of each partition is still to read
	}
	if len(commit) == 0 {
		return "", errors.New("no records on the topic to commit offsets over")
	}
	om, err := sarama.NewOffsetManagerFromClient(group, client)
	if err != nil {
		return "", err
	}
	for part, at := range commit {
		pom, err := om.ManagePartition(t.topic, part)
		if err != nil {
			om.Close()
			return "", fmt.Errorf("partition %d: %v", part, err)
		}
		if next, _ := pom.NextOffset(); next != client.Config().Consumer.Offsets.Initial {
			om.Close()
			return "", fmt.Errorf("partition %d: a new group's next offset is %d, want the initial %d", part, next, client.Config().Consumer.Offsets.Initial)
		}
		pom.MarkOffset(at, fmt.Sprintf("meta-%d", part))
		if err := pom.Close(); err != nil {
			om.Close()
			return "", fmt.Errorf("partition %d: committing %d: %v", part, at, err)
		}
	}
	om.Close()
	again, err := sarama.NewOffsetManagerFromClient(group, client)
	if err != nil {
		return "", err
	}
	defer again.Close()
	var metadata []string // checked last: the offsets' checks come first
	for part, at := range commit {
		pom, err := again.ManagePartition(t.topic, part)
		if err != nil {
			return "", fmt.Errorf("partition %d: %v", part, err)
		}
		next, meta := pom.NextOffset()
		pom.Close()
		if next != at {
			return "", fmt.Errorf("partition %d: resumed at %d, committed %d", part, next, at)
		}
		msgs, err := readPartition(client, t.topic, part, next, 1)
		if err != nil {
			return "", err
		}
		if msgs[0].Offset != at {
			return "", fmt.Errorf("partition %d: read from the committed %d got offset %d", part, at, msgs[0].Offset)
		}
		if want := fmt.Sprintf("meta-%d", part); meta != want {
			metadata = append(metadata, fmt.Sprintf("partition %d: %q, committed %q", part, meta, want))
		}
	}
	if len(metadata) > 0 {
		sort.Strings(metadata)
		return "", fmt.Errorf("each partition resumed at its committed offset (OffsetCommit v1, OffsetFetch v1), but the committed metadata came back changed: %s",
			strings.Join(metadata, "; "))
	}
	return fmt.Sprintf("ConsumerGroup needs 0.10.2.0 (sarama refuses it at %s); an OffsetManager (FindCoordinator v0, OffsetCommit v1, OffsetFetch v1) committed an offset and metadata on each partition, and a second one resumed there",
		t.config().Version), nil
}

// ---- offsets by time ----

func (t *target) listOffsets() (string, error) {
	client, err := sarama.NewClient([]string{broker}, t.config())
	if err != nil {
		return "", err
	}
	defer client.Close()
	byPart := map[int32][]sentRecord{}
	for _, s := range t.sent {
		byPart[s.partition] = append(byPart[s.partition], s)
	}
	for part := int32(0); part < 3; part++ {
		oldest, err1 := client.GetOffset(t.topic, part, sarama.OffsetOldest)
		newest, err2 := client.GetOffset(t.topic, part, sarama.OffsetNewest)
		want := int64(len(byPart[part]))
		if err1 != nil || err2 != nil || oldest != 0 || newest != want {
			return "", fmt.Errorf("partition %d: earliest %d (%v), latest %d (%v); want 0 and %d", part, oldest, err1, newest, err2, want)
		}
	}
	if !t.atLeast(sarama.V0_10_1_0) {
		return fmt.Sprintf("ListOffsets v0: earliest 0 and latest the record count on each partition; lookup by record timestamp needs ListOffsets v1 (0.10.1.0), and magic 0 records carry no timestamp"), nil
	}
	leader, err := client.Leader(t.topic, 0)
	if err != nil {
		return "", err
	}
	lookups := 0
	for part, recs := range byPart {
		var last time.Time
		for _, r := range recs {
			if r.timestamp.After(last) {
				last = r.timestamp
			}
		}
		queries := []time.Time{last.Add(time.Millisecond)}
		for _, r := range recs {
			queries = append(queries, r.timestamp, r.timestamp.Add(-5*time.Millisecond))
		}
		for _, q := range queries {
			// The first record at or after q, and its timestamp; none (-1) past the last.
			wantOff, wantTS := int64(-1), int64(-1)
			for _, r := range recs {
				if !r.timestamp.Before(q) {
					wantOff, wantTS = r.offset, r.timestamp.UnixMilli()
					break
				}
			}
			ms := q.UnixMilli()
			off, err := client.GetOffset(t.topic, part, ms)
			if err != nil || off != wantOff {
				return "", fmt.Errorf("partition %d, time %d: offset %d (%v), want %d", part, ms, off, err, wantOff)
			}
			req := &sarama.OffsetRequest{Version: 1}
			req.AddBlock(t.topic, part, ms, 1)
			resp, err := leader.GetAvailableOffsets(req)
			if err != nil {
				return "", err
			}
			b := resp.GetBlock(t.topic, part)
			if b == nil || b.Err != sarama.ErrNoError || b.Offset != wantOff || b.Timestamp != wantTS {
				return "", fmt.Errorf("partition %d, time %d: ListOffsets v1 answered %+v, want offset %d timestamp %d", part, ms, b, wantOff, wantTS)
			}
			lookups++
		}
	}
	return fmt.Sprintf("ListOffsets v1: earliest and latest on each partition, and %d lookups by time each answered the first record at or after it with that record's timestamp (-1 past the last)", lookups), nil
}

// ---- compression ----

func codecName(c sarama.CompressionCodec) string {
	return [...]string{"none", "gzip", "snappy", "lz4", "zstd"}[c]
}

func (t *target) compressed(codec sarama.CompressionCodec) (string, error) {
	cfg := t.config()
	cfg.Producer.Compression = codec
	cfg.Producer.Partitioner = sarama.NewManualPartitioner
	cfg.Producer.Flush.Messages = 10 // the ten records in one batch
	cfg.Producer.Flush.Frequency = time.Second
	p, err := sarama.NewSyncProducer([]string{broker}, cfg)
	if codec == sarama.CompressionLZ4 && !t.atLeast(sarama.V0_10_0_0) {
		if _, refused := err.(sarama.ConfigurationError); !refused {
			return "", fmt.Errorf("NewSyncProducer with lz4 below 0.10.0.0: %v, want sarama's ConfigurationError", err)
		}
		return fmt.Sprintf("needs 0.10.0.0 (magic 1's lz4 framing), sarama refuses it at %s: %v", cfg.Version, err), nil
	}
	if err != nil {
		return "", err
	}
	defer p.Close()
	const part = 1
	client, err := sarama.NewClient([]string{broker}, t.config())
	if err != nil {
		return "", err
	}
	defer client.Close()
	before, err := client.GetOffset(t.topic, part, sarama.OffsetNewest)
	if err != nil {
		return "", err
	}
	var msgs []*sarama.ProducerMessage
	for i := 0; i < 10; i++ {
		msgs = append(msgs, &sarama.ProducerMessage{Topic: t.topic, Partition: part,
			Key:   sarama.StringEncoder(fmt.Sprintf("%s-%d", codecName(codec), i)),
			Value: sarama.StringEncoder(fmt.Sprintf("%s record %d: %s", codecName(codec), i, strings.Repeat("compressible ", 20)))})
	}
	err = p.SendMessages(msgs)
	if codec == sarama.CompressionZSTD {
		// Kafka takes zstd only in Produce v7+ (KIP-110): a lower version gets
		// UNSUPPORTED_COMPRESSION_TYPE, and sarama 1.22.1 sends v3 at most. Below v3 (magic 0/1
		// message sets) Kafka refuses the zstd wrapper as well.
		return t.zstdRefused(client, part, before, err)
	}
	if err != nil {
		return "", fmt.Errorf("Produce v%d of 10 %s records: %v", produceVersion(cfg), codecName(codec), err)
	}
	for i, m := range msgs {
		if m.Partition != part || m.Offset != msgs[0].Offset+int64(i) {
			return "", fmt.Errorf("record %d placed at %d/%d, want %d/%d", i, m.Partition, m.Offset, part, msgs[0].Offset+int64(i))
		}
	}
	if msgs[0].Offset != before {
		return "", fmt.Errorf("the batch starts at offset %d, the partition ended at %d", msgs[0].Offset, before)
	}
	got, err := readPartition(client, t.topic, part, msgs[0].Offset, len(msgs))
	if err != nil {
		return "", err
	}
	for i, m := range got {
		want := msgs[i]
		k, _ := want.Key.Encode()
		v, _ := want.Value.Encode()
		if m.Offset != want.Offset || string(m.Key) != string(k) || string(m.Value) != string(v) {
			return "", fmt.Errorf("record %d read back as %s, produced %q at %d", i, describeMessage(m), k, want.Offset)
		}
	}
	return fmt.Sprintf("Produce v%d of 10 records in one %s batch at offsets %d-%d, read back (Fetch v%d) intact",
		produceVersion(cfg), codecName(codec), msgs[0].Offset, msgs[9].Offset, fetchVersion(cfg)), nil
}

func (t *target) zstdRefused(client sarama.Client, part int32, before int64, err error) (string, error) {
	cfg := t.config()
	if err == nil {
		// Taken: say where, and what a Fetch below v10 (which Kafka 3.9 refuses zstd data too)
		// gives back.
		got, rerr := readPartition(client, t.topic, part, before, 10)
		read := fmt.Sprintf("Fetch v%d then read %d of them back", fetchVersion(cfg), len(got))
		if rerr != nil {
			read += fmt.Sprintf(" (%v)", rerr)
		}
		return "", fmt.Errorf("Produce v%d of a zstd RecordBatch (10 records) was taken: no error, offsets %d-%d of partition %d; %s. Kafka 3.9 refuses zstd below Produce v7 with UNSUPPORTED_COMPRESSION_TYPE",
			produceVersion(cfg), before, before+9, part, read)
	}
	pes, ok := err.(sarama.ProducerErrors)
	if !ok || len(pes) != 10 {
		return "", fmt.Errorf("Produce v%d of a zstd batch answered %v; Kafka 3.9 refuses zstd below Produce v7 (UNSUPPORTED_COMPRESSION_TYPE)", produceVersion(cfg), err)
	}
	accepted := []sarama.KError{sarama.ErrUnsupportedCompressionType}
	if produceVersion(cfg) < 3 {
		// A magic 0/1 message set's zstd wrapper: KIP-110 says UNSUPPORTED_COMPRESSION_TYPE, but
		// Kafka's legacy record iterator throws InvalidRecordException at it first (CORRUPT_MESSAGE
		// in old brokers, INVALID_RECORD, 87, which sarama 1.22.1 has no name for, in 3.x).
		accepted = append(accepted, sarama.ErrInvalidMessage, sarama.KError(87))
	}
	for _, pe := range pes {
		ke, _ := pe.Err.(sarama.KError)
		found := false
		for _, a := range accepted {
			found = found || ke == a
		}
		if !found {
			return "", fmt.Errorf("Produce v%d of a zstd batch: %v, want %v", produceVersion(cfg), pe.Err, accepted)
		}
	}
	after, err := client.GetOffset(t.topic, part, sarama.OffsetNewest)
	if err != nil {
		return "", err
	}
	if after != before {
		return "", fmt.Errorf("the refused zstd batch moved the partition's end from %d to %d", before, after)
	}
	return fmt.Sprintf("refused as Kafka 3.9 refuses it: zstd needs Produce v7 (Kafka 2.1, KIP-110) and sarama 1.22.1 sends Produce v%d, answered %v; the partition's end stays %d",
		produceVersion(cfg), pes[0].Err, after), nil
}

// ---- idempotence ----

func (t *target) idempotent() (string, error) {
	cfg := t.config()
	cfg.Producer.Idempotent = true
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Net.MaxOpenRequests = 1
	cfg.Producer.Partitioner = sarama.NewManualPartitioner
	if !t.atLeast(sarama.V0_11_0_0) {
		_, err := sarama.NewSyncProducer([]string{broker}, cfg)
		if _, refused := err.(sarama.ConfigurationError); !refused {
			return "", fmt.Errorf("an idempotent NewSyncProducer below 0.11.0.0: %v, want sarama's ConfigurationError", err)
		}
		return fmt.Sprintf("needs 0.11.0.0 (InitProducerId, RecordBatch v2), sarama refuses it at %s: %v", cfg.Version, err), nil
	}
	client, err := sarama.NewClient([]string{broker}, t.config())
	if err != nil {
		return "", err
	}
	defer client.Close()
	// InitProducerId first, as the producer asks it when it starts: sarama's producer takes the
	// answer unchecked (and a nil one, when the broker closed the connection, panics).
	ids, err := client.InitProducerID()
	if ids == nil && err == nil {
		err = errors.New("no answer: the connection failed (sarama's client drops the error)")
	}
	if err != nil || ids.Err != sarama.ErrNoError || ids.ProducerID < 0 || ids.ProducerEpoch < 0 {
		return "", fmt.Errorf("InitProducerId v0: %+v, %v", ids, err)
	}
	// The producer: its own InitProducerId v0, then batches carrying its id and sequences.
	p, err := sarama.NewSyncProducer([]string{broker}, cfg)
	if err != nil {
		return "", fmt.Errorf("NewSyncProducer (InitProducerId v0): %v", err)
	}
	const part = 2
	before, err := client.GetOffset(t.topic, part, sarama.OffsetNewest)
	if err != nil {
		p.Close()
		return "", err
	}
	var msgs []*sarama.ProducerMessage
	for i := 0; i < 10; i++ {
		msgs = append(msgs, &sarama.ProducerMessage{Topic: t.topic, Partition: part,
			Key: sarama.StringEncoder(fmt.Sprintf("idem-%d", i)), Value: sarama.StringEncoder(fmt.Sprintf("idempotent %d", i))})
	}
	for i, m := range msgs[:5] { // one by one: sequences 0-4
		if _, _, err := p.SendMessage(m); err != nil {
			p.Close()
			return "", fmt.Errorf("idempotent record %d: %v", i, err)
		}
	}
	if err := p.SendMessages(msgs[5:]); err != nil { // sequences 5-9, batched
		p.Close()
		return "", fmt.Errorf("idempotent records 5-9: %v", err)
	}
	p.Close()
	for i, m := range msgs {
		if m.Offset != before+int64(i) {
			return "", fmt.Errorf("idempotent record %d at offset %d, want %d", i, m.Offset, before+int64(i))
		}
	}
	got, err := readPartition(client, t.topic, part, before, 10)
	if err != nil {
		return "", err
	}
	for i, m := range got {
		if string(m.Value) != fmt.Sprintf("idempotent %d", i) {
			return "", fmt.Errorf("read back %s, want \"idempotent %d\"", describeMessage(m), i)
		}
	}
	if end, err := client.GetOffset(t.topic, part, sarama.OffsetNewest); err != nil || end != before+10 {
		return "", fmt.Errorf("the partition ends at %d (%v), want %d", end, err, before+10)
	}
	// What the producer relies on when it retries: the same batch (same producer id, epoch and
	// first sequence) answered with its first offset and not written twice; a gap refused.
	other, err := client.InitProducerID()
	if err != nil || other == nil || other.Err != sarama.ErrNoError || other.ProducerID == ids.ProducerID {
		return "", fmt.Errorf("a second InitProducerId v0: %+v (first %d), %v; want another producer id", other, ids.ProducerID, err)
	}
	leader, err := client.Leader(t.topic, part)
	if err != nil {
		return "", err
	}
	produce := func(b *sarama.RecordBatch) (*sarama.ProduceResponseBlock, error) {
		req := &sarama.ProduceRequest{Version: 3, RequiredAcks: sarama.WaitForAll, Timeout: 10000}
		req.AddBatch(t.topic, part, b)
		resp, err := leader.Produce(req)
		if err != nil {
			return nil, err
		}
		if blk := resp.GetBlock(t.topic, part); blk != nil {
			return blk, nil
		}
		return nil, errors.New("no block for the partition in the Produce answer")
	}
	start := before + 10
	first := idempotentBatch(ids, 0, 3)
	r1, err := produce(first)
	if err != nil || r1.Err != sarama.ErrNoError || r1.Offset != start {
		return "", fmt.Errorf("Produce v3 of pid %d sequences 0-2: %+v, %v; want offset %d", ids.ProducerID, r1, err, start)
	}
	r2, err := produce(first)
	if err != nil || r2.Err != sarama.ErrNoError || r2.Offset != start {
		return "", fmt.Errorf("the same batch again (a retry): %+v, %v; want no error and its first offset %d", r2, err, start)
	}
	if end, err := client.GetOffset(t.topic, part, sarama.OffsetNewest); err != nil || end != start+3 {
		return "", fmt.Errorf("after the retried batch the partition ends at %d (%v), want %d: written twice", end, err, start+3)
	}
	r3, err := produce(idempotentBatch(ids, 5, 1))
	if err != nil || r3.Err != sarama.ErrOutOfOrderSequenceNumber {
		return "", fmt.Errorf("sequence 5 after 2: %+v, %v; want OUT_OF_ORDER_SEQUENCE_NUMBER", r3, err)
	}
	r4, err := produce(idempotentBatch(ids, 3, 2))
	if err != nil || r4.Err != sarama.ErrNoError || r4.Offset != start+3 {
		return "", fmt.Errorf("sequences 3-4: %+v, %v; want offset %d", r4, err, start+3)
	}
	return fmt.Sprintf("an idempotent SyncProducer (InitProducerId v0, acks all, one request in flight) wrote 10 records at offsets %d-%d, read back once each; with Produce v3 by hand, pid %d: a retried batch answered its first offset %d without a second copy, a sequence gap OUT_OF_ORDER_SEQUENCE_NUMBER",
		before, before+9, ids.ProducerID, start), nil
}

func idempotentBatch(ids *sarama.InitProducerIDResponse, seq int32, n int) *sarama.RecordBatch {
	now := time.Now().Truncate(time.Millisecond)
	b := &sarama.RecordBatch{Version: 2, FirstTimestamp: now, MaxTimestamp: now, ProducerID: ids.ProducerID,
		ProducerEpoch: ids.ProducerEpoch, FirstSequence: seq, LastOffsetDelta: int32(n - 1)}
	for i := 0; i < n; i++ {
		b.Records = append(b.Records, &sarama.Record{OffsetDelta: int64(i),
			Key: []byte(fmt.Sprintf("seq-%d", int(seq)+i)), Value: []byte(fmt.Sprintf("by hand %d", int(seq)+i))})
	}
	return b
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
