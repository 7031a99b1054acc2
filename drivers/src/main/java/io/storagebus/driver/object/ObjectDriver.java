package io.storagebus.driver.object;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.storagebus.driver.Allocation;
import io.storagebus.driver.Capability;
import io.storagebus.driver.DomainContext;
import io.storagebus.driver.DriverException;
import io.storagebus.driver.Epoch;
import io.storagebus.driver.Fence;
import io.storagebus.driver.FencedException;
import io.storagebus.driver.PropertyDescriptor;
import io.storagebus.driver.PropertyType;
import io.storagebus.driver.PropertyViolation;
import io.storagebus.driver.Sizes;
import io.storagebus.driver.StorageDriver;
import io.storagebus.driver.VolumeFormat;
import io.storagebus.driver.VolumeInfo;
import io.storagebus.driver.VolumeSpec;
import io.storagebus.driver.VolumeUri;
import io.storagebus.driver.support.QemuImg;
import io.storagebus.driver.support.StoredMetadata;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.core.ResponseBytes;
import software.amazon.awssdk.core.checksums.RequestChecksumCalculation;
import software.amazon.awssdk.core.checksums.ResponseChecksumValidation;
import software.amazon.awssdk.core.exception.SdkClientException;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.http.urlconnection.UrlConnectionHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.CompletedMultipartUpload;
import software.amazon.awssdk.services.s3.model.GetObjectResponse;
import software.amazon.awssdk.services.s3.model.CompletedPart;
import software.amazon.awssdk.services.s3.model.NoSuchKeyException;
import software.amazon.awssdk.services.s3.model.S3Exception;
import software.amazon.awssdk.services.s3.model.S3Object;

/**
 * An S3-compatible object store as a backup target. Each volume is a data object and a small
 * {@code .meta.json} object under {@code <prefix>/}; a delinked volume's metadata is renamed
 * {@code .delinked.json}. Keys do not name the domain, so a bucket prefix full of backups can be
 * attached as a new domain and its volumes imported. Data moves as streams: uploads are multipart with one reused
 * part buffer, downloads stream the object, so no volume is ever held in memory.
 */
public final class ObjectDriver implements StorageDriver {
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(ObjectDriver.class);
    public static final String NAME = "object";
    public static final String ENDPOINT = "endpoint";
    public static final String BUCKET = "bucket";
    public static final String REGION = "region";
    public static final String ACCESS_KEY = "access_key";
    public static final String SECRET_KEY = "secret_key";
    public static final String PATH_STYLE = "path_style";
    public static final String PREFIX = "prefix";
    public static final String PART_SIZE = "part_size";

