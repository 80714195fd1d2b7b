// The consumer group run: see consume.h.
#include "kafka/cli/consume.h"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "identity/file_util.h"
#include "identity/status_macros.h"
#include "kafka/cli/errors.h"
#include "kafka/cli/group_state.h"
#include "kafka/cli/handle.h"
#include "kafka/cli/transport.h"

namespace mayfly::kafka::cli {
namespace {

// How long a member's rd_kafka_consumer_poll waits: also how soon it sees
// the end of the run.
constexpr int kConsumerPollMs = 100;
// How often the run checks its end conditions and the group's state.
constexpr absl::Duration kTick = absl::Milliseconds(20);
// One metadata request for the topic's partition count; retried each tick
// until the topic exists.
constexpr int kMetadataTimeoutMs = 1000;
constexpr int64_t kNever = -1;

// What the members share. Callbacks run on each member's own thread (inside
// rd_kafka_consumer_poll), hence the atomics and the locks.
struct Run {
  Run(const ConsumeOptions& options, const RunEnv& env)
      : options(options),
        env(env),
        group(options.members),
        failures(*env.err, "consume", kFailureLinesShown) {}

  // A message arrived.
  void Received(const rd_kafka_message_t& message) {
    const std::optional<int64_t> seq =
        SequenceOfKey(message.key, message.key_len);
    const std::optional<ReadPlace> first =
        tracker.Record(seq, {message.partition, message.offset});
    if (first) {
      // Which side made the copy: the same place is a re-read.
      absl::MutexLock lock(&out_mu);
      *env.err << "consume: duplicate seq=" << *seq << " at partition "
               << message.partition << " offset " << message.offset
               << "; first at partition " << first->partition << " offset "
               << first->offset << '\n';
    }
    const int64_t now = absl::ToInt64Nanoseconds(env.clock->Monotonic());
    int64_t never = kNever;
    first_ns.compare_exchange_strong(never, now);
    last_ns.store(now);
    if (!options.print) return;
    absl::MutexLock lock(&out_mu);
    env.out->write(static_cast<const char*>(message.key), message.key_len);
    *env.out << '\t';
    env.out->write(static_cast<const char*>(message.payload), message.len);
    *env.out << '\n';
  }

  const ConsumeOptions& options;
  const RunEnv& env;
  GroupState group;
  SequenceTracker tracker;
  ErrorCounts errors;
  FailureLog failures;
  std::atomic<bool> done{false};
  // Monotonic nanoseconds of the first and the latest message.
  std::atomic<int64_t> first_ns{kNever};
  std::atomic<int64_t> last_ns{kNever};
  absl::Mutex out_mu;  // one --print or rebalance line at a time
};

// One group member: its handle's opaque.
struct Member {
  Run* run;
  int index;
  UniqueKafka rk;  // null until made
};

std::vector<int32_t> PartitionsOf(const rd_kafka_topic_partition_list_t& list,
                                  const std::string& topic) {
  std::vector<int32_t> partitions;
  for (int i = 0; i < list.cnt; ++i) {
    if (topic == list.elems[i].topic) {
      partitions.push_back(list.elems[i].partition);
    }
  }
  return partitions;
}

// Takes the one rd_kafka_error_t the incremental calls return, if any.
void Check(Run& run, const char* what, rd_kafka_error_t* error) {
  if (error == nullptr) return;
  run.failures.Add(absl::StrCat(what, ": ", rd_kafka_error_string(error)));
  rd_kafka_error_destroy(error);
}

// One line on stderr for each rebalance the run counts, with the wall-clock
// time, so that a harness can tell one a broker's restart caused from one
// it did not.
void LogCounted(Run& run, int64_t before, int member, const char* what,
                const std::vector<int32_t>& partitions) {
  if (run.group.rebalances() == before) return;
  absl::MutexLock lock(&run.out_mu);
  *run.env.err << "consume: rebalance at "
               << absl::ToUnixMillis(run.env.clock->Now()) << " ms: member "
               << member << ' ' << what << ' ' << partitions.size()
               << " partition(s)\n";
}

void OnRebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                 rd_kafka_topic_partition_list_t* partitions, void* opaque) {
  Member& member = *static_cast<Member*>(opaque);
  Run& run = *member.run;
  const bool cooperative =
      std::strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
  const std::vector<int32_t> ours =
      PartitionsOf(*partitions, run.options.topic);
  const int64_t before = run.group.rebalances();
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    if (cooperative) {
      Check(run, "incremental assign",
            rd_kafka_incremental_assign(rk, partitions));
    } else {
      rd_kafka_assign(rk, partitions);
    }
    run.group.Assigned(member.index, ours, !cooperative);
    LogCounted(run, before, member.index, "assigned", ours);
    return;
  }
  if (err != RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
    run.failures.Add(absl::StrCat("rebalance: ", ErrorText(err)));
  }
  if (cooperative) {
    Check(run, "incremental unassign",
          rd_kafka_incremental_unassign(rk, partitions));
  } else {
    rd_kafka_assign(rk, nullptr);
  }
  run.group.Revoked(member.index, ours, !cooperative);
  LogCounted(run, before, member.index, "revoked", ours);
}

void OnError(rd_kafka_t*, int err, const char* reason, void* opaque) {
  Run& run = *static_cast<Member*>(opaque)->run;
  ReportClientError(err, reason, run.errors, run.failures);
}

void Consume(Member& member) {
  Run& run = *member.run;
  while (!run.done.load()) {
    rd_kafka_message_t* message =
        rd_kafka_consumer_poll(member.rk.get(), kConsumerPollMs);
    if (message == nullptr) continue;
    if (message->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      run.Received(*message);
    } else if (message->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      run.errors.Count(message->err);
      run.failures.Add(absl::StrCat("member ", member.index, ": ",
                                    rd_kafka_message_errstr(message)));
    }
    rd_kafka_message_destroy(message);
  }
  rd_kafka_consumer_close(member.rk.get());
}

