// javaspiffe-check: an unmodified java-spiffe client (io.spiffe:java-spiffe-core)
// pointed at a Workload API socket. The interop test runs it against
// mayfly-agent to show that a real third-party Java client works. It uses
// java-spiffe's public API only.
//
//   javaspiffe-check x509 -socket unix:///path -expect-id ID [-rotations N] [-timeout 20s]
//       WorkloadApiClient.watchX509Context
//   javaspiffe-check source -socket unix:///path -expect-id ID [-rotations N] [-timeout 20s]
//       DefaultX509Source, which watches on its own
//   javaspiffe-check bundles -socket unix:///path [-timeout 20s]
//       WorkloadApiClient.fetchX509Bundles, then watchX509Bundles
//
// Exit 0 with "ok" as the last line on success; 1 with the reason on stderr
// otherwise; 2 for a bad command line.
package dev.mayfly.interop;

import io.spiffe.bundle.BundleSource;
import io.spiffe.bundle.x509bundle.X509Bundle;
import io.spiffe.bundle.x509bundle.X509BundleSet;
import io.spiffe.svid.x509svid.X509Svid;
import io.spiffe.svid.x509svid.X509SvidValidator;
import io.spiffe.workloadapi.DefaultWorkloadApiClient;
import io.spiffe.workloadapi.DefaultX509Source;
import io.spiffe.workloadapi.Watcher;
import io.spiffe.workloadapi.WorkloadApiClient;
import io.spiffe.workloadapi.X509Context;

import java.security.MessageDigest;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

public final class JavaSpiffeCheck {
    // How often `source` looks at DefaultX509Source for a new SVID: the
    // source updates itself from its own watch; this only reads it.
    private static final Duration SOURCE_POLL = Duration.ofMillis(100);

    /** A failed check: its message is the reason printed on stderr. */
    private static final class CheckFailed extends Exception {
        CheckFailed(String message) {
            super(message);
        }
    }

    private final String socket;
    private final String expectId;
    private final int rotations;
    private final Instant deadline;

    private JavaSpiffeCheck(Map<String, String> flags) {
        socket = flags.getOrDefault("socket", "");
        expectId = flags.getOrDefault("expect-id", "");
        rotations = Integer.parseInt(flags.getOrDefault("rotations", "0"));
        deadline = Instant.now().plus(parseSeconds(flags.getOrDefault("timeout", "60s")));
    }

    public static void main(String[] args) {
        if (args.length < 1 || args.length % 2 != 1) {
            usage("usage: javaspiffe-check x509|source|bundles -socket ADDR [-flag value]...");
        }
        Map<String, String> flags = new HashMap<>();
        for (int i = 1; i < args.length; i += 2) {
            if (!args[i].startsWith("-")) usage("not a flag: " + args[i]);
            flags.put(args[i].replaceFirst("^--?", ""), args[i + 1]);
        }
        int code = 0;
        try {
            JavaSpiffeCheck check = new JavaSpiffeCheck(flags);
            switch (args[0]) {
                case "x509" -> check.x509();
                case "source" -> check.source();
                case "bundles" -> check.bundles();
                default -> usage("unknown command " + args[0]);
            }
            System.out.println("ok");
        } catch (CheckFailed e) {
            System.err.println("javaspiffe-check: " + e.getMessage());
            code = 1;
        } catch (Throwable e) {
            // Also a missing class (a classpath without grpc-netty-linux): exit 1
            // rather than leave gRPC's threads holding the JVM open.
            System.err.println("javaspiffe-check: " + e);
            e.printStackTrace();
            code = 1;
        }
        System.out.flush();
        // gRPC's executors may still be winding down after close().
        System.exit(code);
    }

    private static void usage(String message) {
        System.err.println("javaspiffe-check: " + message);
        System.exit(2);
    }

    private static Duration parseSeconds(String value) {
        if (!value.matches("[0-9]+s")) usage("-timeout wants whole seconds, like 20s: " + value);
        return Duration.ofSeconds(Long.parseLong(value.substring(0, value.length() - 1)));
    }

    private long millisLeft() {
        return Math.max(0, Duration.between(Instant.now(), deadline).toMillis());
    }

    private WorkloadApiClient newClient() throws Exception {
        return DefaultWorkloadApiClient.newClient(
                DefaultWorkloadApiClient.ClientOptions.builder().spiffeSocketPath(socket).build());
    }

    /** Forwards a watch's updates and its terminal error to the main thread. */
    private static final class QueueWatcher<T> implements Watcher<T> {
        final BlockingQueue<Object> events = new LinkedBlockingQueue<>();

        @Override
        public void onUpdate(T update) {
            events.add(update);
        }

        @Override
        public void onError(Throwable e) {
            // java-spiffe retries what can be retried; this is the end of the watch.
            events.add(e);
        }

        @SuppressWarnings("unchecked")
        T next(JavaSpiffeCheck check, String what) throws Exception {
            Object event = events.poll(check.millisLeft(), TimeUnit.MILLISECONDS);
            if (event == null) throw new CheckFailed("timed out waiting for " + what);
            if (event instanceof Throwable t) throw new CheckFailed("watch ended: " + t);
            return (T) event;
        }
    }

