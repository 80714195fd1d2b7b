// SvidDirectory and SvidSet on directories laid out like `mayfly watch x509
// --write`'s: a good set loads; a swap of ..data is picked up by the next
// refresh; a bad version (mismatched key, missing file, unparsable PEM, lost
// ..data) is refused once and the last good set stays.
package dev.mayfly.kafka.ssl;

import static dev.mayfly.kafka.ssl.TestSvids.idOf;
import static dev.mayfly.kafka.ssl.TestSvids.publish;
import static dev.mayfly.kafka.ssl.TestSvids.resource;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

class SvidDirectoryTest {
    @TempDir Path dir;

    private SvidDirectory<SvidSet> open() throws Exception {
        return SvidDirectory.open(dir, set -> set);
    }

    @Test
    void loadsAGoodDirectory() throws Exception {
        publish(dir, "v1", "broker", "bundle_a.pem");
        SvidSet set = open().refresh();
        assertEquals("..v1", set.version());
        assertEquals(TestSvids.BROKER_ID, idOf(set.leaf()));
        assertEquals(2, set.chain().size()); // leaf, intermediate
        assertEquals(1, set.bundle().size());
        assertEquals("EC", set.key().getAlgorithm());
    }

    @Test
    void picksUpASwapOfData() throws Exception {
        publish(dir, "v1", "broker", "bundle_a.pem");
        SvidDirectory<SvidSet> d = open();
        SvidSet first = d.refresh();
        assertSame(first, d.refresh()); // unchanged ..data: nothing reloaded
        publish(dir, "v2", "broker_b", "bundle_ab.pem");
        SvidSet second = d.refresh();
        assertEquals("..v2", second.version());
        assertEquals(2, second.bundle().size());
        assertEquals(TestSvids.BROKER_ID, idOf(second.leaf()));
        assertEquals(TestSvids.certs("broker_b/svid.pem").get(0), second.leaf());
        assertEquals(0, d.refusals());
    }

    @Test
    void refusesAKeyThatDoesNotMatchTheLeafAndKeepsTheLastGood() throws Exception {
        publish(dir, "v1", "broker", "bundle_a.pem");
        SvidDirectory<SvidSet> d = open();
        publish(
                dir,
                "v2",
                resource("broker/svid.pem"),
                resource("client/svid_key.pem"),
                resource("bundle_a.pem"));
        assertEquals("..v1", d.refresh().version());
        assertEquals("..v1", d.refresh().version());
        assertEquals(1, d.refusals()); // logged once per bad version, not per call
        publish(dir, "v3", "client", "bundle_a.pem");
        assertEquals("..v3", d.refresh().version());
        assertEquals(TestSvids.CLIENT_ID, idOf(d.refresh().leaf()));
    }

    @Test
    void refusesAMissingFile() throws Exception {
        publish(dir, "v1", "broker", "bundle_a.pem");
        SvidDirectory<SvidSet> d = open();
        publish(dir, "v2", resource("client/svid.pem"), null, resource("bundle_a.pem"));
        assertEquals("..v1", d.refresh().version());
        publish(dir, "v3", resource("client/svid.pem"), resource("client/svid_key.pem"), null);
        assertEquals("..v1", d.refresh().version());
        assertEquals(2, d.refusals());
    }

    @Test
    void refusesUnparsablePem() throws Exception {
        publish(dir, "v1", "broker", "bundle_a.pem");
        SvidDirectory<SvidSet> d = open();
        byte[] half =
                new String(resource("client/svid.pem"), StandardCharsets.US_ASCII)
                        .substring(0, 300)
                        .getBytes(StandardCharsets.US_ASCII);
        publish(dir, "v2", half, resource("client/svid_key.pem"), resource("bundle_a.pem"));
        assertEquals("..v1", d.refresh().version());
        publish(
                dir,
                "v3",
                resource("client/svid.pem"),
                "garbage".getBytes(StandardCharsets.US_ASCII),
                resource("bundle_a.pem"));
        assertEquals("..v1", d.refresh().version());
        assertEquals(2, d.refusals());
    }

    @Test
    void keepsTheLastGoodWhenDataDisappears() throws Exception {
        publish(dir, "v1", "broker", "bundle_a.pem");
        SvidDirectory<SvidSet> d = open();
        Files.delete(dir.resolve("..data"));
        assertEquals("..v1", d.refresh().version());
        assertEquals("..v1", d.refresh().version());
        assertEquals(1, d.refusals());
    }

    // The watch rotated while the broker started: the version open() read
    // vanished under a newer one, which open() must load rather than fail.
    @Test
    void opensTheNewerVersionWhenTheOneItReadVanished() throws Exception {
        publish(dir, "v1", "broker", "bundle_a.pem");
        boolean[] swapped = {false};
        SvidDirectory<SvidSet> d =
                SvidDirectory.open(
                        dir,
                        set -> {
                            if (!swapped[0]) {
                                swapped[0] = true;
                                try {
                                    publish(dir, "v2", "broker_b", "bundle_ab.pem");
                                } catch (IOException e) {
                                    throw new UncheckedIOException(e);
                                }
                                throw new SvidSet.LoadException(set.version() + ": vanished");
                            }
                            return set;
                        });
        assertEquals("..v2", d.refresh().version());
        assertEquals(0, d.refusals());
    }

    @Test
    void failsToOpenWithoutAGoodSet() throws Exception {
        SvidSet.LoadException noData = assertThrows(SvidSet.LoadException.class, this::open);
        assertEquals(
                dir.resolve("..data")
                        + ": missing (is "
                        + dir
                        + " a directory written by `mayfly watch x509 --write`?)",
                noData.getMessage());
        publish(
                dir,
                "v1",
                resource("broker/svid.pem"),
                resource("client/svid_key.pem"),
                resource("bundle_a.pem"));
        SvidSet.LoadException mismatch = assertThrows(SvidSet.LoadException.class, this::open);
        assertEquals(
                dir.resolve("..v1/svid_key.pem")
                        + ": key does not match the leaf certificate of svid.pem",
                mismatch.getMessage());
        publish(dir, "v2", resource("broker/svid.pem"), null, resource("bundle_a.pem"));
        assertEquals(
                dir.resolve("..v2/svid_key.pem") + ": missing",
                assertThrows(SvidSet.LoadException.class, this::open).getMessage());
    }
}