absl::StatusOr<UniqueKafka> NewMember(Member& member, Transport& transport) {
  const ConsumeOptions& options = member.run->options;
  UniqueConf conf(rd_kafka_conf_new());
  rd_kafka_conf_set_opaque(conf.get(), &member);
  rd_kafka_conf_set_rebalance_cb(conf.get(), OnRebalance);
  rd_kafka_conf_set_error_cb(conf.get(), OnError);
  const Settings settings = {
      {"bootstrap.servers", options.bootstrap},
      {"client.id", absl::StrCat("mayfly-kafka-consume-", member.index)},
      {"group.id", options.group},
      {"auto.offset.reset", options.from_beginning ? "earliest" : "latest"},
      {"enable.partition.eof", "false"},
  };
  RETURN_IF_ERROR(transport.Configure(conf.get(), settings));
  ASSIGN_OR_RETURN(UniqueKafka rk,
                   NewHandle(RD_KAFKA_CONSUMER, std::move(conf), transport));
  rd_kafka_poll_set_consumer(rk.get());
  rd_kafka_topic_partition_list_t* topics =
      rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(topics, options.topic.c_str(),
                                    RD_KAFKA_PARTITION_UA);
  const rd_kafka_resp_err_t err = rd_kafka_subscribe(rk.get(), topics);
  rd_kafka_topic_partition_list_destroy(topics);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return absl::InvalidArgumentError(
        absl::StrCat("subscribe to ", options.topic, ": ", ErrorText(err)));
  }
  return rk;
}

// The topic's partition count, or -1 while the brokers do not know it.
int32_t PartitionCount(rd_kafka_t* rk, const std::string& topic_name) {
  rd_kafka_topic_t* topic = rd_kafka_topic_new(rk, topic_name.c_str(), nullptr);
  const rd_kafka_metadata_t* metadata = nullptr;
  int32_t count = -1;
  if (rd_kafka_metadata(rk, 0, topic, &metadata, kMetadataTimeoutMs) ==
      RD_KAFKA_RESP_ERR_NO_ERROR) {
    if (metadata->topic_cnt == 1 &&
        metadata->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      count = metadata->topics[0].partition_cnt;
    }
    rd_kafka_metadata_destroy(metadata);
  }
  rd_kafka_topic_destroy(topic);
  return count;
}

// Whether the run is over, by its end conditions.
bool Over(const Run& run, absl::Duration start) {
  const ConsumeOptions& options = run.options;
  const RunEnv& env = run.env;
  if (env.stop != nullptr && env.stop->load()) return true;
  const absl::Duration now = env.clock->Monotonic();
  if (options.duration && now - start >= *options.duration) return true;
  if (options.count > 0 && run.tracker.distinct() >= options.count) {
    return true;
  }
  const int64_t last = run.last_ns.load();
  return options.idle_timeout && last != kNever &&
         now - absl::Nanoseconds(last) >= *options.idle_timeout;
}

}  // namespace

absl::StatusOr<ConsumeSummary> RunConsume(const ConsumeOptions& options,
                                          const RunEnv& env) {
  Run run(options, env);
  // One left by an earlier run must not say this group is steady.
  if (!options.ready_file.empty() && unlink(options.ready_file.c_str()) != 0 &&
      errno != ENOENT) {
    return identity::ErrnoError("remove --ready-file", options.ready_file);
  }
  // Outlives the handles: declared before `members`, so destroyed after.
  ASSIGN_OR_RETURN(std::unique_ptr<Transport> transport,
                   Transport::Start(options.transport, *env.clock));
  std::vector<Member> members(options.members);
  for (int i = 0; i < options.members; ++i) {
    members[i].run = &run;
    members[i].index = i;
    ASSIGN_OR_RETURN(members[i].rk, NewMember(members[i], *transport));
  }
  const absl::Duration start = env.clock->Monotonic();
  std::vector<std::thread> threads;
  for (Member& member : members) {
    threads.emplace_back([&member] { Consume(member); });
  }
  absl::Status status;
  bool partitions_known = false;
  bool ready_written = options.ready_file.empty();
  while (!Over(run, start)) {
    if (!partitions_known) {
      const int32_t count = PartitionCount(members[0].rk.get(), options.topic);
      partitions_known = count > 0;
      if (partitions_known) run.group.SetPartitionCount(count);
    }
    if (!ready_written && run.group.steady()) {
      status = identity::WriteFileAtomically(options.ready_file, "", 0644);
      if (!status.ok()) break;
      ready_written = true;
    }
    absl::SleepFor(kTick);
  }
  run.group.Closing();
  run.done = true;
  for (std::thread& thread : threads) thread.join();
  for (Member& member : members) member.rk.reset();
  RETURN_IF_ERROR(status);

  ConsumeSummary summary;
  summary.received = run.tracker.received();
  summary.distinct = run.tracker.distinct();
  summary.duplicated = summary.received - summary.distinct;
  summary.lost = options.expect ? run.tracker.Lost(*options.expect) : 0;
  summary.rebalances = run.group.rebalances();
  if (run.first_ns.load() != kNever) {
    summary.elapsed =
        absl::Nanoseconds(run.last_ns.load() - run.first_ns.load());
  }
  summary.rotations = transport->Rotations();
  summary.auth_errors = transport->AuthFailures() + run.errors.auth.load();
  summary.transport_errors = run.errors.transport.load();
  run.failures.Finish();
  return summary;
}

}  // namespace mayfly::kafka::cli