    // Watches X.509 contexts, verifies each default SVID against the bundles
    // that came with it, and waits for `rotations` SVIDs with new serials.
    private void x509() throws Exception {
        try (WorkloadApiClient client = newClient()) {
            QueueWatcher<X509Context> watcher = new QueueWatcher<>();
            client.watchX509Context(watcher);
            Set<String> serials = new HashSet<>();
            for (int n = 1; serials.size() <= rotations; n++) {
                X509Context context =
                        watcher.next(
                                this,
                                "update " + n + " (" + serials.size() + " distinct SVIDs so far)");
                X509Svid svid = context.getDefaultSvid();
                verify(svid, context.getX509BundleSet());
                X509Certificate leaf = svid.getLeaf();
                X509Bundle bundle =
                        context.getX509BundleSet()
                                .getBundleForTrustDomain(svid.getSpiffeId().getTrustDomain());
                String serial = leaf.getSerialNumber().toString(16);
                System.out.printf(
                        "update n=%d id=%s serial=%s not_after=%s chain=%d bundle_roots=%d%n",
                        n,
                        svid.getSpiffeId(),
                        serial,
                        leaf.getNotAfter().toInstant(),
                        svid.getChain().size(),
                        bundle.getX509Authorities().size());
                serials.add(serial);
            }
        }
    }

    // DefaultX509Source: blocks for the first SVID, then keeps itself current
    // from its own watch; waits until it has held `rotations` new serials.
    private void source() throws Exception {
        DefaultX509Source.X509SourceOptions options =
                DefaultX509Source.X509SourceOptions.builder()
                        .spiffeSocketPath(socket)
                        .initTimeout(Duration.ofMillis(millisLeft()))
                        .build();
        try (DefaultX509Source source = DefaultX509Source.newSource(options)) {
            Set<String> serials = new HashSet<>();
            int n = 0;
            while (serials.size() <= rotations) {
                X509Svid svid = source.getX509Svid();
                String serial = svid.getLeaf().getSerialNumber().toString(16);
                if (serials.add(serial)) {
                    verify(svid, source);
                    n++;
                    System.out.printf(
                            "source n=%d id=%s serial=%s not_after=%s%n",
                            n,
                            svid.getSpiffeId(),
                            serial,
                            svid.getLeaf().getNotAfter().toInstant());
                    continue;
                }
                if (millisLeft() == 0) {
                    throw new CheckFailed(
                            "the source held "
                                    + serials.size()
                                    + " distinct SVIDs, want "
                                    + (rotations + 1));
                }
                Thread.sleep(SOURCE_POLL.toMillis());
            }
        }
    }

    // The ID is the expected one and X509SvidValidator accepts the chain
    // against `bundles` but refuses it against an empty bundle of the same
    // trust domain (so a pass is not the validator accepting anything).
    private void verify(X509Svid svid, BundleSource<X509Bundle> bundles) throws Exception {
        if (!expectId.isEmpty() && !svid.getSpiffeId().toString().equals(expectId)) {
            throw new CheckFailed("SVID is " + svid.getSpiffeId() + ", want " + expectId);
        }
        try {
            X509SvidValidator.verifyChain(svid.getChain(), bundles);
        } catch (CertificateException e) {
            throw new CheckFailed("SVID does not verify against its bundle: " + e.getMessage());
        }
        X509BundleSet empty =
                X509BundleSet.of(List.of(new X509Bundle(svid.getSpiffeId().getTrustDomain())));
        try {
            X509SvidValidator.verifyChain(svid.getChain(), empty);
            throw new CheckFailed("SVID verified against an empty bundle");
        } catch (CertificateException expected) {
            // The validator does check the roots.
        }
    }

    // fetchX509Bundles, then the first update of watchX509Bundles, which must
    // hold the same bundles.
    private void bundles() throws Exception {
        try (WorkloadApiClient client = newClient()) {
            X509BundleSet fetched = client.fetchX509Bundles();
            if (fetched.getBundles().isEmpty()) throw new CheckFailed("no X.509 bundles");
            List<X509Bundle> sorted =
                    fetched.getBundles().values().stream()
                            .sorted(Comparator.comparing(b -> b.getTrustDomain().getName()))
                            .toList();
            for (X509Bundle bundle : sorted) {
                String td = bundle.getTrustDomain().getName();
                System.out.printf(
                        "bundle trust_domain=%s roots=%d%n",
                        td, bundle.getX509Authorities().size());
                List<X509Certificate> roots =
                        bundle.getX509Authorities().stream()
                                .sorted(Comparator.comparing(JavaSpiffeCheck::sha256))
                                .toList();
                for (X509Certificate root : roots) {
                    if (root.getBasicConstraints() < 0) {
                        throw new CheckFailed("bundle of " + td + " holds a non-CA certificate");
                    }
                    System.out.printf("root trust_domain=%s sha256=%s%n", td, sha256(root));
                }
            }
            QueueWatcher<X509BundleSet> watcher = new QueueWatcher<>();
            client.watchX509Bundles(watcher);
            X509BundleSet watched = watcher.next(this, "the first X.509 bundles update");
            if (!watched.equals(fetched)) {
                throw new CheckFailed(
                        "watched bundles " + watched + " differ from fetched " + fetched);
            }
            System.out.printf(
                    "watch n=1 bundles=%d same_as_fetch=true%n", watched.getBundles().size());
        }
    }

    private static String sha256(X509Certificate cert) {
        try {
            return HexFormat.of()
                    .formatHex(MessageDigest.getInstance("SHA-256").digest(cert.getEncoded()));
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }
}
