package io.storagebus.leases;

import java.nio.file.Path;

import org.apache.zookeeper.client.ZKClientConfig;
import org.apache.zookeeper.common.ClientX509Util;

/**
 * TLS to the ZooKeeper ensemble, so that the digest password, leases and election traffic do
 * not cross the network in the clear: the servers' {@code secureClientPort}, trusted through a
 * PEM file of CAs, and optionally a client certificate (PKCS#12) for servers that ask for one.
 *
 * @param caFile null: the JDK's CAs
 * @param keystore null: no client certificate
 */
public record ZooKeeperTls(Path caFile, Path keystore, String keystorePassword) {
    public ZooKeeperTls {
        if (keystore != null && (keystorePassword == null || keystorePassword.isEmpty())) {
            throw new IllegalArgumentException("the ZooKeeper client keystore " + keystore + " needs its password");
        }
    }

    public static ZooKeeperTls trusting(Path caFile) {
        return new ZooKeeperTls(caFile, null, null);
    }

    /** The client settings: Netty with TLS, the servers' certificates checked against the CAs and their host names. */
    ZKClientConfig clientConfig() {
        ZKClientConfig config = new ZKClientConfig();
        config.setProperty(ZKClientConfig.SECURE_CLIENT, "true");
        config.setProperty(ZKClientConfig.ZOOKEEPER_CLIENT_CNXN_SOCKET, "org.apache.zookeeper.ClientCnxnSocketNetty");
        try (ClientX509Util x509 = new ClientX509Util()) {
            if (caFile != null) {
                config.setProperty(x509.getSslTruststoreLocationProperty(), caFile.toString());
                config.setProperty(x509.getSslTruststoreTypeProperty(), "PEM");
            }
            if (keystore != null) {
                config.setProperty(x509.getSslKeystoreLocationProperty(), keystore.toString());
                config.setProperty(x509.getSslKeystoreTypeProperty(), "PKCS12");
                config.setProperty(x509.getSslKeystorePasswdProperty(), keystorePassword);
            }
        }
        return config;
    }

    @Override
    public String toString() {
        return "ZooKeeperTls[trusting " + (caFile == null ? "the JDK's CAs" : caFile) + (keystore == null ? "" : ", certificate " + keystore + ", password ******") + "]";
    }
}
