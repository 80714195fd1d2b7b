// Copyright 2026 The Mayfly Authors. Licensed under the Apache License 2.0.
//
// Who a client engine of SvidSslEngineFactory (a broker's connections to
// its controller and to other brokers, a Java client's) accepts as the
// server: the IDs of mayfly.peer.spiffe.ids if set, else the `brokers` of
// the policy, as it stands at each handshake (so they follow reloads). With
// neither, any workload of the trust domains could pose as the broker, and
// configuring fails.
package dev.mayfly.kafka.ssl;

import static dev.mayfly.kafka.ssl.Settings.split;

import dev.mayfly.kafka.policy.PolicySource;
import dev.mayfly.kafka.spiffe.InvalidSpiffeIdException;
import dev.mayfly.kafka.spiffe.SpiffeId;
import dev.mayfly.kafka.spiffe.TrustDomain;

import org.apache.kafka.common.config.ConfigException;

import java.util.LinkedHashSet;
import java.util.Set;

final class BrokerPeers {
    private BrokerPeers() {}

    /**
     * The check for `peerIdsValue` (mayfly.peer.spiffe.ids, null if unset), each ID in one of
     * `trustDomains` (as configured: `trustDomainsValue`), else for `policy`'s brokers (`policy`
     * null: no policy).
     */
    static SpiffeTrustManager.PeerCheck fromConfig(
            String peerIdsValue,
            Set<TrustDomain> trustDomains,
            String trustDomainsValue,
            PolicySource policy) {
        String option = SvidSslEngineFactory.PEER_SPIFFE_IDS_CONFIG;
        Set<SpiffeId> ids = new LinkedHashSet<>();
        for (String id : split(peerIdsValue)) {
            SpiffeId parsed;
            try {
                parsed = SpiffeId.fromString(id);
            } catch (InvalidSpiffeIdException e) {
                throw new ConfigException(option, peerIdsValue, e.getMessage());
            }
            if (!trustDomains.contains(parsed.trustDomain())) {
                throw new ConfigException(
                        option,
                        peerIdsValue,
                        id
                                + " is not in "
                                + SvidSslEngineFactory.TRUST_DOMAINS_CONFIG
                                + " ("
                                + trustDomainsValue
                                + ")");
            }
            ids.add(parsed);
        }
        if (!ids.isEmpty()) {
            return SpiffeTrustManager.PeerCheck.oneOf(ids, option);
        }
        if (policy == null || policy.current().brokers().isEmpty()) {
            throw new ConfigException(
                    option,
                    null,
                    "is required by "
                            + SvidSslEngineFactory.class.getName()
                            + " unless "
                            + SvidSslEngineFactory.POLICY_FILE_CONFIG
                            + " names a policy with brokers: the SPIFFE IDs of the brokers (and"
                            + " controllers) this factory's client connections may reach; without"
                            + " them any workload of "
                            + SvidSslEngineFactory.TRUST_DOMAINS_CONFIG
                            + " would be trusted as the broker");
        }
        return id ->
                policy.current().isBroker(id)
                        ? null
                        : "peer SPIFFE ID "
                                + id
                                + " is not one of the brokers of the policy "
                                + policy.path();
    }
}
