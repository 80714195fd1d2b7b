#!/usr/bin/env bash
# The README's first command: the whole product on one machine.
#
#   bash tests/demo.sh               mayfly-agent, a Kafka 4.4.0 broker with
#                                    the Mayfly plugin, the policy, and
#                                    librdkafka clients on rotating SVIDs
#                                    (tests/kafka/demo.sh says what it shows)
#   bash tests/demo.sh --agent-only  the agent alone: an SVID fetched over the
#                                    Workload API and checked
#                                    (tests/demo_agent.sh; no Java or Kafka)
#
# Both install what is missing first and are safe to run again.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
case "${1:-}" in
  "") exec bash "$here/kafka/demo.sh" ;;
  --keep) exec bash "$here/kafka/demo.sh" --keep ;;
  --agent-only) exec bash "$here/demo_agent.sh" ;;
  *)
    echo "usage: bash tests/demo.sh [--agent-only | --keep]" >&2
    exit 2
    ;;
esac
