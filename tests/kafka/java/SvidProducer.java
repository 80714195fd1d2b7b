// Copyright 2026 The Mayfly Authors. Licensed under the Apache License 2.0.
//
// SvidProducer: the Java Kafka client of the real-broker tests
// (tests/kafka/lib/plugin_cases.sh). A kafka-clients 4.4.0 idempotent
// producer whose TLS is the broker plugin's SvidSslEngineFactory on the
// client side: its SVID and bundle come from a directory `mayfly watch
// x509 --write` keeps current, and nothing else in it knows about
// rotation. It produces sequence-numbered messages at a fixed rate for a
// fixed time, then flushes and prints one line:
//
//   sent=N delivered=D failed=F [first_failure=...]
//
// Exit 0 iff every message sent was delivered. Arguments (all required):
//   --bootstrap H:P --svid-dir DIR --spiffe-id OWN_ID --trust-domains TD
//   --broker-spiffe-id ID
//   --topic T --duration SECONDS --rate PER_SECOND
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringSerializer;

import java.util.HashMap;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

public final class SvidProducer {
    private SvidProducer() {}

    public static void main(String[] argv) throws Exception {
        Map<String, String> args = new HashMap<>();
        for (int i = 0; i + 1 < argv.length; i += 2) {
            if (!argv[i].startsWith("--")) {
                usage("not a flag: " + argv[i]);
            }
            args.put(argv[i].substring(2), argv[i + 1]);
        }
        for (String required :
                new String[] {
                    "bootstrap",
                    "svid-dir",
                    "spiffe-id",
                    "trust-domains",
                    "broker-spiffe-id",
                    "topic",
                    "duration",
                    "rate"
                }) {
            if (!args.containsKey(required)) {
                usage("missing --" + required);
            }
        }
        long durationMs = Long.parseLong(args.get("duration")) * 1000;
        int rate = Integer.parseInt(args.get("rate"));
        if (durationMs <= 0 || durationMs > 3_600_000 || rate <= 0 || rate > 10_000) {
            usage("--duration must be in [1, 3600] and --rate in [1, 10000]");
        }

        Properties props = new Properties();
        props.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, args.get("bootstrap"));
        props.put("security.protocol", "SSL");
        props.put("ssl.engine.factory.class", "dev.mayfly.kafka.ssl.SvidSslEngineFactory");
        props.put("mayfly.svid.dir", args.get("svid-dir"));
        props.put("mayfly.svid.spiffe.id", args.get("spiffe-id"));
        props.put("mayfly.trust.domains", args.get("trust-domains"));
        props.put("mayfly.peer.spiffe.ids", args.get("broker-spiffe-id"));
        props.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
        props.put(ProducerConfig.ACKS_CONFIG, "all");
        props.put(ProducerConfig.LINGER_MS_CONFIG, "5");
        props.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, "30000");
        props.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, "10000");
        props.put(ProducerConfig.RECONNECT_BACKOFF_MS_CONFIG, "100");
        props.put(ProducerConfig.RECONNECT_BACKOFF_MAX_MS_CONFIG, "1000");
        props.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        props.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());

        AtomicLong delivered = new AtomicLong();
        AtomicLong failed = new AtomicLong();
        AtomicReference<String> firstFailure = new AtomicReference<>();
        long sent = 0;
        String topic = args.get("topic");
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(props)) {
            long start = System.nanoTime();
            long end = start + durationMs * 1_000_000L;
            while (System.nanoTime() < end) {
                // Paced: message k leaves at start + k / rate.
                long due = start + sent * 1_000_000_000L / rate;
                long now = System.nanoTime();
                if (due > now) {
                    long nanos = Math.max(0, Math.min(due, end) - now);
                    Thread.sleep(nanos / 1_000_000L, (int) (nanos % 1_000_000L));
                    continue;
                }
                producer.send(
                        new ProducerRecord<>(topic, "seq", Long.toString(sent)),
                        (metadata, e) -> {
                            if (e == null) {
                                delivered.incrementAndGet();
                            } else {
                                failed.incrementAndGet();
                                firstFailure.compareAndSet(null, e.toString());
                            }
                        });
                ++sent;
            }
            producer.flush();
        }
        StringBuilder line = new StringBuilder();
        line.append("sent=")
                .append(sent)
                .append(" delivered=")
                .append(delivered.get())
                .append(" failed=")
                .append(failed.get());
        if (firstFailure.get() != null) {
            line.append(" first_failure=").append(firstFailure.get());
        }
        System.out.println(line);
        System.exit(failed.get() == 0 && delivered.get() == sent ? 0 : 1);
    }

    private static void usage(String why) {
        System.err.println("SvidProducer: " + why);
        System.exit(2);
    }
}
