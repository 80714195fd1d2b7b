// Copyright 2026 The Mayfly Authors. Licensed under the Apache License 2.0.
//
// The bridge policy (docs/kafka.md, "The policy"): which SPIFFE ID is which
// Kafka principal. The same file, the same load-time checks and the same
// mapping as the C++ bridge (bridge/policy.cc), so `mayfly bridge map` and
// the broker always agree; bridge/testdata/mapping_vectors.yaml holds both
// to it.
//
// Mapping is pure and total: first matching rule wins, a capture "{name}" is
// one whole segment, "*" one segment, "**" (last only) one or more, an ID
// outside the listed trust domains is denied, and an ID no rule matches is
// denied or, with `unmapped: anonymous`, User:ANONYMOUS. Load errors read
// "FILE:LINE: FIELD: what".
//
// `brokers` lists the SPIFFE ID patterns a broker may present (each in
// trust_domains); optional at load, as in C++, and empty when left out. No
// principal may be Kafka's wildcard "TYPE:*".
//
// Immutable once loaded; safe to share between threads.
package dev.mayfly.kafka.policy;

import dev.mayfly.kafka.spiffe.InvalidSpiffeIdException;
import dev.mayfly.kafka.spiffe.SpiffeId;
import dev.mayfly.kafka.spiffe.SpiffeIdPattern;
import dev.mayfly.kafka.spiffe.TrustDomain;

import org.yaml.snakeyaml.nodes.Node;
import org.yaml.snakeyaml.nodes.SequenceNode;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;
import java.util.stream.Collectors;

public final class Policy {
    /**
     * What `unmapped: anonymous` maps to: Kafka's own name for a client it could not identify
     * (KafkaPrincipal.ANONYMOUS).
     */
    public static final String ANONYMOUS = "User:ANONYMOUS";

    private static final TreeSet<String> TOP_KEYS =
            new TreeSet<>(
                    List.of(
                            "trust_domains",
                            "brokers",
                            "principals",
                            "unmapped",
                            "super_users",
                            "acls"));
    private static final TreeSet<String> RULE_KEYS = new TreeSet<>(List.of("id", "principal"));

    /** One `principals` entry, compiled; `source` is "FILE:LINE". */
    private record Rule(
            String idPattern, RulePattern pattern, PrincipalTemplate principal, String source) {}

    private final List<TrustDomain> trustDomains = new ArrayList<>();
    private final List<SpiffeIdPattern> brokers = new ArrayList<>();
    private final List<Rule> rules = new ArrayList<>();
    private boolean unmappedAnonymous = false;
    private final List<String> superUsers = new ArrayList<>();
    private int aclBindings = 0;
    private final String sha256;

    private Policy(String sha256) {
        this.sha256 = sha256;
    }

