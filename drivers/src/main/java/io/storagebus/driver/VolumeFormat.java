package io.storagebus.driver;

public enum VolumeFormat {
    RAW, QCOW2
}
