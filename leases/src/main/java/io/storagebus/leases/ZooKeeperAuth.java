package io.storagebus.leases;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.NoSuchAlgorithmException;
import java.util.List;

import org.apache.curator.framework.api.ACLProvider;
import org.apache.zookeeper.ZooDefs;
import org.apache.zookeeper.data.ACL;
import org.apache.zookeeper.data.Id;
import org.apache.zookeeper.server.auth.DigestAuthenticationProvider;

/**
 * The identity every StorageBus process shows ZooKeeper (digest scheme), and the ACL of every
 * znode they create: all permissions for that identity, none for anyone else. So a client
 * without the password can neither read leases nor the SPM's holder, nor join an election.
 */
public record ZooKeeperAuth(String user, String password) {
    public ZooKeeperAuth {
        if (user == null || user.isBlank() || user.contains(":")) {
            throw new IllegalArgumentException("the ZooKeeper digest user must be a non-empty name without ':'");
        }
        if (password == null || password.isEmpty()) {
            throw new IllegalArgumentException("the ZooKeeper digest password must not be empty");
        }
    }

    /** The password from a file of its own (its first line), so configuration files and logs never hold it. */
    public static ZooKeeperAuth fromFile(String user, Path passwordFile) throws IOException {
        List<String> lines = Files.readAllLines(passwordFile, StandardCharsets.UTF_8);
        if (lines.isEmpty() || lines.get(0).strip().isEmpty()) {
            throw new IllegalArgumentException(passwordFile + " holds no password on its first line");
        }
        return new ZooKeeperAuth(user, lines.get(0).strip());
    }

    byte[] credentials() {
        return (user + ":" + password).getBytes(StandardCharsets.UTF_8);
    }

    /** All permissions for this identity only, on every path. */
    ACLProvider aclProvider() {
        List<ACL> acl;
        try {
            // Not List.of: ZooKeeper asks the list whether it contains null, which List.of answers with an exception.
            acl = java.util.Collections.singletonList(new ACL(ZooDefs.Perms.ALL,
                    new Id("digest", DigestAuthenticationProvider.generateDigest(user + ":" + password))));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JDK has SHA-1", e);
        }
        return new ACLProvider() {
            @Override
            public List<ACL> getDefaultAcl() {
                return acl;
            }

            @Override
            public List<ACL> getAclForPath(String path) {
                return acl;
            }
        };
    }

    @Override
    public String toString() {
        return "ZooKeeperAuth[digest " + user + ":******]";
    }
}
