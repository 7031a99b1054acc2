package io.storagebus.driver;

import java.net.URI;
import java.net.URISyntaxException;
import java.util.regex.Pattern;

/**
 * The name of a volume, independent of where a driver keeps it: {@code sb://<domainId>/<volumeId>}.
 * Parsing is strict, so nothing a client sends can name a path outside its domain: no other
 * scheme, no query or fragment, no escapes, exactly one path segment of safe characters.
 */
public record VolumeUri(String domainId, String volumeId) {
    public static final String SCHEME = "sb";
    /** Ids become file, LV and object names; nothing that could leave a directory is allowed. */
    public static final Pattern ID = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_-]{0,63}");

    public VolumeUri {
        if (domainId == null || !ID.matcher(domainId).matches()) {
            throw new IllegalArgumentException("invalid domain id '" + domainId + "': " + ID.pattern());
        }
        if (volumeId == null || !ID.matcher(volumeId).matches()) {
            throw new IllegalArgumentException("invalid volume id '" + volumeId + "': " + ID.pattern());
        }
    }

    public static VolumeUri parse(String text) throws DriverException {
        try {
            URI uri = new URI(text);
            String path = uri.getRawPath();
            if (!SCHEME.equals(uri.getScheme()) || uri.getRawAuthority() == null || path == null || !path.startsWith("/")
                    || uri.getRawQuery() != null || uri.getRawFragment() != null || text.contains("%")) {
                throw new DriverException(DriverException.Code.INVALID_URI, "not a volume URI (sb://<domainId>/<volumeId>): " + text);
            }
            return new VolumeUri(uri.getRawAuthority(), path.substring(1));
        } catch (URISyntaxException | IllegalArgumentException e) {
            throw new DriverException(DriverException.Code.INVALID_URI, "not a volume URI (sb://<domainId>/<volumeId>): " + text + ": " + e.getMessage());
        }
    }

    @Override
    public String toString() {
        return SCHEME + "://" + domainId + "/" + volumeId;
    }
}
