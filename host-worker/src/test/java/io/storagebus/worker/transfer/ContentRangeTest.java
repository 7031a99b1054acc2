package io.storagebus.worker.transfer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class ContentRangeTest {
    @Test
    void anUploadChunkIsPlacedByItsContentRange() {
        ContentRange r = ContentRange.ofUpload("bytes 1048576-2097151/67108864", 1048576);
        assertEquals(1048576, r.start());
        assertEquals(2097152, r.endExclusive());
        assertEquals(67108864, r.total());
        assertEquals(1048576, r.length());
    }

    @Test
    void withoutContentRangeTheBodyIsTheWholeImage() {
        ContentRange r = ContentRange.ofUpload(null, 4096);
        assertEquals(0, r.start());
        assertEquals(4096, r.total());
    }

    @Test
    void aContentRangeThatIsNotWithinTheImageOrNotTheBodyIsRefused() {
        assertThrows(IllegalArgumentException.class, () -> ContentRange.ofUpload("bytes 10-5/100", 0));
        assertThrows(IllegalArgumentException.class, () -> ContentRange.ofUpload("bytes 0-100/100", 101));
        assertThrows(IllegalArgumentException.class, () -> ContentRange.ofUpload("bytes 0-9/100", 9));
        assertThrows(IllegalArgumentException.class, () -> ContentRange.ofUpload("bytes 0-9/*", 10));
        assertThrows(IllegalArgumentException.class, () -> ContentRange.ofUpload("items 0-9/100", 10));
        assertThrows(IllegalArgumentException.class, () -> ContentRange.ofUpload("bytes 0-99999999999999999999/100", 10));
    }

    @Test
    void aDownloadRangeIsClampedToTheImageAndAnOpenEndReadsToItsEnd() {
        assertEquals(new ContentRange(10, 100, 100), ContentRange.ofDownload("bytes=10-", 100));
        assertEquals(new ContentRange(10, 100, 100), ContentRange.ofDownload("bytes=10-500", 100));
        assertEquals(new ContentRange(0, 100, 100), ContentRange.ofDownload(null, 100));
        assertThrows(IllegalArgumentException.class, () -> ContentRange.ofDownload("bytes=100-", 100));
        assertThrows(IllegalArgumentException.class, () -> ContentRange.ofDownload("bytes=0-1,5-6", 100));
        assertThrows(IllegalArgumentException.class, () -> ContentRange.ofDownload("bytes=-5", 100));
    }
}