    private static final ObjectMapper JSON = new ObjectMapper().disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);
    private static final String META = ".meta.json";
    private static final String DELINKED = ".delinked.json";

    /** Clients are costly to build and hold connection pools: one per distinct endpoint and key. */
    private final Map<List<String>, S3Client> clients = new ConcurrentHashMap<>();

    /**
     * What the metadata object holds.
     *
     * @param dataLength bytes of the data object; -1 for a raw volume never written, which reads as zeros
     */
    record ObjectMeta(String volumeId, String name, long virtualSize, VolumeFormat format, Allocation allocation, long dataLength) {
    }

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public Set<Capability> capabilities() {
        return Set.of(Capability.BACKUP_TARGET);
    }

    @Override
    public List<PropertyDescriptor> properties() {
        return List.of(
                PropertyDescriptor.required(ENDPOINT, PropertyType.URI, "S3 endpoint, e.g. https://s3.example.net:9000")
                        .withAllowed(List.of("http", "https")),
                PropertyDescriptor.required(BUCKET, PropertyType.STRING, "bucket that holds the domain's volumes (it must exist)")
                        .withPattern("[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]"),
                PropertyDescriptor.optional(REGION, PropertyType.STRING, "us-east-1", "region to sign requests for")
                        .withPattern("[a-z0-9-]{1,32}"),
                PropertyDescriptor.required(ACCESS_KEY, PropertyType.STRING, "access key id"),
                PropertyDescriptor.required(SECRET_KEY, PropertyType.SECRET, "secret access key (never shown or logged)"),
                PropertyDescriptor.optional(PATH_STYLE, PropertyType.BOOL, "true", "address the bucket in the path (most S3-compatible servers) rather than in the host name"),
                PropertyDescriptor.optional(PREFIX, PropertyType.STRING, "storagebus",
                                "key prefix under which the domain keeps its objects; one domain per bucket and prefix")
                        .withPattern("[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*"),
                PropertyDescriptor.optional(PART_SIZE, PropertyType.SIZE, "16M", "multipart upload part size: the memory one upload uses")
                        .withRange(5 * Sizes.MIB, 512 * Sizes.MIB));
    }

    @Override
    public List<PropertyViolation> validate(Map<String, String> properties) {
        DomainContext probe = new DomainContext("validation", withDefaults(properties));
        try {
            client(probe).headBucket(b -> b.bucket(probe.property(BUCKET)));
            return List.of();
        } catch (S3Exception e) {
            if (e.statusCode() == 404) {
                return List.of(new PropertyViolation(BUCKET, "NOT_FOUND", "bucket '" + probe.property(BUCKET) + "' does not exist"));
            }
            if (e.statusCode() == 403 || e.statusCode() == 401) {
                return List.of(new PropertyViolation(ACCESS_KEY, "ACCESS_DENIED", "the keys are not allowed to use bucket '"
                        + probe.property(BUCKET) + "' (HTTP " + e.statusCode() + ")"));
            }
            return List.of(new PropertyViolation(ENDPOINT, "S3_ERROR", "the endpoint answered HTTP " + e.statusCode()));
        } catch (SdkException e) {
            return List.of(new PropertyViolation(ENDPOINT, "UNREACHABLE", "cannot reach " + probe.property(ENDPOINT) + ": " + e.getMessage()));
        }
    }

    private Map<String, String> withDefaults(Map<String, String> properties) {
        Map<String, String> all = new java.util.HashMap<>(properties);
        for (PropertyDescriptor d : properties()) {
            if (d.defaultValue() != null) {
                all.putIfAbsent(d.name(), d.defaultValue());
            }
        }
        return all;
    }

    /** The domain's client; package-private so tests can put objects there as a stranger could. */
    S3Client client(DomainContext domain) {
        List<String> key = List.of(domain.property(ENDPOINT), domain.property(REGION, "us-east-1"), domain.property(ACCESS_KEY),
                domain.property(SECRET_KEY), domain.property(PATH_STYLE, "true"));
        return clients.computeIfAbsent(key, k -> S3Client.builder()
                .endpointOverride(URI.create(k.get(0)))
                .region(Region.of(k.get(1)))
                .credentialsProvider(StaticCredentialsProvider.create(AwsBasicCredentials.create(k.get(2), k.get(3))))
                .forcePathStyle(Boolean.parseBoolean(k.get(4)))
                // S3-compatible servers differ in the optional checksum headers they understand.
                .requestChecksumCalculation(RequestChecksumCalculation.WHEN_REQUIRED)
                .responseChecksumValidation(ResponseChecksumValidation.WHEN_REQUIRED)
                .httpClientBuilder(UrlConnectionHttpClient.builder()
                        .connectionTimeout(Duration.ofSeconds(10)).socketTimeout(Duration.ofMinutes(2)))
                .build());
    }

    private static String bucket(DomainContext domain) {
        return domain.property(BUCKET);
    }

    private static String key(DomainContext domain, String volumeId, String suffix) {
        return domain.property(PREFIX, "storagebus") + "/" + volumeId + suffix;
    }

    /** Endpoint, bucket and prefix: two domains on one prefix would see each other's volumes. */
    @Override
    public String storageId(Map<String, String> properties) {
        Map<String, String> all = withDefaults(properties);
        return URI.create(all.get(ENDPOINT)).normalize() + "/" + all.get(BUCKET) + "/" + all.get(PREFIX);
    }

    /**
     * Storage-side fencing in {@code <prefix>/_epoch}: a write whose epoch is below the recorded
     * one is refused; a newer epoch replaces the recorded one by a conditional PUT, If-Match the
     * ETag read (If-None-Match when there was none), so two terms racing cannot both record
     * theirs: the loser reads again and finds the winner's.
     */
    @Override
    public Fence fence() {
        return new Fence() {
            @Override
            public void advance(DomainContext domain) throws DriverException {
                for (int attempt = 0; ; attempt++) {
                    RecordedEpoch recorded = recordedEpoch(domain);
                    if (domain.epoch().isOlderThan(recorded.epoch())) {
                        throw new FencedException(domain.id(), domain.epoch(), recorded.epoch());
                    }
                    if (!recorded.epoch().isOlderThan(domain.epoch())) {
                        return;
                    }
                    try {
                        client(domain).putObject(b -> {
                            b.bucket(bucket(domain)).key(epochKey(domain));
                            if (recorded.etag() == null) {
                                b.ifNoneMatch("*");
                            } else {
                                b.ifMatch(recorded.etag());
                            }
                        }, RequestBody.fromString(Long.toString(domain.epoch().value())));
                        return;
                    } catch (S3Exception e) {
                        if ((e.statusCode() != 412 && e.statusCode() != 409) || attempt >= 10) {
                            throw s3Error("record the epoch", e);
                        }
                        // Another term recorded its epoch between our read and our write: read again.
                    } catch (SdkException e) {
                        throw s3Error("record the epoch", e);
                    }
                }
            }

            @Override
            public Epoch highest(DomainContext domain) throws DriverException {
                return recordedEpoch(domain).epoch();
            }
        };
    }

    /** The epoch recorded in the domain's {@code _epoch} object and its ETag; unfenced and no ETag when there is none. */
    private record RecordedEpoch(Epoch epoch, String etag) {
    }

    private RecordedEpoch recordedEpoch(DomainContext domain) throws DriverException {
        try {
            ResponseBytes<GetObjectResponse> object = client(domain).getObjectAsBytes(b -> b.bucket(bucket(domain)).key(epochKey(domain)));
            return new RecordedEpoch(Epoch.of(Long.parseUnsignedLong(object.asUtf8String().trim())), object.response().eTag());
        } catch (NoSuchKeyException e) {
            return new RecordedEpoch(Epoch.UNFENCED, null);
        } catch (SdkException | NumberFormatException e) {
            throw new DriverException(DriverException.Code.IO_ERROR, "cannot read the epoch of domain " + domain.id() + ": " + e.getMessage(), e);
        }
    }

    private static String epochKey(DomainContext domain) {
        return domain.property(PREFIX, "storagebus") + "/_epoch";
    }

    @Override
    public VolumeInfo create(DomainContext domain, VolumeSpec spec) throws DriverException {
        ObjectMeta existing = meta(domain, spec.volumeId(), META);
        if (existing != null) {
            if (existing.virtualSize() == spec.virtualSize() && existing.format() == spec.format() && existing.allocation() == spec.allocation()) {
                return toInfo(domain, existing);
            }
            throw new DriverException(DriverException.Code.CONFLICT, "volume " + spec.volumeId() + " exists with another spec");
        }
        if (meta(domain, spec.volumeId(), DELINKED) != null) {
            throw new DriverException(DriverException.Code.CONFLICT, "a delinked volume " + spec.volumeId() + " exists; restore or purge it first");
        }
        long dataLength = -1;
        if (spec.format() == VolumeFormat.QCOW2) {
            // An empty qcow2 image is a few hundred KiB of headers: make it locally and upload it.
            Path tmp = null;
            try {
                tmp = Files.createTempFile("sb-object-", ".qcow2");
                Files.delete(tmp);
                QemuImg.create(tmp, VolumeFormat.QCOW2, spec.virtualSize(), false);
                dataLength = Files.size(tmp);
                try (InputStream in = Files.newInputStream(tmp)) {
                    upload(domain, key(domain, spec.volumeId(), ".data"), in, dataLength);
                }
            } catch (IOException e) {
                throw new DriverException(DriverException.Code.IO_ERROR, "cannot prepare qcow2 image: " + e.getMessage(), e);
            } finally {
                if (tmp != null) {
                    tmp.toFile().delete();
                }
            }
        }
        ObjectMeta meta = new ObjectMeta(spec.volumeId(), spec.name(), spec.virtualSize(), spec.format(), spec.allocation(), dataLength);
        putMeta(domain, meta, META);
        return toInfo(domain, meta);
    }

    @Override
    public VolumeInfo info(DomainContext domain, VolumeUri volume) throws DriverException {
        return toInfo(domain, liveMeta(domain, volume));
    }

    private ObjectMeta liveMeta(DomainContext domain, VolumeUri volume) throws DriverException {
        ObjectMeta meta = meta(domain, volume.volumeId(), META);
        if (meta == null) {
            throw new DriverException(DriverException.Code.NOT_FOUND, "no volume " + volume + " in bucket " + bucket(domain));
        }
        return meta;
    }

    private VolumeInfo toInfo(DomainContext domain, ObjectMeta m) {
        long allocated = m.dataLength() >= 0 ? m.dataLength() : m.virtualSize();
        return new VolumeInfo(new VolumeUri(domain.id(), m.volumeId()), m.name(),
                "s3://" + bucket(domain) + "/" + key(domain, m.volumeId(), ".data"), m.virtualSize(), allocated,
                Math.max(0, m.dataLength()), m.format(), m.allocation());
    }

    @Override
    public InputStream read(DomainContext domain, VolumeUri volume) throws DriverException {
        ObjectMeta meta = liveMeta(domain, volume);
        if (meta.dataLength() < 0) {
            return new ZeroStream(meta.virtualSize());
        }
        try {
            return client(domain).getObject(b -> b.bucket(bucket(domain)).key(key(domain, meta.volumeId(), ".data")));
        } catch (SdkException e) {
            throw s3Error("read " + volume, e);
        }
    }

    @Override
    public void write(DomainContext domain, VolumeUri volume, InputStream data, long length) throws DriverException {
        ObjectMeta meta = liveMeta(domain, volume);
        upload(domain, key(domain, meta.volumeId(), ".data"), data, length);
        putMeta(domain, new ObjectMeta(meta.volumeId(), meta.name(), meta.virtualSize(), meta.format(), meta.allocation(), length), META);
    }

    /**
     * Streams {@code length} bytes to one object: a single PUT when it fits in one part, else a
     * multipart upload with one reused part buffer, aborted on any failure.
     */
    private void upload(DomainContext domain, String key, InputStream data, long length) throws DriverException {
        S3Client s3 = client(domain);
        String bucket = bucket(domain);
        int partSize = (int) Sizes.parse(domain.property(PART_SIZE, "16M"));
        byte[] buffer = new byte[(int) Math.min(partSize, Math.max(length, 1))];
        try {
            int first = readFully(data, buffer);
            if (first < buffer.length || first == length) {
                if (first != length) {
                    throw new DriverException(DriverException.Code.IO_ERROR, "stream ended after " + first + " of " + length + " bytes");
                }
                s3.putObject(b -> b.bucket(bucket).key(key).contentLength((long) first),
                        RequestBody.fromInputStream(new ByteArrayInputStream(buffer, 0, first), first));
                return;
            }
            String uploadId = s3.createMultipartUpload(b -> b.bucket(bucket).key(key)).uploadId();
            try {
                List<CompletedPart> parts = new ArrayList<>();
                long sent = 0;
                int n = first;
                while (n > 0) {
                    int partNumber = parts.size() + 1;
                    int size = n;
                    String etag = s3.uploadPart(b -> b.bucket(bucket).key(key).uploadId(uploadId).partNumber(partNumber).contentLength((long) size),
                            RequestBody.fromInputStream(new ByteArrayInputStream(buffer, 0, size), size)).eTag();
                    parts.add(CompletedPart.builder().partNumber(partNumber).eTag(etag).build());
                    sent += size;
                    n = sent < length ? readFully(data, buffer, (int) Math.min(buffer.length, length - sent)) : 0;
                }
                if (sent != length) {
                    throw new DriverException(DriverException.Code.IO_ERROR, "stream ended after " + sent + " of " + length + " bytes");
                }
                s3.completeMultipartUpload(b -> b.bucket(bucket).key(key).uploadId(uploadId)
                        .multipartUpload(CompletedMultipartUpload.builder().parts(parts).build()));
            } catch (DriverException | IOException | SdkException e) {
                try {
                    s3.abortMultipartUpload(b -> b.bucket(bucket).key(key).uploadId(uploadId));
                } catch (SdkException abort) {
                    e.addSuppressed(abort);
                }
                throw e;
            }
        } catch (IOException e) {
            throw new DriverException(DriverException.Code.IO_ERROR, "cannot read the data to upload: " + e.getMessage(), e);
        } catch (SdkException e) {
            throw s3Error("upload " + key, e);
        }
    }

    private static int readFully(InputStream in, byte[] buffer) throws IOException {
        return readFully(in, buffer, buffer.length);
    }

    private static int readFully(InputStream in, byte[] buffer, int want) throws IOException {
        int total = 0;
        while (total < want) {
            int n = in.read(buffer, total, want - total);
            if (n < 0) {
                break;
            }
            total += n;
        }
        return total;
    }

    @Override
    public void delink(DomainContext domain, VolumeUri volume) throws DriverException {
        ObjectMeta meta = liveMeta(domain, volume);
        putMeta(domain, meta, DELINKED);
        deleteObject(domain, key(domain, meta.volumeId(), META));
    }

    @Override
    public VolumeInfo restore(DomainContext domain, VolumeUri volume) throws DriverException {
        ObjectMeta meta = delinkedMeta(domain, volume);
        if (meta(domain, volume.volumeId(), META) != null) {
            throw new DriverException(DriverException.Code.CONFLICT, "a live volume " + volume + " exists already");
        }
        putMeta(domain, meta, META);
        deleteObject(domain, key(domain, meta.volumeId(), DELINKED));
        return toInfo(domain, meta);
    }

    @Override
    public void purge(DomainContext domain, VolumeUri volume) throws DriverException {
        ObjectMeta meta = delinkedMeta(domain, volume);
        deleteObject(domain, key(domain, meta.volumeId(), DELINKED));
        deleteObject(domain, key(domain, meta.volumeId(), ".data"));
    }

    private ObjectMeta delinkedMeta(DomainContext domain, VolumeUri volume) throws DriverException {
        ObjectMeta meta = meta(domain, volume.volumeId(), DELINKED);
        if (meta == null) {
            throw new DriverException(DriverException.Code.NOT_FOUND, "no delinked volume " + volume);
        }
        return meta;
    }

    /** Deleting is the wipe: the store gives no way to overwrite in place (versioned buckets keep old versions). */
    @Override
    public void destroy(DomainContext domain, VolumeUri volume, boolean wipe) throws DriverException {
        ObjectMeta meta = liveMeta(domain, volume);
        deleteObject(domain, key(domain, meta.volumeId(), META));
        deleteObject(domain, key(domain, meta.volumeId(), ".data"));
    }

    @Override
    public List<VolumeInfo> list(DomainContext domain) throws DriverException {
        return listBySuffix(domain, META);
    }

    @Override
    public List<VolumeInfo> listDelinked(DomainContext domain) throws DriverException {
        return listBySuffix(domain, DELINKED);
    }

    private List<VolumeInfo> listBySuffix(DomainContext domain, String suffix) throws DriverException {
        String prefix = key(domain, "", "");
        List<VolumeInfo> result = new ArrayList<>();
        try {
            for (S3Object object : client(domain).listObjectsV2Paginator(b -> b.bucket(bucket(domain)).prefix(prefix)).contents()) {
                String rest = object.key().substring(prefix.length());
                if (rest.endsWith(suffix) && !rest.contains("/")) {
                    ObjectMeta meta;
                    try {
                        meta = meta(domain, rest.substring(0, rest.length() - suffix.length()), suffix);
                    } catch (DriverException e) {
                        if (e.getCause() instanceof SdkException) {
                            throw e;
                        }
                        LOG.warn("{}: not a volume: {}", object.key(), e.getMessage());
                        continue;
                    }
                    if (meta != null) {
                        result.add(toInfo(domain, meta));
                    }
                }
            }
        } catch (SdkException e) {
            throw s3Error("list " + prefix, e);
        }
        return result;
    }

    private static String manifestPrefix(DomainContext domain) {
        return domain.property(PREFIX, "storagebus") + "/manifests/";
    }

    private static String manifestKey(DomainContext domain, String backupId) {
        return manifestPrefix(domain) + backupId + ".json";
    }

    @Override
    public void putManifest(DomainContext domain, String backupId, byte[] manifest) throws DriverException {
        try {
            client(domain).putObject(b -> b.bucket(bucket(domain)).key(manifestKey(domain, backupId)).contentType("application/json"),
                    RequestBody.fromBytes(manifest));
        } catch (SdkException e) {
            throw s3Error("write the manifest of backup " + backupId, e);
        }
    }

    @Override
    public java.util.Optional<byte[]> manifest(DomainContext domain, String backupId) throws DriverException {
        try {
            return java.util.Optional.of(client(domain).getObjectAsBytes(b -> b.bucket(bucket(domain)).key(manifestKey(domain, backupId)))
                    .asByteArray());
        } catch (NoSuchKeyException e) {
            return java.util.Optional.empty();
        } catch (SdkException e) {
            throw s3Error("read the manifest of backup " + backupId, e);
        }
    }

    @Override
    public List<String> manifests(DomainContext domain) throws DriverException {
        String prefix = manifestPrefix(domain);
        List<String> ids = new ArrayList<>();
        try {
            for (S3Object object : client(domain).listObjectsV2Paginator(b -> b.bucket(bucket(domain)).prefix(prefix)).contents()) {
                String rest = object.key().substring(prefix.length());
                if (rest.endsWith(".json") && !rest.contains("/")) {
                    ids.add(rest.substring(0, rest.length() - ".json".length()));
                }
            }
        } catch (SdkException e) {
            throw s3Error("list backup manifests", e);
        }
        return ids;
    }

    /** The manifest first, so the backup stops being listed before any of its data goes. */
    @Override
    public void deleteBackup(DomainContext domain, String backupId) throws DriverException {
        deleteObject(domain, manifestKey(domain, backupId));
        deleteObject(domain, key(domain, backupId, META));
        deleteObject(domain, key(domain, backupId, ".data"));
    }

    private ObjectMeta meta(DomainContext domain, String volumeId, String suffix) throws DriverException {
        try {
            byte[] json = client(domain).getObjectAsBytes(b -> b.bucket(bucket(domain)).key(key(domain, volumeId, suffix))).asByteArray();
            ObjectMeta meta = JSON.readValue(json, ObjectMeta.class);
            // Metadata in a bucket is input from a stranger (anyone with the bucket's keys): held to a REST request's rules.
            if (!volumeId.equals(meta.volumeId()) || !VolumeUri.ID.matcher(volumeId).matches() || !StoredMetadata.isName(meta.name())
                    || meta.virtualSize() <= 0 || meta.dataLength() < -1 || meta.format() == null || meta.allocation() == null) {
                throw new DriverException(DriverException.Code.IO_ERROR, "metadata of " + volumeId + " refused: it does not describe volume "
                        + volumeId + " (" + meta + ")");
            }
            return meta;
        } catch (NoSuchKeyException e) {
            return null;
        } catch (IOException e) {
            throw new DriverException(DriverException.Code.IO_ERROR, "unreadable metadata of " + volumeId + ": " + e.getMessage(), e);
        } catch (SdkException e) {
            throw s3Error("read metadata of " + volumeId, e);
        }
    }

    private void putMeta(DomainContext domain, ObjectMeta meta, String suffix) throws DriverException {
        try {
            byte[] json = JSON.writeValueAsBytes(meta);
            client(domain).putObject(b -> b.bucket(bucket(domain)).key(key(domain, meta.volumeId(), suffix)).contentType("application/json"),
                    RequestBody.fromBytes(json));
        } catch (IOException e) {
            throw new DriverException(DriverException.Code.IO_ERROR, "cannot encode metadata: " + e.getMessage(), e);
        } catch (SdkException e) {
            throw s3Error("write metadata of " + meta.volumeId(), e);
        }
    }

    private void deleteObject(DomainContext domain, String key) throws DriverException {
        try {
            client(domain).deleteObject(b -> b.bucket(bucket(domain)).key(key));
        } catch (SdkException e) {
            throw s3Error("delete " + key, e);
        }
    }

    private static DriverException s3Error(String what, SdkException e) {
        if (e instanceof S3Exception s3 && s3.statusCode() == 404) {
            return new DriverException(DriverException.Code.DOMAIN_UNAVAILABLE, "cannot " + what + ": the bucket is gone (HTTP 404)", e);
        }
        if (e instanceof SdkClientException) {
            return new DriverException(DriverException.Code.DOMAIN_UNAVAILABLE, "cannot " + what + ": the object store is unreachable: "
                    + e.getMessage(), e);
        }
        return new DriverException(DriverException.Code.IO_ERROR, "cannot " + what + ": " + e.getMessage(), e);
    }

    /** Zeros of a given length, without allocating them. */
    private static final class ZeroStream extends InputStream {
        private long left;

        ZeroStream(long length) {
            this.left = length;
        }

        @Override
        public int read() {
            if (left <= 0) {
                return -1;
            }
            left--;
            return 0;
        }

        @Override
        public int read(byte[] b, int off, int len) {
            if (left <= 0) {
                return -1;
            }
            int n = (int) Math.min(len, left);
            java.util.Arrays.fill(b, off, off + n, (byte) 0);
            left -= n;
            return n;
        }
    }
}
