package io.storagebus.driver;

/** Types of domain properties; they decide validation and how a UI shows them. */
public enum PropertyType {
    STRING, INT, SIZE, BOOL, ENUM, PATH, URI, SECRET
}
