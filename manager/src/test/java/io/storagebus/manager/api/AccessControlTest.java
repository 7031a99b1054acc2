package io.storagebus.manager.api;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.storagebus.manager.security.Role;
import io.vertx.core.http.HttpMethod;
import org.junit.jupiter.api.Test;

class AccessControlTest {
    @Test
    void readsNeedAViewerVolumeWorkAnOperatorTheRestAnAdmin() {
        assertEquals(Role.VIEWER, AccessControl.required(HttpMethod.GET, "/api/v1/domains"));
        assertEquals(Role.VIEWER, AccessControl.required(HttpMethod.GET, "/api/v1/pools/default/spm"));
        assertEquals(Role.OPERATOR, AccessControl.required(HttpMethod.POST, "/api/v1/domains/d1/volumes"));
        assertEquals(Role.OPERATOR, AccessControl.required(HttpMethod.POST, "/api/v1/volumes/v1/snapshots"));
        assertEquals(Role.OPERATOR, AccessControl.required(HttpMethod.DELETE, "/api/v1/volumes/v1"));
        assertEquals(Role.OPERATOR, AccessControl.required(HttpMethod.PUT, "/api/v1/volumes/v1/backup-policy"));
        assertEquals(Role.OPERATOR, AccessControl.required(HttpMethod.POST, "/api/v1/backups/b1/restore"));
        assertEquals(Role.OPERATOR, AccessControl.required(HttpMethod.POST, "/api/v1/domains/d1/maintenance"));
        assertEquals(Role.OPERATOR, AccessControl.required(HttpMethod.POST, "/api/v1/domains/d1/activate"));
        assertEquals(Role.OPERATOR, AccessControl.required(HttpMethod.POST, "/api/v1/volumes/v1/move"));
        assertEquals(Role.OPERATOR, AccessControl.required(HttpMethod.DELETE, "/api/v1/tasks/t1"));
        assertEquals(Role.ADMIN, AccessControl.required(HttpMethod.POST, "/api/v1/domains"));
        assertEquals(Role.ADMIN, AccessControl.required(HttpMethod.POST, "/api/v1/pools/default/spm/release"));
        assertEquals(Role.ADMIN, AccessControl.required(HttpMethod.POST, "/api/v1/domains/d1/volumes/../../domains"),
                "a path that is not exactly an operator's is an admin's");
        assertEquals(Role.ADMIN, AccessControl.required(HttpMethod.PATCH, "/api/v1/anything"));
    }
}
