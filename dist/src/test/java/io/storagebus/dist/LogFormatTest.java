package io.storagebus.dist;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.joran.JoranConfigurator;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.classic.spi.LoggingEvent;
import ch.qos.logback.core.OutputStreamAppender;
import org.junit.jupiter.api.Test;

/** The product's text log: what a client sent (a maintenance reason) cannot start a log line of its own. */
class LogFormatTest {

    @Test
    void aLineBreakInAMessageIsWrittenEscaped() throws Exception {
        LoggerContext context = new LoggerContext();
        context.setMDCAdapter(new ch.qos.logback.classic.util.LogbackMDCAdapter());
        try {
            JoranConfigurator configurator = new JoranConfigurator();
            configurator.setContext(context);
            configurator.doConfigure(LogFormatTest.class.getResource("/logback.xml"));
            Logger logger = context.getLogger("io.storagebus.test");
            OutputStreamAppender<ILoggingEvent> text = (OutputStreamAppender<ILoggingEvent>) context.getLogger(Logger.ROOT_LOGGER_NAME)
                    .getAppender("text");
            LoggingEvent event = new LoggingEvent(Logger.class.getName(), logger, Level.INFO, "maintenance requested ({})", null,
                    new Object[] {"fine\r\n00:00:00.000 ERROR [main] forged - pwned"});
            String line = new String(text.getEncoder().encode(event), StandardCharsets.UTF_8);
            assertEquals(1, line.lines().count(), line);
            assertTrue(line.contains("(fine\\n\\n00:00:00.000 ERROR [main] forged - pwned)"), line);
        } finally {
            context.stop();
        }
    }
}
