package io.storagebus.bus;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

import io.storagebus.schema.CreateVolume;
import io.storagebus.schema.LayerChangeDone;
import io.storagebus.schema.RefreshVolume;
import org.junit.jupiter.api.Test;

/** The topic map is the one description of what goes where; docs/EVENTS.md's table must say the same. */
class TopicMapTest {
    private static final Pattern TYPE = Pattern.compile("`([A-Z][A-Za-z]+)`");

    @Test
    void everyMessageTypeIsOnSomeTopicAndNothingElseIs() {
        Set<Class<?>> released = Set.copyOf(MessageTypes.ALL);
        assertEquals(released, Set.copyOf(TopicMap.allTypes()), "MessageTypes.ALL and the topic map");
    }

    @Test
    void eventsMdListsTheRecordTypesOfEveryTopicAsTheMapDoes() throws Exception {
        String doc = Files.readString(Path.of("..", "docs", "EVENTS.md"));
        for (TopicMap.Topic topic : TopicMap.ALL) {
            String rowStart = "| `" + topic.name() + "` |";
            int at = doc.indexOf(rowStart);
            assertTrue(at >= 0, "docs/EVENTS.md has no row for " + topic.name());
            String row = doc.substring(at, doc.indexOf('\n', at));
            String typesCell = row.split("\\|")[3];
            Set<String> documented = new TreeSet<>();
            Matcher m = TYPE.matcher(typesCell);
            while (m.find()) {
                documented.add(m.group(1));
            }
            Set<String> mapped = topic.types().stream().map(Class::getSimpleName).collect(Collectors.toCollection(TreeSet::new));
            assertEquals(mapped, documented, "record types of " + topic.name() + " in docs/EVENTS.md");
        }
    }

    @Test
    void concreteTopicNamesFindTheirTemplate() {
        assertEquals(Optional.of(TopicMap.SPM_COMMANDS), TopicMap.of(Topics.spmCommands("east")));
        assertEquals(Optional.of(TopicMap.HOST_COMMANDS), TopicMap.of(Topics.hostCommands("host-1")));
        assertEquals(Optional.of(TopicMap.WATERMARKS), TopicMap.of(Topics.watermarks("east")));
        assertEquals(Optional.of(TopicMap.EVENTS), TopicMap.of(Topics.EVENTS));
        assertEquals(Optional.empty(), TopicMap.of("storagebus.host..commands"));
        assertEquals(Optional.empty(), TopicMap.of(Topics.DEAD_LETTER));
    }

    @Test
    void eachCommandSaysWhoMaySendIt() {
        assertEquals(Optional.of(TopicMap.Writer.MANAGER), TopicMap.SPM_COMMANDS.writerOf(CreateVolume.class));
        assertEquals(Optional.of(TopicMap.Writer.HOST), TopicMap.SPM_COMMANDS.writerOf(LayerChangeDone.class));
        assertEquals(Optional.of(TopicMap.Writer.HOST), TopicMap.HOST_COMMANDS.writerOf(RefreshVolume.class));
        assertFalse(TopicMap.HOST_COMMANDS.writerOf(CreateVolume.class).isPresent());
        assertTrue(TopicMap.Writer.HOST.issued("host:h1"));
        assertFalse(TopicMap.Writer.MANAGER.issued("host:h1"));
    }
}
