package io.storagebus.worker.transfer;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The byte range of a request: {@code Content-Range: bytes START-END/TOTAL} on an upload's
 * {@code PUT} (END inclusive, TOTAL the whole image's length), {@code Range: bytes=START-[END]}
 * on a download's {@code GET}. Parsed strictly: a malformed header is refused, never guessed at.
 */
public record ContentRange(long start, long endExclusive, long total) {
    private static final Pattern CONTENT_RANGE = Pattern.compile("bytes (\\d{1,19})-(\\d{1,19})/(\\d{1,19})");
    private static final Pattern RANGE = Pattern.compile("bytes=(\\d{1,19})-(\\d{0,19})");

    public long length() {
        return endExclusive - start;
    }

    /** An upload's {@code Content-Range}; null header: the whole image of {@code contentLength} bytes. */
    public static ContentRange ofUpload(String header, long contentLength) {
        if (header == null) {
            return new ContentRange(0, contentLength, contentLength);
        }
        Matcher m = CONTENT_RANGE.matcher(header.trim());
        if (!m.matches()) {
            throw new IllegalArgumentException("Content-Range must be 'bytes START-END/TOTAL', got '" + header + "'");
        }
        long start = Long.parseLong(m.group(1));
        long end = Long.parseLong(m.group(2));
        long total = Long.parseLong(m.group(3));
        if (end < start || end >= total) {
            throw new IllegalArgumentException("Content-Range '" + header + "' is not a range within the image (START <= END < TOTAL)");
        }
        if (end - start + 1 != contentLength) {
            throw new IllegalArgumentException("Content-Range '" + header + "' names " + (end - start + 1) + " bytes, the body has "
                    + contentLength);
        }
        return new ContentRange(start, end + 1, total);
    }

    /** A download's {@code Range} within an image of {@code size} bytes; null header: all of it. */
    public static ContentRange ofDownload(String header, long size) {
        if (header == null) {
            return new ContentRange(0, size, size);
        }
        Matcher m = RANGE.matcher(header.trim());
        if (!m.matches()) {
            throw new IllegalArgumentException("Range must be one 'bytes=START-END' or 'bytes=START-', got '" + header + "'");
        }
        long start = Long.parseLong(m.group(1));
        long end = m.group(2).isEmpty() ? size - 1 : Math.min(Long.parseLong(m.group(2)), size - 1);
        if (start >= size || end < start) {
            throw new IllegalArgumentException("Range '" + header + "' is outside the image of " + size + " bytes");
        }
        return new ContentRange(start, end + 1, size);
    }
}
