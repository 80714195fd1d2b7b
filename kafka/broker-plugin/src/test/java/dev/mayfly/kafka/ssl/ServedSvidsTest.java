// Copyright 2026 The Mayfly Authors. Licensed under the Apache License 2.0.
//
// ServedSvids: the soonest NotAfter over every served directory, of the
// leaves and of the bundle roots, following a rotation without a handshake;
// and the engine factory joins the JVM's set when configured and leaves it
// when closed.
package dev.mayfly.kafka.ssl;

import static dev.mayfly.kafka.ssl.TestSvids.certs;
import static dev.mayfly.kafka.ssl.TestSvids.publish;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Instant;
import java.util.Optional;

class ServedSvidsTest {
    @TempDir Path tmp;

    private static Instant notAfter(String pem) {
        return certs(pem).get(0).getNotAfter().toInstant();
    }

    @Test
    void reportsTheSoonestOfEveryDirectoryAndFollowsARotation() throws Exception {
        // prod_broker and its root expire about two weeks after broker and
        // root A: the soonest is always root A's trust domain's.
        Instant broker = notAfter("broker/svid.pem");
        Instant rootA = notAfter("bundle_a.pem");
        Instant prod = notAfter("cross/prod_broker/svid.pem");
        Instant rootProd = notAfter("cross/root_prod.acme.pem");
        assertEquals(true, broker.isBefore(prod));
        assertEquals(true, rootA.isBefore(rootProd));

        ServedSvids served = new ServedSvids();
        assertEquals(Optional.empty(), served.earliestSvidNotAfter());
        assertEquals(Optional.empty(), served.earliestBundleRootNotAfter());

        Path a = tmp.resolve("a");
        publish(a, "v1", "cross/prod_broker", "cross/root_prod.acme.pem");
        SvidDirectory<SvidSet> first = SvidDirectory.open(a, set -> set);
        served.add(first);
        assertEquals(Optional.of(prod), served.earliestSvidNotAfter());
        assertEquals(Optional.of(rootProd), served.earliestBundleRootNotAfter());

        Path b = tmp.resolve("b");
        publish(b, "v1", "broker", "bundle_a.pem");
        SvidDirectory<SvidSet> second = SvidDirectory.open(b, set -> set);
        served.add(second);
        assertEquals(Optional.of(broker), served.earliestSvidNotAfter());
        assertEquals(Optional.of(rootA), served.earliestBundleRootNotAfter());

        // A rotation is seen by the next read, with no handshake between.
        publish(b, "v2", "cross/prod_broker", "cross/root_prod.acme.pem");
        assertEquals(Optional.of(prod), served.earliestSvidNotAfter());
        assertEquals(Optional.of(rootProd), served.earliestBundleRootNotAfter());

        served.remove(first);
        served.remove(second);
        assertEquals(Optional.empty(), served.earliestSvidNotAfter());
    }

    @Test
    void countsRefusedVersions() throws Exception {
        publish(tmp, "v1", "broker", "bundle_a.pem");
        SvidDirectory<SvidSet> d = SvidDirectory.open(tmp, set -> set);
        ServedSvids served = new ServedSvids();
        served.add(d);
        publish(tmp, "v2", TestSvids.resource("broker/svid.pem"), null, null);
        served.earliestSvidNotAfter(); // the read that refreshes
        assertEquals(1, served.refusals());
    }

    @Test
    void aFactoryServesFromConfigureUntilClose() throws Exception {
        publish(tmp, "v1", "broker", "bundle_a.pem");
        int before = ServedSvids.jvm().size();
        SvidSslEngineFactory factory = TestSvids.factory(tmp, TestSvids.TD, null);
        assertEquals(before + 1, ServedSvids.jvm().size());
        factory.close();
        assertEquals(before, ServedSvids.jvm().size());
    }
}
