package io.storagebus.driver;

public enum Allocation {
    /** Space is allocated as the guest writes. */
    THIN,
    /** The whole virtual size is reserved at creation. */
    PREALLOCATED
}