    /** Loads the policy file at `path`; errors name the path as given. */
    public static Policy load(Path path) throws PolicyException {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(path);
        } catch (IOException e) {
            throw new PolicyException(path + ": cannot read the policy: " + e, e);
        }
        return parse(bytes, path.toString());
    }

    /** Parses policy YAML; `source` names it in errors; the digest is of its UTF-8 bytes. */
    public static Policy parse(String yaml, String source) throws PolicyException {
        byte[] bytes;
        try {
            ByteBuffer encoded =
                    StandardCharsets.UTF_8
                            .newEncoder()
                            .onMalformedInput(CodingErrorAction.REPORT)
                            .onUnmappableCharacter(CodingErrorAction.REPORT)
                            .encode(CharBuffer.wrap(yaml));
            bytes = new byte[encoded.remaining()];
            encoded.get(bytes);
        } catch (CharacterCodingException e) {
            throw new PolicyException(source + ": not valid UTF-8 (an unpaired surrogate)");
        }
        return parse(bytes, source);
    }

    /**
     * Parses policy YAML given as its bytes (UTF-8), the exact contents of a file; `source` names
     * it in errors. Its digest is of these bytes, so it names what was parsed even if the file
     * changes meanwhile.
     */
    public static Policy parse(byte[] yaml, String source) throws PolicyException {
        YamlReader r = new YamlReader(source);
        Node root = r.load(yaml);
        Policy policy = new Policy(PolicyDigest.sha256Hex(yaml));
        policy.parseTop(r, root);
        return policy;
    }

    private void parseTop(YamlReader r, Node root) throws PolicyException {
        if (!YamlReader.isMap(root)) {
            throw r.error(
                    root,
                    "policy",
                    "want a map with trust_domains, brokers, principals, unmapped, super_users"
                            + " and acls");
        }
        r.checkKeys(root, "", TOP_KEYS);
        for (String key : List.of("trust_domains", "principals")) {
            if (YamlReader.get(root, key) == null) {
                throw r.error(root, key, "required");
            }
        }
        parseTrustDomains(r, YamlReader.get(root, "trust_domains"));
        Node brokerList = YamlReader.get(root, "brokers");
        if (brokerList != null) {
            parseBrokers(r, brokerList);
        }

        Node principals = YamlReader.get(root, "principals");
        if (!(principals instanceof SequenceNode seq)) {
            throw r.error(principals, "principals", "want a list");
        }
        for (int i = 0; i < seq.getValue().size(); i++) {
            parseRule(r, seq.getValue().get(i), "principals[" + i + "]");
        }

        Node unmapped = YamlReader.get(root, "unmapped");
        if (unmapped != null) {
            String value = r.string(unmapped, "unmapped");
            if (!value.equals("deny") && !value.equals("anonymous")) {
                throw r.error(
                        unmapped,
                        "unmapped",
                        "\"" + value + "\": want deny (the default) or anonymous");
            }
            unmappedAnonymous = value.equals("anonymous");
        }

        Node users = YamlReader.get(root, "super_users");
        if (users != null) {
            List<YamlReader.Item> items = r.strings(users, "super_users");
            for (int i = 0; i < items.size(); i++) {
                String field = "super_users[" + i + "]";
                YamlReader.Item item = items.get(i);
                try {
                    PrincipalTemplate.checkPrincipal(item.value());
                } catch (RulePattern.Invalid e) {
                    throw r.error(item.node(), field, e.getMessage());
                }
                // Kafka's super.users is one string split at ';'.
                if (item.value().indexOf(';') >= 0) {
                    throw r.error(
                            item.node(), field, "';' separates super.users in Kafka's config");
                }
                superUsers.add(item.value());
            }
        }

        Node acls = YamlReader.get(root, "acls");
        if (acls != null) {
            aclBindings = PolicyAcls.check(r, acls, this::owns);
        }
    }

    private void parseTrustDomains(YamlReader r, Node node) throws PolicyException {
        List<YamlReader.Item> names = r.strings(node, "trust_domains");
        if (names.isEmpty()) {
            throw r.error(node, "trust_domains", "list at least one trust domain");
        }
        for (int i = 0; i < names.size(); i++) {
            String field = "trust_domains[" + i + "]";
            YamlReader.Item item = names.get(i);
            String name = item.value();
            if (name.contains(":/")) {
                throw r.error(
                        item.node(),
                        field,
                        "\"" + name + "\": want a bare name (prod.acme), not an ID");
            }
            TrustDomain td;
            try {
                td = TrustDomain.fromString(name);
            } catch (InvalidSpiffeIdException e) {
                throw r.error(item.node(), field, e.getMessage());
            }
            if (trustDomains.contains(td)) {
                throw r.error(item.node(), field, name + " is listed twice");
            }
            trustDomains.add(td);
        }
    }

    private void parseBrokers(YamlReader r, Node node) throws PolicyException {
        List<YamlReader.Item> patterns = r.strings(node, "brokers");
        if (patterns.isEmpty()) {
            throw r.error(node, "brokers", "list at least one SPIFFE ID (pattern) of the brokers");
        }
        for (int i = 0; i < patterns.size(); i++) {
            String field = "brokers[" + i + "]";
            YamlReader.Item item = patterns.get(i);
            SpiffeIdPattern pattern;
            try {
                pattern = SpiffeIdPattern.fromString(item.value());
            } catch (InvalidSpiffeIdException e) {
                throw r.error(item.node(), field, e.getMessage());
            }
            if (!trustDomains.contains(pattern.trustDomain())) {
                throw r.error(
                        item.node(),
                        field,
                        "trust domain "
                                + pattern.trustDomain().name()
                                + " is not in trust_domains");
            }
            for (SpiffeIdPattern earlier : brokers) {
                if (earlier.toString().equals(pattern.toString())) {
                    throw r.error(item.node(), field, item.value() + " is listed twice");
                }
            }
            brokers.add(pattern);
        }
    }

    private void parseRule(YamlReader r, Node node, String field) throws PolicyException {
        r.checkKeys(node, field, RULE_KEYS);
        for (String key : List.of("id", "principal")) {
            if (YamlReader.get(node, key) == null) {
                throw r.error(node, field, key + " is required");
            }
        }
        Node idNode = YamlReader.get(node, "id");
        String idPattern = r.string(idNode, field + ".id");
        RulePattern pattern;
        try {
            pattern = RulePattern.parse(idPattern);
        } catch (RulePattern.Invalid e) {
            throw r.error(idNode, field + ".id", e.getMessage());
        }
        TrustDomain td = pattern.matcher().trustDomain();
        if (!trustDomains.contains(td)) {
            throw r.error(
                    idNode,
                    field + ".id",
                    "trust domain " + td.name() + " is not in trust_domains");
        }
        for (int i = 0; i < rules.size(); i++) {
            Rule earlier = rules.get(i);
            if (earlier.pattern().subsumes(pattern)) {
                throw r.error(
                        idNode,
                        field + ".id",
                        "unreachable: the rule at "
                                + earlier.source()
                                + " (principals["
                                + i
                                + "], "
                                + earlier.idPattern()
                                + ") matches every ID this one matches, and the first"
                                + " match wins");
            }
        }
        Node principalNode = YamlReader.get(node, "principal");
        String template = r.string(principalNode, field + ".principal");
        PrincipalTemplate principal;
        try {
            principal = PrincipalTemplate.parse(template, pattern);
        } catch (RulePattern.Invalid e) {
            throw r.error(principalNode, field + ".principal", e.getMessage());
        }
        rules.add(new Rule(idPattern, pattern, principal, r.at(node)));
    }

    /** The principal for `spiffeId`, or why there is none. Never throws. */
    public MapResult map(String spiffeId) {
        SpiffeId id;
        try {
            id = SpiffeId.fromString(spiffeId);
        } catch (InvalidSpiffeIdException e) {
            return MapResult.denied(Denial.INVALID_ID, e.getMessage());
        }
        return map(id);
    }

    /** The principal for an already parsed ID. */
    public MapResult map(SpiffeId id) {
        if (!trustDomains.contains(id.trustDomain())) {
            return MapResult.denied(
                    Denial.FOREIGN_TRUST_DOMAIN,
                    "trust domain "
                            + id.trustDomain().name()
                            + " is not one of the policy's ("
                            + trustDomains.stream()
                                    .map(TrustDomain::name)
                                    .collect(Collectors.joining(", "))
                            + ")");
        }
        for (int i = 0; i < rules.size(); i++) {
            Rule rule = rules.get(i);
            if (!rule.pattern().matcher().matches(id)) {
                continue;
            }
            return MapResult.mapped(
                    rule.principal().expand(id.segments()),
                    "principals[" + i + "] at " + rule.source() + ": " + rule.idPattern());
        }
        if (unmappedAnonymous) {
            return MapResult.mapped(ANONYMOUS, "no rule matches; unmapped: anonymous");
        }
        return MapResult.denied(Denial.UNMAPPED, "no rule matches, and unmapped is deny");
    }

    /** Whether some rule can produce `principal` ("Type:Name"); see policy.h. */
    public boolean owns(String principal) {
        if (unmappedAnonymous && principal.equals(ANONYMOUS)) {
            return true;
        }
        for (Rule rule : rules) {
            if (rule.principal().canProduce(principal)) {
                return true;
            }
        }
        return false;
    }

    public List<TrustDomain> trustDomains() {
        return List.copyOf(trustDomains);
    }

    /** The `brokers` patterns in file order; empty when the policy has none. */
    public List<SpiffeIdPattern> brokers() {
        return List.copyOf(brokers);
    }

    /** Whether `id` is one of the brokers (matches a `brokers` pattern). */
    public boolean isBroker(SpiffeId id) {
        for (SpiffeIdPattern pattern : brokers) {
            if (pattern.matches(id)) {
                return true;
            }
        }
        return false;
    }

    /** "User:..." principals the broker treats as super users. */
    public List<String> superUsers() {
        return List.copyOf(superUsers);
    }

    /**
     * SHA-256 of the policy file's bytes, lower-case hex: what `mayfly bridge check` prints as
     * "policy sha256:HEX", so an operator can tell which file a broker runs.
     */
    public String sha256() {
        return sha256;
    }

    /** Why `principal` is not a principal the policy could hold ("Type:Name"), or null. */
    public static String principalProblem(String principal) {
        try {
            PrincipalTemplate.checkPrincipal(principal);
            return null;
        } catch (RulePattern.Invalid e) {
            return e.getMessage();
        }
    }

    public int ruleCount() {
        return rules.size();
    }

    /** Grants expanded to one binding per operation, duplicates removed. */
    public int aclBindingCount() {
        return aclBindings;
    }
}
