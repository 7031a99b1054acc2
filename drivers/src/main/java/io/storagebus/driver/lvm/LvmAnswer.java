package io.storagebus.driver.lvm;

import java.util.ArrayList;
import java.util.List;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.MissingNode;
import io.storagebus.driver.DriverException;
import io.storagebus.driver.support.Processes;

/**
 * What one lvm2 command answered under {@link LvmConfig#MACHINE_READABLE}: one JSON document with
 * its report and its command log. Whether it succeeded is the shell's own status entry in the log
 * (log context {@code shell}, object type {@code cmd}) or, for a command run as a process, its exit
 * code; the log's errors say why it failed.
 */
record LvmAnswer(String command, JsonNode document, int exitCode, String stderr) {
    private static final ObjectMapper JSON = new ObjectMapper();

    /** The answer of a command run as its own process: its output is the document, its exit code the outcome. */
    static LvmAnswer ofProcess(String command, Processes.Result result) throws DriverException {
        String out = result.stdout().trim();
        JsonNode document;
        try {
            document = out.isEmpty() ? MissingNode.getInstance() : JSON.readTree(out);
        } catch (java.io.IOException e) {
            if (result.exitCode() != 0) {
                throw Processes.failed(command, result.exitCode(), result.stderr().isEmpty() ? out : result.stderr());
            }
            throw new DriverException(DriverException.Code.IO_ERROR, "unexpected " + command + " output: " + e.getMessage(), e);
        }
        return new LvmAnswer(command, document, result.exitCode(), result.stderr());
    }

    /** The answer the shell framed: the outcome is the last status entry of the shell's own context. */
    static LvmAnswer ofShell(String command, JsonNode document, String stderr) throws DriverException {
        JsonNode outcome = null;
        for (JsonNode entry : document.path("log")) {
            if ("shell".equals(entry.path("log_context").asText()) && "cmd".equals(entry.path("log_object_type").asText())
                    && "status".equals(entry.path("log_type").asText())) {
                outcome = entry;
            }
        }
        if (outcome == null) {
            throw new DriverException(DriverException.Code.IO_ERROR, "the lvm shell's answer to " + command + " has no outcome: " + document);
        }
        boolean success = "success".equals(outcome.path("log_message").asText());
        int retCode = outcome.path("log_ret_code").asInt(-1);
        // lvm2's ECMD_PROCESSED is 1 and is what a process exits with as 0.
        return new LvmAnswer(command, document, success ? 0 : (retCode > 1 ? retCode : 5), stderr);
    }

    /** The document, when the command succeeded; its errors (or standard error) as a {@link DriverException} when not. */
    JsonNode orThrow() throws DriverException {
        if (exitCode == 0) {
            return document;
        }
        List<String> errors = new ArrayList<>();
        for (JsonNode entry : document.path("log")) {
            if ("error".equals(entry.path("log_type").asText())) {
                errors.add(entry.path("log_message").asText());
            }
        }
        // Some errors (an unknown option) lvm2 writes to standard error only.
        String said = stderr.replaceAll("\\s*WARNING: Activation disabled[^\\n]*", "").trim();
        String logged = String.join("; ", errors);
        throw Processes.failed(command, exitCode, said.isEmpty() || logged.contains(said) ? logged
                : logged.isEmpty() ? said : logged + " (" + said.replace('\n', ' ') + ")");
    }

    /** The rows of the report's {@code kind} section ({@code lv}, {@code vg}), none when it has none. */
    static List<JsonNode> rows(JsonNode document, String kind) {
        List<JsonNode> rows = new ArrayList<>();
        for (JsonNode report : document.path("report")) {
            report.path(kind).forEach(rows::add);
        }
        return rows;
    }
}
