package io.storagebus.manager.security;

/** What a REST token may do; each role may do everything the ones before it may. */
public enum Role {
    /** Reads. */
    VIEWER,
    /** Reads, and works on volumes (create, prepare, snapshot, back up, delete...) and maintenance. */
    OPERATOR,
    /** Everything: domains, the SPM role, and all an operator may do. */
    ADMIN;

    public boolean allows(Role required) {
        return compareTo(required) >= 0;
    }
}
