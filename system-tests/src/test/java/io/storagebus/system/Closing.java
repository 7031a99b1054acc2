package io.storagebus.system;

/** What a test started, closed in the order given; what was never started (null) is passed over. */
final class Closing {
    private Closing() {
    }

    /** Closes each one that is there; the first failure is thrown once all had their turn, with the others suppressed. */
    static void all(AutoCloseable... resources) throws Exception {
        Exception first = null;
        for (AutoCloseable r : resources) {
            if (r == null) {
                continue;
            }
            try {
                r.close();
            } catch (Exception e) {
                if (first == null) {
                    first = e;
                } else {
                    first.addSuppressed(e);
                }
            }
        }
        if (first != null) {
            throw first;
        }
    }
}
