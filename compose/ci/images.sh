#!/usr/bin/env bash
# Builds every image the compose deployment needs without reaching any registry, as CI must:
#   storagebus-ci/debian:bookworm   a minimal Debian from its packages (debootstrap), once
#   storagebus-ci/jre:17            that Debian with OpenJDK 17's runtime (for eclipse-temurin:17-jre)
#   storagebus:latest               compose/Dockerfile on that base, with this clone's dist/target
#   storagebus-ci/kafka:4.3.1       Kafka from the distribution's Maven artifacts (for apache/kafka)
#   storagebus-ci/zookeeper:3.9.5   ZooKeeper from the same (for zookeeper:3.9)
# and prints the variables that make docker-compose.yml use them. Run it from anywhere, after
# ./mvnw package; images that exist already are kept (pass --rebuild to make them again).
set -euo pipefail
cd "$(dirname "$0")/../.."
rebuild=${1:-}
exists() { [ "$rebuild" != --rebuild ] && docker image inspect "$1" > /dev/null 2>&1; }
[ -d dist/target/lib ] || { echo "images.sh: build the distribution first: ./mvnw -DskipTests package" >&2; exit 1; }

if ! exists storagebus-ci/debian:bookworm; then
  root=$(mktemp -d)
  debootstrap --variant=minbase bookworm "$root" http://deb.debian.org/debian > /dev/null
  tar -C "$root" -c . | docker import - storagebus-ci/debian:bookworm > /dev/null
  rm -rf "$root"
fi
if ! exists storagebus-ci/jre:17; then
  printf 'FROM storagebus-ci/debian:bookworm\nRUN apt-get update && apt-get install -y --no-install-recommends openjdk-17-jre-headless && rm -rf /var/lib/apt/lists/*\n' \
    | docker build -q -t storagebus-ci/jre:17 - > /dev/null
fi
# The StorageBus image always: it carries this clone's build.
docker build -q -f compose/Dockerfile --build-arg BUILD_IMAGE=storagebus-ci/jre:17 --build-arg RUNTIME_IMAGE=storagebus-ci/jre:17 \
  -t storagebus:latest . > /dev/null
docker build -q -t storagebus-ci/kafka:4.3.1 compose/ci/kafka > /dev/null
docker build -q -t storagebus-ci/zookeeper:3.9.5 compose/ci/zookeeper > /dev/null
echo "KAFKA_IMAGE=storagebus-ci/kafka:4.3.1"
echo "ZOOKEEPER_IMAGE=storagebus-ci/zookeeper:3.9.5"
echo "STORAGEBUS_BUILD_IMAGE=storagebus-ci/jre:17"
echo "STORAGEBUS_RUNTIME_IMAGE=storagebus-ci/jre:17"
