// SvidDirectory under concurrent refresh() calls while a writer switches
// ..data and removes the previous version directory, as `mayfly watch x509
// --write` does: no caller ever gets an exception or a null or goes back to
// an older version, and once the writer stops, every caller sees the last.
package dev.mayfly.kafka.ssl;

import static dev.mayfly.kafka.ssl.TestSvids.publish;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Stream;

class SvidDirectoryConcurrencyTest {
    private static final int READERS = 4;
    private static final int VERSIONS = 30;

    @TempDir Path dir;

    @Test
    void readersNeverFailWhileVersionsSwitch() throws Exception {
        publish(dir, "v0", "broker", "bundle_a.pem");
        SvidDirectory<SvidSet> d = SvidDirectory.open(dir, set -> set);
        AtomicBoolean writing = new AtomicBoolean(true);
        ExecutorService pool = Executors.newFixedThreadPool(READERS);
        try {
            List<Future<Integer>> readers = new ArrayList<>();
            for (int i = 0; i < READERS; i++) {
                readers.add(
                        pool.submit(
                                () -> {
                                    int calls = 0;
                                    int last = 0;
                                    while (writing.get()) {
                                        SvidSet set = d.refresh();
                                        assertNotNull(set.leaf());
                                        // Versions only move forward, as ..data does.
                                        int n =
                                                Integer.parseInt(
                                                        set.version().substring("..v".length()));
                                        assertTrue(
                                                n >= last,
                                                "went back from ..v" + last + " to ..v" + n);
                                        last = n;
                                        calls++;
                                    }
                                    return calls;
                                }));
            }
            for (int v = 1; v <= VERSIONS; v++) {
                publish(dir, "v" + v, v % 2 == 0 ? "broker" : "broker_b", "bundle_ab.pem");
                deleteTree(dir.resolve("..v" + (v - 1)));
            }
            writing.set(false);
            for (Future<Integer> r : readers) {
                r.get(30, TimeUnit.SECONDS); // rethrows a reader's failure
            }
        } finally {
            pool.shutdownNow();
        }
        assertEquals("..v" + VERSIONS, d.refresh().version());
        assertEquals(TestSvids.certs("broker/svid.pem").get(0), d.refresh().leaf());
    }

    private static void deleteTree(Path p) throws Exception {
        try (Stream<Path> s = Files.walk(p)) {
            for (Path f : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(f);
            }
        }
    }
}
