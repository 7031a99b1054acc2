#!/usr/bin/env bash
# Makes everything the secured compose deployment needs, once, on the Docker host:
#   1. certificates: Kafka's (config/tls/kafka.p12, trusted through kafka.pem), the ZooKeeper
#      ensemble's (zookeeper.p12, zookeeper.pem) and the REST API's (manager.p12, manager.pem),
#      self-signed with the JDK's keytool;
#   2. passwords, each in a file of its own: one Kafka user per StorageBus identity
#      (sb-manager, sb-host-N, the pool's SPM sb-spm-default) and the ZooKeeper digest identity;
#   3. the managers' command-signing key pair (config/commands/);
#   4. with Kafka up, the SCRAM users and their ACLs (storagebus kafka-acls), through a listener
#      that only the Kafka container itself can reach.
# Run it from compose/ before the first 'docker compose up'; it changes nothing that exists.
set -euo pipefail
cd "$(dirname "$0")"
# The compose plugin, or docker-compose 1.29+ where there is none.
if docker compose version > /dev/null 2>&1; then compose() { docker compose "$@"; }; else compose() { docker-compose "$@"; }; fi
STORAGEBUS=../bin/storagebus
HOSTS="host-1 host-2 host-3"
POOL=default

secret() { [ -s "$1" ] || { mkdir -p "$(dirname "$1")"; head -c 24 /dev/urandom | base64 | tr -d '/+=' > "$1"; chmod 600 "$1"; }; }
certificate() { # name, subject alternative names
  [ -s "config/tls/$1.p12" ] && return
  secret "config/tls/$1.password"
  keytool -genkeypair -alias "$1" -keyalg EC -groupname secp256r1 -dname "CN=$1" -ext "SAN=$2" -validity 365 \
    -storetype PKCS12 -keystore "config/tls/$1.p12" -storepass "$(cat "config/tls/$1.password")"
  keytool -exportcert -rfc -alias "$1" -keystore "config/tls/$1.p12" -storepass "$(cat "config/tls/$1.password")" -file "config/tls/$1.pem"
}

# One certificate for the three brokers: they also know each other by it (mutual TLS between them).
certificate kafka dns:kafka-1,dns:kafka-2,dns:kafka-3,dns:localhost,ip:127.0.0.1
certificate zookeeper dns:zk1,dns:zk2,dns:zk3,dns:localhost,ip:127.0.0.1
certificate manager dns:localhost,dns:manager-1,dns:manager-2,ip:127.0.0.1
cp config/tls/manager.password config/tls/password            # manager.tls-keystore-password-file
{ echo "KAFKA_KEYSTORE_PASSWORD=$(cat config/tls/kafka.password)"      # read by docker compose for the broker
  echo "ZOOKEEPER_KEYSTORE_PASSWORD=$(cat config/tls/zookeeper.password)"; } > .env   # and for the ensemble

secret config/secrets/manager/sb-manager.password
secret config/secrets/hosts/sb-spm-$POOL.password
for h in $HOSTS; do secret "config/secrets/hosts/sb-$h.password"; done
secret config/secrets/manager/zookeeper.password
cp config/secrets/manager/zookeeper.password config/secrets/hosts/zookeeper.password
[ -s config/commands/commands.key ] || $STORAGEBUS command-keys create --dir config/commands

compose up -d kafka-1 kafka-2 kafka-3 zk1 zk2 zk3
for k in kafka-1 kafka-2 kafka-3; do
  until [ "$(docker inspect -f '{{.State.Health.Status}}' "$(compose ps -q $k)")" = healthy ]; do sleep 2; done
done
# stdin from /dev/null: exec would read the loop's input in grant below.
kafka() { compose exec -T kafka-1 "/opt/kafka/bin/$1" --bootstrap-server 127.0.0.1:9095 "${@:2}" < /dev/null; }
user() { # name, password file
  kafka kafka-configs.sh --alter --entity-type users --entity-name "$1" --add-config "SCRAM-SHA-512=[password=$(cat "$2")]"
}
grant() { # storagebus kafka-acls arguments
  $STORAGEBUS kafka-acls "$@" | while read -r line; do eval "kafka kafka-acls.sh $line" > /dev/null; done
}
user sb-manager config/secrets/manager/sb-manager.password
grant --for manager --principal User:sb-manager
user sb-spm-$POOL config/secrets/hosts/sb-spm-$POOL.password
grant --for spm --principal User:sb-spm-$POOL --pool $POOL
for h in $HOSTS; do
  user "sb-$h" "config/secrets/hosts/sb-$h.password"
  grant --for host --principal "User:sb-$h" --host-id "$h" --pool $POOL
done
echo "Kafka users and ACLs are in place; next: a REST token (README, Up), then docker compose up -d"
