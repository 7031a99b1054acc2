#!/bin/bash
# kafka-run-class.sh CLASS ARGS: Kafka's tools on the distribution's classpath, logging warnings only.
exec java ${KAFKA_HEAP_OPTS:--Xmx256m} -XX:TieredStopAtLevel=1 -Dlogback.configurationFile=/opt/kafka/bin/tools-logback.xml \
  -cp "/opt/storagebus/dist/target/lib/*" "$@"
