// Copyright 2026 The Mayfly Authors. Licensed under the Apache License 2.0.
//
// Without mayfly.peer.spiffe.ids, the factory's client engines (a broker's
// connections to its controller and to other brokers) accept as the server
// only the policy's brokers, as the policy stands at each handshake; with
// neither, the factory refuses to configure. The C++ client library and
// `mayfly bridge plan/apply` check the same `brokers` of the same file.
package dev.mayfly.kafka.ssl;

import static dev.mayfly.kafka.ssl.Handshake.refused;
import static dev.mayfly.kafka.ssl.TestSvids.config;
import static dev.mayfly.kafka.ssl.TestSvids.idOf;
import static dev.mayfly.kafka.ssl.TestSvids.publish;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.apache.kafka.common.config.ConfigException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

class PolicyBrokersTest {
    @TempDir Path tmp;

    private static final String POLICY_HEAD =
            "trust_domains: [example.org]\n"
                    + "principals:\n"
                    + "  - id: spiffe://example.org/kafka/broker\n"
                    + "    principal: User:broker\n"
                    + "  - id: spiffe://example.org/orders/{sa}\n"
                    + "    principal: User:orders.{sa}\n";

    private Path policy(String brokersLine) throws Exception {
        // A file of its own per test: PolicySource shares one copy per path.
        Path file = Files.createTempFile(tmp, "policy", ".yaml");
        Files.writeString(file, POLICY_HEAD + brokersLine);
        return file;
    }

    // A factory on `svid`'s SVID in directory `name`, with the policy and no
    // mayfly.peer.spiffe.ids.
    private SvidSslEngineFactory withPolicy(String name, String svid, Path policy)
            throws Exception {
        Path dir = tmp.resolve(name);
        publish(dir, "v1", svid, "bundle_a.pem");
        Map<String, Object> conf = config(dir, TestSvids.TD, null);
        conf.remove(SvidSslEngineFactory.PEER_SPIFFE_IDS_CONFIG);
        conf.put(SvidSslEngineFactory.POLICY_FILE_CONFIG, policy.toString());
        SvidSslEngineFactory f = new SvidSslEngineFactory();
        f.configure(conf);
        return f;
    }

    @Test
    void clientEnginesAcceptOnlyThePolicysBrokers() throws Exception {
        Path policy = policy("brokers: [spiffe://example.org/kafka/*]\n");
        SvidSslEngineFactory broker = withPolicy("broker", "broker", policy);
        SvidSslEngineFactory writer = withPolicy("writer", "client", policy);
        // The broker reaching the broker (its controller): kafka/broker matches.
        assertEquals(
                TestSvids.BROKER_ID,
                idOf(Handshake.peerLeaf(Handshake.between(broker, broker).client())));
        // The broker reaching orders/writer posing as a broker: refused.
        String why = refused(broker, writer);
        assertTrue(
                why.contains(
                        "peer SPIFFE ID spiffe://example.org/orders/writer is not one of the"
                                + " brokers of the policy "
                                + policy),
                why);
    }

    @Test
    void aPolicyWithoutBrokersIsNoPeerCheck() throws Exception {
        Path policy = policy("");
        ConfigException e =
                assertThrows(ConfigException.class, () -> withPolicy("broker", "broker", policy));
        assertTrue(
                e.getMessage()
                        .startsWith(
                                "Invalid value null for configuration mayfly.peer.spiffe.ids: is"
                                        + " required by "
                                        + SvidSslEngineFactory.class.getName()
                                        + " unless mayfly.policy.file names a policy with"
                                        + " brokers"),
                e.getMessage());
    }
}
