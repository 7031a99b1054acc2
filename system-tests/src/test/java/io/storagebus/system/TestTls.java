package io.storagebus.system;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.util.List;

import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;

import io.storagebus.manager.security.TlsKeyStore;

/** A self-signed certificate for 127.0.0.1 made with the JDK's keytool, as an operator would: the keystore, its password file, the PEM. */
record TestTls(Path keystore, Path passwordFile, Path certificate) {
    private static final String PASSWORD = "test-keystore-password";

    static TestTls create(Path dir) throws Exception {
        Path keystore = dir.resolve("manager.p12");
        Path pem = dir.resolve("manager.pem");
        String keytool = Path.of(System.getProperty("java.home"), "bin", "keytool").toString();
        run(keytool, "-genkeypair", "-alias", "manager", "-keyalg", "EC", "-groupname", "secp256r1", "-dname", "CN=127.0.0.1",
                "-ext", "SAN=ip:127.0.0.1,dns:localhost", "-validity", "2", "-storetype", "PKCS12", "-keystore", keystore.toString(),
                "-storepass", PASSWORD, "-keypass", PASSWORD);
        run(keytool, "-exportcert", "-rfc", "-alias", "manager", "-keystore", keystore.toString(), "-storepass", PASSWORD,
                "-file", pem.toString());
        return new TestTls(keystore, Files.writeString(dir.resolve("keystore-password"), PASSWORD + "\n"), pem);
    }

    /**
     * A client certificate for {@code CN=<cn>} in {@code <cn>.p12} (this class's password), and
     * its certificate added to the PKCS#12 truststore {@code trusted}, which a broker that asks
     * for client certificates trusts.
     */
    static Path clientCertificate(Path dir, String cn, Path trusted) throws Exception {
        Path keystore = dir.resolve(cn + ".p12");
        Path pem = dir.resolve(cn + ".pem");
        String keytool = Path.of(System.getProperty("java.home"), "bin", "keytool").toString();
        run(keytool, "-genkeypair", "-alias", cn, "-keyalg", "EC", "-groupname", "secp256r1", "-dname", "CN=" + cn, "-validity", "2",
                "-storetype", "PKCS12", "-keystore", keystore.toString(), "-storepass", PASSWORD, "-keypass", PASSWORD);
        run(keytool, "-exportcert", "-rfc", "-alias", cn, "-keystore", keystore.toString(), "-storepass", PASSWORD, "-file", pem.toString());
        run(keytool, "-importcert", "-noprompt", "-alias", cn, "-file", pem.toString(), "-storetype", "PKCS12",
                "-keystore", trusted.toString(), "-storepass", PASSWORD);
        return keystore;
    }

    TlsKeyStore keyStore() throws Exception {
        return TlsKeyStore.of(keystore, passwordFile);
    }

    /** A client context that trusts this certificate only. */
    SSLContext clientContext() throws Exception {
        KeyStore trust = KeyStore.getInstance("PKCS12");
        try (InputStream in = Files.newInputStream(keystore)) {
            trust.load(in, PASSWORD.toCharArray());
        }
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(trust);
        SSLContext context = SSLContext.getInstance("TLS");
        context.init(null, tmf.getTrustManagers(), null);
        return context;
    }

    private static void run(String... cmd) throws Exception {
        Process p = new ProcessBuilder(List.of(cmd)).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertEquals(0, p.waitFor(), String.join(" ", cmd) + ": " + out);
    }
}
