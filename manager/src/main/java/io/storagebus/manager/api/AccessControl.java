package io.storagebus.manager.api;

import java.util.Locale;
import java.util.regex.Pattern;

import io.storagebus.manager.security.ApiTokens;
import io.storagebus.manager.security.TokensFile;
import io.storagebus.manager.security.Role;
import io.vertx.core.http.HttpMethod;
import io.vertx.ext.web.RoutingContext;

/**
 * Who may call what. Every {@code /api} request carries {@code Authorization: Bearer <token>};
 * reads need a viewer, work on volumes, backups and maintenance an operator, everything else
 * (domains, the SPM role) an admin. A standby checks the token too, before it points the
 * client at the active manager. Without tokens (an explicit choice in the configuration) every
 * request is let through.
 */
final class AccessControl {
    /** Where a request's principal is kept, for the records it causes. */
    static final String PRINCIPAL = "principal";
    private static final String BEARER = "Bearer ";
    /** Writes an operator may make: volumes and what hangs off them, backups, a domain's maintenance and its volumes. */
    private static final Pattern OPERATOR_WRITES = Pattern.compile(
            "/api/v1/(volumes/.+|trash/.+|backups/.+|tasks/.+|transfers/.+|domains/[^/]+/(volumes|maintenance|activate))");
    /** A transfer's URL lets its holder write a volume: reading it is an operator's. */
    private static final Pattern OPERATOR_READS = Pattern.compile("/api/v1/transfers/.+");

    private final TokensFile tokens;

    AccessControl(TokensFile tokens) {
        this.tokens = tokens;
    }

    void handle(RoutingContext ctx) {
        if (tokens == null) {
            ctx.next();
            return;
        }
        String header = ctx.request().getHeader("Authorization");
        if (header == null || !header.regionMatches(true, 0, BEARER, 0, BEARER.length())) {
            throw ApiError.unauthenticated("this API needs a token: send 'Authorization: Bearer <token>' (the CLI: --token or $STORAGEBUS_TOKEN)");
        }
        ApiTokens.Principal principal = tokens.authenticate(header.substring(BEARER.length()).strip())
                .orElseThrow(() -> ApiError.unauthenticated("the token is not valid"));
        Role required = required(ctx.request().method(), ctx.normalizedPath());
        if (!principal.role().allows(required)) {
            String role = required.name().toLowerCase(Locale.ROOT);
            throw ApiError.forbidden("token '" + principal.name() + "' is " + withArticle(principal.role()) + "; "
                    + ctx.request().method() + " " + ctx.normalizedPath() + " needs " + withArticle(required), role);
        }
        ctx.put(PRINCIPAL, principal);
        ctx.next();
    }

    /** "an admin", "an operator", "a viewer". */
    private static String withArticle(Role role) {
        String name = role.name().toLowerCase(Locale.ROOT);
        return ("aeiou".indexOf(name.charAt(0)) >= 0 ? "an " : "a ") + name;
    }

    static Role required(HttpMethod method, String path) {
        if (method == HttpMethod.GET || method == HttpMethod.HEAD) {
            return OPERATOR_READS.matcher(path).matches() ? Role.OPERATOR : Role.VIEWER;
        }
        return OPERATOR_WRITES.matcher(path).matches() ? Role.OPERATOR : Role.ADMIN;
    }
}
