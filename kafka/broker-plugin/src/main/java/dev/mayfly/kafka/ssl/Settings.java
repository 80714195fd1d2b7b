// Reading SvidSslEngineFactory's settings as Kafka passes them: raw strings
// or parsed lists, each trimmed; a missing required one is a ConfigException
// that names it and the class that needs it.
package dev.mayfly.kafka.ssl;

import org.apache.kafka.common.config.ConfigException;

import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

final class Settings {
    private Settings() {}

    static String required(Map<String, ?> configs, String name) {
        return required(configs, name, null);
    }

    static String required(Map<String, ?> configs, String name, String why) {
        String v = optional(configs, name);
        if (v == null || v.isEmpty()) {
            throw new ConfigException(
                    name,
                    v,
                    "is required by "
                            + SvidSslEngineFactory.class.getName()
                            + (why == null ? "" : ": " + why));
        }
        return v;
    }

    static String optional(Map<String, ?> configs, String name) {
        Object v = configs.get(name);
        return v == null ? null : v.toString().trim();
    }

    // A list setting as Kafka passes it (parsed List, or a raw comma string);
    // null when unset or empty.
    static String[] list(Object value) {
        Set<String> items = new LinkedHashSet<>();
        if (value instanceof List) {
            for (Object o : (List<?>) value) {
                items.addAll(split(String.valueOf(o)));
            }
        } else if (value != null) {
            items.addAll(split(value.toString()));
        }
        return items.isEmpty() ? null : items.toArray(new String[0]);
    }

    static Set<String> split(String value) {
        Set<String> out = new LinkedHashSet<>();
        if (value != null) {
            Arrays.stream(value.split(","))
                    .map(String::trim)
                    .filter(s -> !s.isEmpty())
                    .forEach(out::add);
        }
        return out;
    }
}
