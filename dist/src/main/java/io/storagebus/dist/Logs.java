package io.storagebus.dist;

import java.util.Locale;

import io.storagebus.dist.config.Configuration;

/** Hands log.format and log.level to logback.xml; called before anything logs, so logback starts with them. */
final class Logs {
    private Logs() {
    }

    static void configure(Configuration config) {
        System.setProperty("STORAGEBUS_LOG_FORMAT", config.string("log.format"));
        System.setProperty("STORAGEBUS_LOG_LEVEL", config.string("log.level").toUpperCase(Locale.ROOT));
    }
}
